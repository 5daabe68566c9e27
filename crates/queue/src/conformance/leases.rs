//! Conformance cases for leases: fencing by token, heartbeats, progress writes, rescue of
//! expired leases (including concurrent sweepers) and release.

use std::time::Duration;

use super::{Fixture, LEASE, noop};
use crate::error::QueueError;
use crate::model::{Control, Job, JobFailure, JobOutput, JobState, Lease, NewJob, Progress};

fn lease_lost<T: std::fmt::Debug>(what: &str, got: Result<T, QueueError>) {
    assert!(matches!(got, Err(QueueError::LeaseLost)), "{what}: expected LeaseLost, got {got:?}");
}

fn transient() -> JobFailure {
    JobFailure { code: "io".into(), message: "disk hiccup".into(), step: None, retryable: true, server_fault: true }
}

/// After rescue and a new claim, the first worker's token is refused by every fenced
/// write and cannot overwrite the second worker's outcome.
pub async fn stale_lease_refused(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let first = f.claim_one("default").await.lease;
    f.advance(LEASE + Duration::from_secs(1));
    assert_eq!(f.engine.rescue_expired(f.clock().now()).await.unwrap(), vec![job.id.clone()]);
    let second = f.claim_one("default").await;
    assert_eq!(second.job.attempt, 2);
    assert_ne!(second.lease.token, first.token);

    let stale = &first;
    lease_lost("heartbeat", f.engine.heartbeat(stale, LEASE).await);
    lease_lost("progress", f.engine.progress(stale, Progress::default()).await);
    lease_lost("complete", f.engine.complete(stale, JobOutput::default()).await);
    lease_lost("fail", f.engine.fail(stale, transient()).await);
    lease_lost("finish_cancelled", f.engine.finish_cancelled(stale).await);
    lease_lost("release", f.engine.release(stale).await);
    let forged = Lease { job_id: job.id.clone(), token: "forged".into() };
    lease_lost("forged token", f.engine.heartbeat(&forged, LEASE).await);
    assert_eq!(f.job(&job).await, second.job, "stale writes changed nothing");

    let output = JobOutput { result: serde_json::json!({ "by": "second" }), ..Default::default() };
    let done = f.engine.complete(&second.lease, output.clone()).await.expect("complete");
    assert_eq!(done.state, JobState::Succeeded);
    lease_lost("complete after success", f.engine.complete(stale, JobOutput::default()).await);
    lease_lost("second complete", f.engine.complete(&second.lease, JobOutput::default()).await);
    let stored = f.job(&job).await;
    assert_eq!((stored.state, stored.output), (JobState::Succeeded, Some(output)));
}

/// A heartbeat moves the lease expiry, and rescue honours the new one.
pub async fn heartbeat_extends_lease(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let lease = f.claim_one("default").await.lease;
    f.advance(Duration::from_secs(25));
    let extend = Duration::from_secs(30);
    assert_eq!(f.engine.heartbeat(&lease, extend).await.unwrap(), Control::Continue);
    let expires = f.clock().now() + chrono::Duration::from_std(extend).unwrap();
    assert_eq!(f.job(&job).await.lease_expires_at, Some(expires));

    f.advance(Duration::from_secs(29));
    assert!(f.engine.rescue_expired(f.clock().now()).await.unwrap().is_empty(), "lease still held");
    assert_eq!(f.engine.heartbeat(&lease, extend).await.unwrap(), Control::Continue);
    f.advance(Duration::from_secs(31));
    assert_eq!(f.engine.rescue_expired(f.clock().now()).await.unwrap(), vec![job.id]);
}

