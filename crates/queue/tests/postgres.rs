//! The PostgreSQL driver against the conformance suite, each case in a schema of its own
//! on the local server (`TINTYPE_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), plus what only a shared server has:
//! concurrent claimers in separate engines, concurrent sweepers, events across engines.
//! Without a reachable server every case prints that it skipped and passes.

use std::sync::Arc;
use std::time::Duration;

use tintype_db::testing::{PgScratch, pg_available as available};
use tintype_queue::conformance::{self, Fixture};
use tintype_queue::postgres::PostgresEngine;
use tintype_queue::{Engine, EngineConfig, JobState, NewJob};

/// A schema of its own, dropped (with everything in it) when the case ends.
struct Schema(PgScratch);

impl Schema {
    async fn create() -> Schema {
        Schema(PgScratch::create().await.expect("schema"))
    }

    async fn engine(&self, config: EngineConfig) -> PostgresEngine {
        let db = self.0.open(4).await.expect("open");
        db.migrate(&tintype_queue::MIGRATIONS).await.expect("migrate");
        PostgresEngine::new(db, config).await.expect("engine")
    }
}

async fn fixture(config: EngineConfig) -> Option<Fixture> {
    if !available().await {
        return None;
    }
    let schema = Schema::create().await;
    let engine = Arc::new(schema.engine(config.clone()).await);
    Some(Fixture::new(engine, config, schema))
}

tintype_queue::engine_conformance!(optional fixture);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimers_in_separate_engines_never_share_a_job() {
    if !available().await {
        return;
    }
    let schema = Schema::create().await;
    let config = EngineConfig::default();
    let engines: Vec<PostgresEngine> = futures::future::join_all((0..3).map(|_| schema.engine(config.clone()))).await;
    for i in 0..300 {
        engines[0].enqueue(NewJob::new("t1", "noop", serde_json::json!({ "i": i }))).await.unwrap();
    }
    let claims = engines.iter().enumerate().map(|(w, engine)| async move {
        let queues = vec!["default".to_owned()];
        let mut mine = Vec::new();
        loop {
            let got = engine.claim(&format!("w{w}"), &queues, 7, Duration::from_secs(30)).await.unwrap();
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|c| c.job.id));
        }
    });
    let all: Vec<_> = futures::future::join_all(claims).await.into_iter().flatten().collect();
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (300, 300), "every job claimed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sweepers_rescue_each_job_once() {
    if !available().await {
        return;
    }
    let schema = Schema::create().await;
    let config = conformance::config();
    let a = schema.engine(config.clone()).await;
    let b = schema.engine(config.clone()).await;
    for _ in 0..50 {
        a.enqueue(NewJob::new("t1", "noop", serde_json::json!({}))).await.unwrap();
    }
    let claimed = a.claim("w", &["default".to_owned()], 50, Duration::from_secs(5)).await.unwrap();
    assert_eq!(claimed.len(), 50);
    config.clock.advance(Duration::from_secs(6));
    let now = a.now();
    let (ra, rb) = tokio::join!(a.rescue_expired(now), b.rescue_expired(now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.len() + rb.len(), 50, "each expired lease rescued by exactly one sweeper");
    // The old leases are fenced out: a late completion is refused.
    let late = a.complete(&claimed[0].lease, Default::default()).await;
    assert!(matches!(late, Err(tintype_queue::QueueError::LeaseLost)), "{late:?}");
    assert_eq!(a.get(None, &claimed[0].job.id).await.unwrap().unwrap().state, JobState::Queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_reach_every_engine_on_the_database() {
    if !available().await {
        return;
    }
    let schema = Schema::create().await;
    let config = EngineConfig::default();
    let api = schema.engine(config.clone()).await;
    let worker = schema.engine(config.clone()).await;
    let mut events = api.subscribe();
    let job = api.enqueue(NewJob::new("t1", "noop", serde_json::json!({}))).await.unwrap().job;
    let lease = worker.claim("w", &["default".to_owned()], 1, Duration::from_secs(30)).await.unwrap().remove(0).lease;
    let report =
        tintype_queue::Progress { step: Some("encoding".into()), progress: 0.25, message: Some("3/12".into()) };
    worker.progress(&lease, report).await.unwrap();
    worker.complete(&lease, Default::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.last() != Some(&JobState::Succeeded) {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("an event").unwrap();
        assert_eq!(event.id, job.id);
        if event.state == JobState::Running && event.step.as_deref() == Some("encoding") {
            assert_eq!((event.progress, event.message.as_deref()), (0.25, Some("3/12")));
        }
        seen.push(event.state);
    }
    assert_eq!(seen, [JobState::Queued, JobState::Running, JobState::Running, JobState::Succeeded]);
}
