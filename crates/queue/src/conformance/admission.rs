//! Conformance cases for admission (a cap on a tenant's active jobs and daily quotas,
//! checked atomically with the insert) and for the per-queue counts back-pressure and
//! metrics read.

use std::sync::Arc;

use super::{Fixture, LEASE, noop};
use crate::error::QueueError;
use crate::model::{Admission, DailyQuota, JobFailure, JobState, NewJob, QueueCount};

fn capped(tenant: &str, cap: u32) -> NewJob {
    NewJob { admission: Admission { max_active: Some(cap), daily: None }, ..noop(tenant) }
}

fn quota(tenant: &str, class: &str, limit: u64) -> NewJob {
    let daily = Some(DailyQuota { class: class.into(), limit });
    NewJob { admission: Admission { max_active: None, daily }, ..noop(tenant) }
}

fn over_quota(r: &crate::engine::Result<crate::model::Enqueued>) -> bool {
    matches!(r, Err(QueueError::QuotaExceeded { .. }))
}

/// A daily quota counts per tenant, class and UTC day; an idempotent replay is not
/// counted again; a quota of 0 refuses at once; the next UTC day starts afresh; `usage`
/// tells the counts.
pub async fn daily_quota_counts_per_tenant_class_and_day(f: Fixture) {
    let replay = NewJob { idempotency_key: Some("k".into()), ..quota("t1", "pack", 2) };
    assert!(f.engine.enqueue(replay.clone()).await.unwrap().created);
    assert!(!f.engine.enqueue(replay).await.unwrap().created, "a replay is not counted");
    f.enqueue(quota("t1", "pack", 2)).await;
    let over = f.engine.enqueue(quota("t1", "pack", 2)).await;
    assert!(matches!(&over, Err(QueueError::QuotaExceeded { class, limit: 2 }) if class == "pack"), "{over:?}");
    f.enqueue(quota("t1", "single", 3)).await;
    f.enqueue(quota("t2", "pack", 2)).await;
    assert!(over_quota(&f.engine.enqueue(quota("t3", "pack", 0)).await), "a zero quota refuses");
    f.enqueue(noop("t1")).await;
    let usage = f.engine.usage("t1").await.unwrap();
    assert_eq!(usage.active, 4);
    assert_eq!(usage.daily.into_iter().collect::<Vec<_>>(), [("pack".to_owned(), 2), ("single".to_owned(), 1)]);
    assert!(f.engine.usage("t3").await.unwrap().daily.is_empty(), "a refusal counts nothing");

    // The next UTC day counts afresh (the clock starts at a fixed instant; go to the
    // next midnight and a little past it).
    let now = f.clock().now();
    let next = (now.date_naive() + chrono::Days::new(1)).and_hms_opt(0, 0, 1).unwrap().and_utc();
    f.advance((next - now).to_std().unwrap());
    let fresh = f.engine.usage("t1").await.unwrap();
    assert!(fresh.daily.is_empty() && fresh.day != usage.day, "{fresh:?}");
    f.enqueue(quota("t1", "pack", 2)).await;
}