/// Progress is stored; a report without a step keeps the current step.
pub async fn progress_keeps_step(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let lease = f.claim_one("default").await.lease;
    let report = |step: Option<&str>, progress: f64, message: Option<&str>| Progress {
        step: step.map(String::from),
        progress,
        message: message.map(String::from),
    };
    let control = f.engine.progress(&lease, report(Some("decode"), 0.25, Some("reading"))).await;
    assert_eq!(control.unwrap(), Control::Continue);
    let stored = f.job(&job).await;
    assert_eq!((stored.step.as_deref(), stored.progress), (Some("decode"), 0.25));
    assert_eq!(stored.message.as_deref(), Some("reading"));

    f.engine.progress(&lease, report(None, 0.5, Some("half"))).await.unwrap();
    let stored = f.job(&job).await;
    assert_eq!((stored.step.as_deref(), stored.progress), (Some("decode"), 0.5));
    assert_eq!(stored.message.as_deref(), Some("half"));

    f.engine.progress(&lease, report(Some("encode"), 0.75, None)).await.unwrap();
    assert_eq!(f.job(&job).await.step.as_deref(), Some("encode"));

    // Overlong step and message are cut at a character boundary, not refused.
    let long = "é".repeat(crate::MAX_MESSAGE_CHARS + 10);
    f.engine.progress(&lease, report(Some(&long), 2.0, Some(&long))).await.unwrap();
    let stored = f.job(&job).await;
    assert_eq!(stored.message.as_deref(), Some("é".repeat(crate::MAX_MESSAGE_CHARS).as_str()));
    assert_eq!(stored.step.as_deref(), Some("é".repeat(crate::MAX_STEP_CHARS).as_str()));
    assert_eq!(stored.progress, 1.0);
}

/// An expired lease returns its job to the queue (once, whatever the number of
/// sweepers), with a retryable `lease_expired` error, ready to claim again.
pub async fn rescue_requeues(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let claimed = f.claim_one("default").await;
    f.engine.progress(&claimed.lease, Progress { step: Some("resize".into()), ..Default::default() }).await.unwrap();
    f.advance(LEASE);
    assert!(f.engine.rescue_expired(f.clock().now()).await.unwrap().is_empty(), "expires after, not at");
    f.advance(Duration::from_millis(1));
    let now = f.clock().now();

    let (a, b) = tokio::join!(f.engine.rescue_expired(now), f.engine.rescue_expired(now));
    let mut rescued = a.unwrap();
    rescued.extend(b.unwrap());
    assert_eq!(rescued, vec![job.id.clone()], "rescued exactly once");

    let stored = f.job(&job).await;
    assert_eq!((stored.state, stored.attempt, stored.run_at), (JobState::Queued, 1, now));
    assert!(stored.lease_owner.is_none() && stored.lease_expires_at.is_none());
    let error = stored.error.expect("error recorded");
    assert_eq!((error.code.as_str(), error.retryable), ("lease_expired", true));
    assert_eq!(error.step.as_deref(), Some("resize"));
    assert_eq!(f.claim_one("default").await.job.attempt, 2);
}

/// An expired lease on a job whose cancel was requested ends it `cancelled`.
pub async fn rescue_cancel_requested(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    f.claim_one("default").await;
    f.engine.cancel(Some("t1"), &job.id).await.unwrap();
    f.advance(LEASE + Duration::from_secs(1));
    assert_eq!(f.engine.rescue_expired(f.clock().now()).await.unwrap(), vec![job.id.clone()]);
    let stored = f.job(&job).await;
    assert_eq!(stored.state, JobState::Cancelled);
    assert_eq!(stored.finished_at, Some(f.clock().now()));
    assert!(f.claim(&["default"], 1).await.is_empty());
}

/// An expired lease on the last attempt fails the job for good.
pub async fn rescue_last_attempt(f: Fixture) {
    let job = f.enqueue(NewJob { max_attempts: 1, ..noop("t1") }).await;
    f.claim_one("default").await;
    f.advance(LEASE + Duration::from_secs(1));
    assert_eq!(f.engine.rescue_expired(f.clock().now()).await.unwrap(), vec![job.id.clone()]);
    let stored = f.job(&job).await;
    assert_eq!(stored.state, JobState::Failed);
    assert_eq!(stored.finished_at, Some(f.clock().now()));
    let error = stored.error.expect("error recorded");
    assert_eq!((error.code.as_str(), error.retryable), ("lease_expired", false));
    assert!(f.claim(&["default"], 1).await.is_empty());
}

/// Releasing hands the job back without spending an attempt.
pub async fn release_gives_attempt_back(f: Fixture) {
    let job = f.enqueue(noop("t1")).await;
    let claimed = f.claim_one("default").await;
    assert_eq!(claimed.job.attempt, 1);
    let released: Job = f.engine.release(&claimed.lease).await.expect("release");
    assert_eq!((released.state, released.attempt), (JobState::Queued, 0));
    assert!(released.lease_owner.is_none() && released.lease_expires_at.is_none());
    assert_eq!(released.run_at, job.run_at, "keeps its place in the queue");
    lease_lost("release twice", f.engine.release(&claimed.lease).await);
    let again = f.claim_one("default").await;
    assert_eq!((again.job.id, again.job.attempt), (job.id, 1));
}
