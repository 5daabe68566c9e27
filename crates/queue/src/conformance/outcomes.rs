//! Conformance cases for how jobs end: transient failures with backoff, permanent
//! failures, cancellation (queued, running, finished), retry of dead letters, and the
//! expiry of a succeeded job's artifacts.

use std::time::Duration;

use serde_json::json;

use super::{Fixture, noop};
use crate::error::QueueError;
use crate::model::{Artifact, Control, JobFailure, JobOutput, JobState, NewJob, Progress};

fn failure(code: &str, step: Option<&str>, retryable: bool) -> JobFailure {
    JobFailure {
        code: code.into(),
        message: format!("{code} happened"),
        step: step.map(String::from),
        retryable,
        // Not stored: a failure read back says false.
        server_fault: false,
    }
}

fn invalid_state<T: std::fmt::Debug>(got: Result<T, QueueError>, state: JobState) {
    assert!(
        matches!(got, Err(QueueError::InvalidState(s)) if s == state),
        "expected InvalidState({state}), got {got:?}"
    );
}

/// Transient failures re-queue with growing, jittered backoff until the last attempt,
/// which fails the job.
pub async fn transient_failure_backs_off(f: Fixture) {
    let policy = f.config.retry;
    let job = f.enqueue(NewJob { max_attempts: 4, ..noop("t1") }).await;
    let mut last_delay = Duration::ZERO;
    for attempt in 1..=3 {
        let claimed = f.claim_one("default").await;
        assert_eq!(claimed.job.attempt, attempt);
        let now = f.clock().now();
        let failed = f.engine.fail(&claimed.lease, failure("io", Some("fetch"), true)).await.unwrap();
        assert_eq!((failed.state, failed.attempt), (JobState::Queued, attempt));
        assert!(failed.lease_owner.is_none() && failed.finished_at.is_none());
        assert_eq!(failed.error, Some(failure("io", Some("fetch"), true)));
        let delay = (failed.run_at - now).to_std().expect("run_at in the future");
        let window = policy.delay(attempt, 0.0)..=policy.delay(attempt, 1.0);
        assert!(window.contains(&delay), "attempt {attempt}: {delay:?} outside {window:?}");
        assert!(delay > last_delay, "attempt {attempt}: {delay:?} after {last_delay:?}");
        last_delay = delay;

        assert!(f.claim(&["default"], 1).await.is_empty(), "waits for its backoff");
        f.advance(delay);
    }
    let claimed = f.claim_one("default").await;
    assert_eq!(claimed.job.attempt, 4);
    let failed = f.engine.fail(&claimed.lease, failure("io", None, true)).await.unwrap();
    assert_eq!((failed.state, failed.attempt), (JobState::Failed, 4));
    assert_eq!(failed.finished_at, Some(f.clock().now()));
    assert_eq!(failed.error.map(|e| e.code), Some("io".to_string()));
    assert_eq!(f.job(&job).await.state, JobState::Failed);
    assert!(f.claim(&["default"], 1).await.is_empty());
}

/// A permanent failure fails at once, keeping code, message and step.
pub async fn permanent_failure(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let claimed = f.claim_one("default").await;
    let why = failure("unsupported_format", Some("decode"), false);
    let failed = f.engine.fail(&claimed.lease, why.clone()).await.unwrap();
    assert_eq!((failed.state, failed.attempt), (JobState::Failed, 1));
    assert_eq!(failed.error, Some(why));
    assert_eq!(failed.step.as_deref(), Some("decode"));
    assert_eq!(failed.finished_at, Some(f.clock().now()));
    assert_eq!(f.job(&job).await, failed);
    assert!(f.claim(&["default"], 1).await.is_empty());
}