/// Concurrent enqueues of one tenant against one quota: exactly the quota gets in.
pub async fn daily_quota_holds_under_concurrency(f: Fixture) {
    let engine = f.engine.clone();
    let tries = (0..20).map(|_| {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { engine.enqueue(quota("t1", "pack", 1)).await })
    });
    let mut admitted = 0;
    for t in tries {
        match t.await.expect("task") {
            Ok(done) => admitted += usize::from(done.created),
            Err(QueueError::QuotaExceeded { limit: 1, .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(admitted, 1, "exactly one got in");
    assert_eq!(f.engine.usage("t1").await.unwrap().daily["pack"], 1);
}

/// A job that fails for good through the server's fault gives its quota back, once;
/// one that fails on its input, succeeds or is rescued for another attempt does not; a
/// job whose worker died on its last attempt does.
pub async fn daily_quota_given_back_on_server_faults(f: Fixture) {
    let failure =
        |server_fault| JobFailure { code: "x".into(), message: "x".into(), step: None, retryable: false, server_fault };
    let used = |f: &Fixture| {
        let engine = f.engine.clone();
        async move { engine.usage("t1").await.unwrap().daily.get("pack").copied().unwrap_or(0) }
    };
    let limit = 10;
    f.enqueue(quota("t1", "pack", limit)).await;
    let bad_input = f.claim_one("default").await;
    f.engine.fail(&bad_input.lease, failure(false)).await.unwrap();
    assert_eq!(used(&f).await, 1, "the input's fault keeps the count");

    let broke = f.enqueue(quota("t1", "pack", limit)).await;
    let claimed = f.claim_one("default").await;
    assert_eq!(claimed.job.id, broke.id);
    f.engine.fail(&claimed.lease, failure(true)).await.unwrap();
    assert_eq!(used(&f).await, 1, "the server's fault gives it back");
    // Retried under the quota: counted again (it had been given back), and failing the
    // same way gives it back again, once.
    let rules = Admission { max_active: Some(10), daily: Some(DailyQuota { class: "pack".into(), limit }) };
    f.engine.retry(Some("t1"), &broke.id, &rules).await.unwrap();
    assert_eq!(used(&f).await, 2, "a retry of a job given back is counted");
    let again = f.claim_one("default").await;
    f.engine.fail(&again.lease, failure(true)).await.unwrap();
    assert_eq!(used(&f).await, 1, "given back once");
    // A retry of a job still counted (the input's fault) is not counted again; one over
    // the quota or the cap is refused and stays failed.
    f.engine.retry(Some("t1"), &bad_input.job.id, &rules).await.unwrap();
    assert_eq!(used(&f).await, 1, "still counted: not again");
    let tight = Admission { max_active: None, daily: Some(DailyQuota { class: "pack".into(), limit: 1 }) };
    assert!(matches!(f.engine.retry(Some("t1"), &broke.id, &tight).await, Err(QueueError::QuotaExceeded { .. })));
    let capped = Admission { max_active: Some(1), daily: None };
    assert!(matches!(f.engine.retry(Some("t1"), &broke.id, &capped).await, Err(QueueError::TooManyActive { .. })));
    assert_eq!(f.job(&broke).await.state, JobState::Failed);
    let bad_input = f.claim_one("default").await;
    f.engine.complete(&bad_input.lease, Default::default()).await.unwrap();

    // A worker that dies: rescued for another attempt keeps the count, on its last
    // attempt gives it back.
    let died = f.enqueue(NewJob { max_attempts: 2, ..quota("t1", "pack", limit) }).await;
    assert_eq!(used(&f).await, 2);
    for attempt in 1..=2 {
        let claimed = f.claim_one("default").await;
        assert_eq!(claimed.job.id, died.id);
        f.advance(LEASE * 2);
        f.engine.rescue_expired(f.clock().now()).await.unwrap();
        let expect = if attempt == 1 { 2 } else { 1 };
        assert_eq!(used(&f).await, expect, "after attempt {attempt}");
    }
    assert_eq!(f.job(&died).await.state, JobState::Failed);
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

/// Fair claims: a claim passes over jobs whose tenant runs as many as its cap (counting
/// what the claim itself takes), takes the other tenants' instead, and comes back to them
/// once one of theirs ends; uncapped jobs are claimed in plain order.
pub async fn claims_respect_running_caps(f: Fixture) {
    let capped = |tenant: &str, cap| NewJob { running_cap: Some(cap), ..noop(tenant) };
    let heavy: Vec<_> = [0; 4].iter().map(|_| capped("heavy", 1)).collect();
    let mut heavy_jobs = Vec::new();
    for job in heavy {
        heavy_jobs.push(f.enqueue(job).await);
    }
    let light = f.enqueue(capped("light", 2)).await;
    let open = f.enqueue(noop("open")).await;
    let got = f.claim(&["default"], 10).await;
    let ids: Vec<_> = got.iter().map(|c| c.job.id.clone()).collect();
    assert_eq!(ids, [heavy_jobs[0].id.clone(), light.id.clone(), open.id.clone()], "one of heavy's, then the others");
    assert!(f.claim(&["default"], 10).await.is_empty(), "heavy is at its cap");
    f.engine.complete(&got[0].lease, Default::default()).await.unwrap();
    let next = f.claim(&["default"], 10).await;
    assert_eq!(next.iter().map(|c| c.job.id.clone()).collect::<Vec<_>>(), [heavy_jobs[1].id.clone()]);
    // A cap of 2 with one running: one more.
    let light2 = f.enqueue(capped("light", 2)).await;
    let light3 = f.enqueue(capped("light", 2)).await;
    let more = f.claim(&["default"], 10).await;
    assert_eq!(more.iter().map(|c| c.job.id.clone()).collect::<Vec<_>>(), [light2.id]);
    assert_eq!(f.job(&light3).await.state, JobState::Queued);
}

/// The tenant's kept artifact bytes (succeeded jobs only) and a queue's depth, counted up
/// to a cap.
pub async fn artifact_bytes_and_queue_depth(f: Fixture) {
    let artifact = |name: &str, bytes| crate::model::Artifact {
        name: name.into(),
        key: format!("k/{name}"),
        bytes,
        sha256: "0".repeat(64),
        content_type: "application/zip".into(),
    };
    for _ in 0..3 {
        f.enqueue(noop("t1")).await;
    }
    f.enqueue(noop("t2")).await;
    assert_eq!(f.engine.queue_depth("default", 100).await.unwrap(), 4);
    assert_eq!(f.engine.queue_depth("default", 2).await.unwrap(), 2, "counted up to the cap");
    assert_eq!(f.engine.queue_depth("low", 100).await.unwrap(), 0);
    let done = f.claim_one("default").await;
    let output =
        crate::model::JobOutput { artifacts: vec![artifact("a", 100), artifact("b", 50)], ..Default::default() };
    f.engine.complete(&done.lease, output).await.unwrap();
    let failed = f.claim_one("default").await;
    let failure =
        JobFailure { code: "x".into(), message: "x".into(), step: None, retryable: false, server_fault: false };
    f.engine.fail(&failed.lease, failure).await.unwrap();
    assert_eq!(f.engine.artifact_bytes("t1").await.unwrap(), 150);
    assert_eq!(f.engine.artifact_bytes("t2").await.unwrap(), 0);
    assert_eq!(f.engine.queue_depth("default", 100).await.unwrap(), 2);
}
