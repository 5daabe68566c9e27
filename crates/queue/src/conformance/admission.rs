//! Conformance cases for admission (a cap on a tenant's active jobs, checked atomically
//! with the insert) and for the per-queue counts back-pressure and metrics read.

use std::sync::Arc;

use super::{Fixture, LEASE, noop};
use crate::error::QueueError;
use crate::model::{Admission, JobState, NewJob, QueueCount};

fn capped(tenant: &str, cap: u32) -> NewJob {
    NewJob { admission: Admission { max_active: Some(cap) }, ..noop(tenant) }
}

/// Queued and running jobs count against the cap; finished ones and other tenants' do
/// not; an idempotent replay is not counted again.
pub async fn admission_caps_active_jobs(f: Fixture) {
    let first = f.enqueue(capped("t1", 2)).await;
    f.enqueue(capped("t1", 2)).await;
    let over = f.engine.enqueue(capped("t1", 2)).await;
    assert!(matches!(over, Err(QueueError::TooManyActive { limit: 2 })), "{over:?}");
    f.enqueue(capped("t2", 2)).await;
    let replay = NewJob { idempotency_key: Some("k".into()), ..capped("t3", 1) };
    assert!(f.engine.enqueue(replay.clone()).await.unwrap().created);
    let again = f.engine.enqueue(replay).await.expect("a replay at the cap returns the job");
    assert!(!again.created);

    // A running job still counts; once it has ended there is room again.
    let claimed = f.claim_one("default").await;
    assert_eq!(claimed.job.id, first.id);
    assert!(matches!(f.engine.enqueue(capped("t1", 2)).await, Err(QueueError::TooManyActive { .. })));
    f.engine.complete(&claimed.lease, Default::default()).await.unwrap();
    assert!(f.engine.enqueue(capped("t1", 2)).await.unwrap().created, "room after a job ended");
    assert!(f.engine.enqueue(noop("t1")).await.unwrap().created, "uncapped enqueues are not checked");
}

/// Concurrent capped enqueues of one tenant are admitted one at a time: exactly the cap.
pub async fn admission_holds_under_concurrency(f: Fixture) {
    let engine = f.engine.clone();
    let tries = (0..12).map(|_| {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { engine.enqueue(capped("t1", 3)).await })
    });
    let mut admitted = 0;
    for t in tries {
        match t.await.expect("task") {
            Ok(done) => admitted += usize::from(done.created),
            Err(QueueError::TooManyActive { limit: 3 }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(admitted, 3, "exactly the cap got in");
}

/// Counts cover queued (scheduled included) and running jobs per queue, nothing else.
pub async fn counts_by_queue_and_state(f: Fixture) {
    assert_eq!(f.engine.counts().await.unwrap(), []);
    for queue in ["high", "high", "low"] {
        f.enqueue(NewJob { queue: queue.into(), ..noop("t1") }).await;
    }
    let later = f.clock().now() + chrono::Duration::hours(1);
    f.enqueue(NewJob { queue: "low".into(), run_at: Some(later), ..noop("t2") }).await;
    let running = f.engine.claim("w1", &["high".into()], 1, LEASE).await.unwrap().remove(0);
    let done = f.enqueue(NewJob { queue: "batch".into(), ..noop("t1") }).await;
    let lease = f.engine.claim("w1", &["batch".into()], 1, LEASE).await.unwrap().remove(0).lease;
    f.engine.complete(&lease, Default::default()).await.unwrap();
    assert_eq!(f.job(&done).await.state, JobState::Succeeded);
    let count = |queue: &str, state, count| QueueCount { queue: queue.into(), state, count };
    assert_eq!(
        f.engine.counts().await.unwrap(),
        [count("high", JobState::Queued, 1), count("high", JobState::Running, 1), count("low", JobState::Queued, 2)]
    );
    drop(running);
}

/// A claim limited to some kinds leaves the others queued, in claim order otherwise; an
/// empty list claims nothing.
pub async fn claim_filters_kinds(f: Fixture) {
    let print = f.enqueue(NewJob { priority: 5, ..NewJob::new("t1", "print", serde_json::json!({})) }).await;
    let noop = f.enqueue(noop("t1")).await;
    let shot = f.enqueue(NewJob::new("t1", "screenshot", serde_json::json!({}))).await;
    let queues = ["default".to_owned()];
    let none: &[String] = &[];
    assert!(f.engine.claim_kinds("w1", &queues, Some(none), 10, LEASE).await.unwrap().is_empty());
    let kinds = ["noop".to_owned(), "screenshot".to_owned()];
    let got = f.engine.claim_kinds("w1", &queues, Some(&kinds), 10, LEASE).await.unwrap();
    let ids: Vec<_> = got.iter().map(|c| c.job.id.clone()).collect();
    assert_eq!(ids, [noop.id, shot.id], "only the named kinds, oldest first");
    assert_eq!(f.job(&print).await.state, JobState::Queued, "print waits for a worker that runs it");
    assert_eq!(f.claim(&["default"], 10).await.len(), 1, "an unfiltered claim takes it");
}