/// A queued job is cancelled at once and never claimed; cancelling again is a no-op.
pub async fn cancel_queued(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    assert!(matches!(f.engine.cancel(Some("t2"), &job.id).await, Err(QueueError::NotFound)));
    let cancelled = f.engine.cancel(Some("t1"), &job.id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(cancelled.finished_at, Some(f.clock().now()));
    assert!(f.claim(&["default"], 1).await.is_empty());
    f.advance(Duration::from_secs(1));
    assert_eq!(f.engine.cancel(None, &job.id).await.unwrap(), cancelled, "unchanged");
    let missing = crate::model::JobId::new();
    assert!(matches!(f.engine.cancel(None, &missing).await, Err(QueueError::NotFound)));
}

/// A running job is flagged; heartbeat and progress tell it to stop; it ends cancelled.
pub async fn cancel_running(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let lease = f.claim_one("default").await.lease;
    let flagged = f.engine.cancel(Some("t1"), &job.id).await.unwrap();
    assert_eq!((flagged.state, flagged.cancel_requested), (JobState::Running, true));
    assert_eq!(f.engine.heartbeat(&lease, Duration::from_secs(30)).await.unwrap(), Control::Cancel);
    let control = f.engine.progress(&lease, Progress { progress: 0.5, ..Default::default() }).await;
    assert_eq!(control.unwrap(), Control::Cancel);
    let done = f.engine.finish_cancelled(&lease).await.unwrap();
    assert_eq!(done.state, JobState::Cancelled);
    assert_eq!(done.finished_at, Some(f.clock().now()));
    assert!(done.lease_owner.is_none());
    assert!(matches!(f.engine.heartbeat(&lease, Duration::from_secs(1)).await, Err(QueueError::LeaseLost)));
}

/// Succeeded and failed jobs cannot be cancelled.
pub async fn cancel_finished(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let lease = f.claim_one("default").await.lease;
    f.engine.complete(&lease, JobOutput::default()).await.unwrap();
    invalid_state(f.engine.cancel(Some("t1"), &job.id).await, JobState::Succeeded);

    let job = f.enqueue(noop("t1")).await;
    let lease = f.claim_one("default").await.lease;
    f.engine.fail(&lease, failure("bad_input", None, false)).await.unwrap();
    invalid_state(f.engine.cancel(None, &job.id).await, JobState::Failed);
}

/// A failed (or cancelled) job retried is queued afresh and claimable; others refuse.
pub async fn retry_failed(f: Fixture) {
    let job = f.enqueue(NewJob { max_attempts: 1, ..noop("t1") }).await;
    let lease = f.claim_one("default").await.lease;
    f.engine.fail(&lease, failure("io", Some("fetch"), true)).await.unwrap();
    assert_eq!(f.job(&job).await.state, JobState::Failed, "out of attempts");
    assert!(matches!(f.engine.retry(Some("t2"), &job.id, &Default::default()).await, Err(QueueError::NotFound)));

    f.advance(Duration::from_secs(60));
    let retried = f.engine.retry(Some("t1"), &job.id, &Default::default()).await.unwrap();
    assert_eq!((retried.state, retried.attempt), (JobState::Queued, 0));
    assert_eq!((retried.error, retried.finished_at), (None, None));
    assert!(!retried.cancel_requested);
    assert_eq!(retried.run_at, f.clock().now());
    invalid_state(f.engine.retry(None, &job.id, &Default::default()).await, JobState::Queued);
    let claimed = f.claim_one("default").await;
    assert_eq!((claimed.job.id.clone(), claimed.job.attempt), (job.id.clone(), 1));
    invalid_state(f.engine.retry(None, &job.id, &Default::default()).await, JobState::Running);

    let other = f.enqueue(noop("t1")).await;
    f.engine.cancel(None, &other.id).await.unwrap();
    assert_eq!(f.engine.retry(None, &other.id, &Default::default()).await.unwrap().state, JobState::Queued);
}

/// Completing stores the output; artifacts come due after the TTL (the job's own, or
/// the engine's), and `mark_expired` moves only succeeded jobs to `expired`.
pub async fn artifacts_expire(f: Fixture) {
    let ttl = f.config.artifact_ttl;
    let job = f.enqueue(noop("t1")).await;
    let short = f.enqueue(NewJob { artifact_ttl: Some(Duration::from_secs(60)), ..noop("t1") }).await;
    let output = JobOutput {
        artifacts: vec![Artifact {
            name: "print.jpg".into(),
            key: format!("jobs/{}/print.jpg", job.id),
            bytes: 1234,
            sha256: "ab".repeat(32),
            content_type: "image/jpeg".into(),
        }],
        result: json!({ "quality": 82 }),
    };
    let now = f.clock().now();
    for claimed in f.claim(&["default"], 2).await {
        let done = f.engine.complete(&claimed.lease, output.clone()).await.unwrap();
        assert_eq!((done.state, done.progress), (JobState::Succeeded, 1.0));
        assert_eq!((done.output.as_ref(), done.finished_at), (Some(&output), Some(now)));
        assert!(done.lease_owner.is_none());
    }
    let at = |d: Duration| now + chrono::Duration::from_std(d).unwrap();
    assert_eq!(f.job(&job).await.artifacts_expire_at, Some(at(ttl)));
    assert_eq!(f.job(&short).await.artifacts_expire_at, Some(at(Duration::from_secs(60))));

    let due = |t| f.engine.due_for_expiry(t, 10);
    assert!(due(f.clock().now()).await.unwrap().is_empty());
    let ids = |jobs: Vec<crate::model::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(due(at(Duration::from_secs(61))).await.unwrap()), vec![short.id.clone()]);
    let both = ids(due(at(ttl + Duration::from_secs(1))).await.unwrap());
    assert_eq!(both, vec![short.id.clone(), job.id.clone()], "oldest expiry first");
    assert_eq!(f.engine.due_for_expiry(at(ttl * 2), 1).await.unwrap().len(), 1, "limit");

    let expired = f.engine.mark_expired(&short.id).await.unwrap();
    assert_eq!(expired.state, JobState::Expired);
    assert_eq!(ids(due(at(ttl * 2)).await.unwrap()), vec![job.id.clone()]);
    invalid_state(f.engine.mark_expired(&short.id).await, JobState::Expired);
    let queued = f.enqueue(noop("t1")).await;
    invalid_state(f.engine.mark_expired(&queued.id).await, JobState::Queued);
    let missing = crate::model::JobId::new();
    assert!(matches!(f.engine.mark_expired(&missing).await, Err(QueueError::NotFound)));
}
