//! Conformance cases for enqueueing and claiming: the stored row round-trips, idempotency
//! keys, claim order, queue filtering, schedules, batch limits, concurrent claimers and
//! concurrent writers.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use super::{Fixture, LEASE, in_queue, noop};
use crate::error::QueueError;
use crate::model::{JobId, JobOutput, JobState, NewJob};

/// Every field of a new job is stored and read back; `get` is tenant-scoped.
pub async fn enqueue_get_roundtrip(f: Fixture) {
    let now = f.clock().now();
    let new = NewJob {
        queue: "high".into(),
        priority: 7,
        max_attempts: 5,
        idempotency_key: Some("k1".into()),
        correlation_id: Some("req-1".into()),
        artifact_ttl: Some(Duration::from_secs(60)),
        ..NewJob::new("t1", "print", json!({ "upload": "upl_1", "sizes": [1, 2.5, "x"] }))
    };
    let done = f.engine.enqueue(new.clone()).await.expect("enqueue");
    assert!(done.created);
    let job = done.job;
    assert!(job.id.as_str().starts_with("job_"), "id {}", job.id);
    assert_eq!((job.tenant.as_str(), job.kind.as_str(), job.queue.as_str(), job.priority), ("t1", "print", "high", 7));
    assert_eq!((job.state, job.attempt, job.max_attempts), (JobState::Queued, 0, 5));
    assert_eq!((job.run_at, job.created_at, job.updated_at), (now, now, now));
    assert_eq!(job.input, new.input);
    assert_eq!(job.idempotency_key.as_deref(), Some("k1"));
    assert_eq!(job.correlation_id.as_deref(), Some("req-1"));
    assert_eq!((job.step.as_deref(), job.progress, job.message.as_deref()), (None, 0.0, None));
    assert!(job.lease_owner.is_none() && job.lease_expires_at.is_none() && !job.cancel_requested);
    assert!(job.output.is_none() && job.error.is_none());
    assert!(job.started_at.is_none() && job.finished_at.is_none() && job.artifacts_expire_at.is_none());

    assert_eq!(f.engine.get(Some("t1"), &job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(f.engine.get(None, &job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(f.engine.get(Some("t2"), &job.id).await.unwrap(), None);
    assert_eq!(f.engine.get(None, &JobId::new()).await.unwrap(), None);

    let later = now + chrono::Duration::seconds(90);
    let scheduled = f.enqueue(NewJob { run_at: Some(later), ..noop("t1") }).await;
    assert_eq!(scheduled.run_at, later);
    assert_ne!(scheduled.id, job.id);
}

/// Empty kind or queue and fewer than one attempt are refused.
pub async fn enqueue_validates(f: Fixture) {
    let cases = [
        NewJob { kind: String::new(), ..noop("t1") },
        NewJob { queue: String::new(), ..noop("t1") },
        NewJob { max_attempts: 0, ..noop("t1") },
        NewJob { queue: "q".repeat(crate::MAX_NAME_BYTES + 1), ..noop("t1") },
        noop(&"t".repeat(crate::MAX_NAME_BYTES + 1)),
    ];
    for new in cases {
        let got = f.engine.enqueue(new.clone()).await;
        assert!(matches!(got, Err(QueueError::Invalid(_))), "{new:?}: {got:?}");
    }
}

/// Same key and body: the same job; different body: conflict; other tenant: its own job.
pub async fn idempotency(f: Fixture) {
    let keyed = |tenant: &str, n: i32| NewJob {
        idempotency_key: Some("key-1".into()),
        ..NewJob::new(tenant, "noop", json!({ "n": n }))
    };
    let first = f.enqueue(keyed("t1", 1)).await;

    f.advance(Duration::from_secs(5));
    let again = f.engine.enqueue(keyed("t1", 1)).await.expect("same request");
    assert!(!again.created);
    assert_eq!(again.job, first);

    let conflict = f.engine.enqueue(keyed("t1", 2)).await;
    assert!(matches!(conflict, Err(QueueError::IdempotencyConflict)), "{conflict:?}");
    let other_queue = f.engine.enqueue(NewJob { queue: "low".into(), ..keyed("t1", 1) }).await;
    assert!(matches!(other_queue, Err(QueueError::IdempotencyConflict)), "{other_queue:?}");

    let other_tenant = f.engine.enqueue(keyed("t2", 1)).await.expect("other tenant");
    assert!(other_tenant.created);
    assert_ne!(other_tenant.job.id, first.id);

    // Without a key every enqueue is a new job, even with the same body.
    let a = f.enqueue(noop("t1")).await;
    let b = f.enqueue(noop("t1")).await;
    assert_ne!(a.id, b.id);
}

/// Higher priority first, then older `run_at`, then smaller id.
pub async fn claim_order(f: Fixture) {
    let start = f.clock().now();
    let mut jobs = Vec::new();
    for (priority, age_s) in [(0, 0), (5, 0), (0, 30), (5, 10), (-1, 60), (0, 30), (5, 10)] {
        let run_at = start - chrono::Duration::seconds(age_s);
        jobs.push(f.enqueue(NewJob { priority, run_at: Some(run_at), ..noop("t1") }).await);
    }
    jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.run_at.cmp(&b.run_at)).then(a.id.cmp(&b.id)));
    let expected: Vec<JobId> = jobs.into_iter().map(|j| j.id).collect();

    let mut one_by_one = Vec::new();
    while let Some(c) = f.claim(&["default"], 1).await.pop() {
        one_by_one.push(c.job.id);
    }
    assert_eq!(one_by_one, expected, "claimed one at a time");
}

/// A claim takes only the named queues, merging them in claim order.
pub async fn claim_filters_queues(f: Fixture) {
    let low = f.enqueue(in_queue("low", 0)).await;
    let high = f.enqueue(in_queue("high", 1)).await;
    let batch = f.enqueue(in_queue("batch", 9)).await;
    let low_urgent = f.enqueue(in_queue("low", 3)).await;

    assert!(f.claim(&["gpu"], 10).await.is_empty());
    let got: Vec<JobId> = f.claim(&["high", "low"], 10).await.into_iter().map(|c| c.job.id).collect();
    assert_eq!(got, vec![low_urgent.id, high.id, low.id], "merged in claim order");
    assert_eq!(f.job(&batch).await.state, JobState::Queued);
    assert_eq!(f.claim(&["batch", "batch"], 10).await.len(), 1, "a repeated queue counts once");
}

/// A job scheduled in the future is claimable once the clock reaches `run_at`.
pub async fn claim_waits_for_run_at(f: Fixture) {
    let later = f.clock().now() + chrono::Duration::seconds(10);
    let job = f.enqueue(NewJob { run_at: Some(later), ..noop("t1") }).await;
    assert!(f.claim(&["default"], 10).await.is_empty(), "not before run_at");
    f.advance(Duration::from_millis(9_999));
    assert!(f.claim(&["default"], 10).await.is_empty(), "not a millisecond early");
    f.advance(Duration::from_millis(1));
    assert_eq!(f.claim_one("default").await.job.id, job.id);
}

/// A claim takes at most `limit` jobs and leases each one separately.
pub async fn claim_limit(f: Fixture) {
    for _ in 0..5 {
        f.enqueue(noop("t1")).await;
    }
    let now = f.clock().now();
    let batch = f.claim(&["default"], 2).await;
    assert_eq!(batch.len(), 2);
    for c in &batch {
        assert_eq!(c.lease.job_id, c.job.id);
        assert_eq!((c.job.state, c.job.attempt), (JobState::Running, 1));
        assert_eq!(c.job.lease_owner.as_deref(), Some("w1"));
        assert_eq!(c.job.lease_expires_at, Some(now + chrono::Duration::from_std(LEASE).unwrap()));
        assert_eq!(c.job.started_at, Some(now));
        assert_eq!(f.job(&c.job).await, c.job, "the claimed job as stored");
    }
    assert_ne!(batch[0].lease.token, batch[1].lease.token, "one token per job");
    assert_eq!(f.claim(&["default"], 2).await.len(), 2);
    assert_eq!(f.claim(&["default"], 2).await.len(), 1);
    assert!(f.claim(&["default"], 2).await.is_empty());
    assert!(f.claim(&["default"], 0).await.is_empty());
}

/// Eight claimers racing over 200 jobs never share one and together take them all.
pub async fn concurrent_claimers(f: Fixture) {
    const JOBS: usize = 200;
    for _ in 0..JOBS {
        f.enqueue(noop("t1")).await;
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let engine = f.engine.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let queues = vec!["default".to_string()];
            let mut mine = Vec::new();
            loop {
                let batch = engine.claim(&worker, &queues, 3, LEASE).await.expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|c| c.job.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.expect("claimer") {
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(seen.len(), JOBS);
}

/// Concurrent writes stay separate: racing enqueues with one key make one job, and racing
/// completions each finish their own job (a duplicate completion loses).
pub async fn concurrent_writes(f: Fixture) {
    let keyed = NewJob { idempotency_key: Some("race".into()), ..noop("t1") };
    let racers = (0..16).map(|_| {
        let (engine, new) = (f.engine.clone(), keyed.clone());
        tokio::spawn(async move { engine.enqueue(new).await.expect("enqueue") })
    });
    let mut created = 0;
    let mut ids = HashSet::new();
    for racer in racers.collect::<Vec<_>>() {
        let done = racer.await.expect("enqueuer");
        created += usize::from(done.created);
        ids.insert(done.job.id);
    }
    assert_eq!((created, ids.len()), (1, 1), "one job for one key");

    for _ in 0..40 {
        f.enqueue(noop("t1")).await;
    }
    let claimed = f.claim(&["default"], 100).await;
    assert_eq!(claimed.len(), 41);
    let twice = claimed[0].lease.clone();
    let mut completions: Vec<_> = claimed
        .iter()
        .map(|c| {
            let (engine, lease) = (f.engine.clone(), c.lease.clone());
            let output = JobOutput { result: json!({ "job": lease.job_id }), ..Default::default() };
            tokio::spawn(async move { (lease.clone(), engine.complete(&lease, output).await) })
        })
        .collect();
    let engine = f.engine.clone();
    completions.push(tokio::spawn(async move { (twice.clone(), engine.complete(&twice, JobOutput::default()).await) }));
    let (mut ok, mut lost) = (0, 0);
    for completion in completions {
        match completion.await.expect("completer") {
            (lease, Ok(job)) => {
                ok += 1;
                assert_eq!((job.id, job.state), (lease.job_id, JobState::Succeeded));
            }
            (_, Err(QueueError::LeaseLost)) => lost += 1,
            (_, Err(e)) => panic!("complete: {e}"),
        }
    }
    assert_eq!((ok, lost), (41, 1));
    for c in &claimed {
        let stored = f.job(&c.job).await;
        assert_eq!(stored.state, JobState::Succeeded);
        let by = stored.output.map(|o| o.result);
        assert!(by == Some(json!({ "job": c.job.id })) || by == Some(serde_json::Value::Null));
    }
}
