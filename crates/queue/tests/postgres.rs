//! The PostgreSQL driver against the conformance suite, each case in a schema of its own
//! on the local server (`TINTYPE_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), plus what only a shared server has:
//! concurrent claimers in separate engines, concurrent sweepers, events across engines.
//! Without a reachable server every case prints that it skipped and passes.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use tintype_queue::conformance::{self, Fixture};
use tintype_queue::postgres::{PgSettings, PostgresEngine};
use tintype_queue::{Engine, EngineConfig, JobState, NewJob};
use tokio::sync::OnceCell;

fn base_url() -> String {
    std::env::var("TINTYPE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether the server answers (checked once; says so when it does not).
async fn available() -> bool {
    static UP: OnceCell<bool> = OnceCell::const_new();
    *UP.get_or_init(|| async {
        let url = base_url();
        match tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(&url)).await {
            Ok(Ok(_)) => true,
            _ if std::env::var_os("TINTYPE_TEST_REQUIRE_ALL").is_some() => panic!("PostgreSQL is required at {url}"),
            Ok(Err(e)) => {
                eprintln!("SKIPPED PostgreSQL tests: {url} is not reachable ({e})");
                false
            }
            Err(_) => {
                eprintln!("SKIPPED PostgreSQL tests: {url} did not answer in 3 s");
                false
            }
        }
    })
    .await
}

/// A schema of its own, dropped (with everything in it) when the case ends.
struct Schema(String);

impl Schema {
    async fn create() -> Schema {
        let name = format!("tt_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&base_url()).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&mut conn).await.expect("schema");
        Schema(name)
    }

    async fn engine(&self, config: EngineConfig) -> PostgresEngine {
        let settings = PgSettings { pool_size: 4, schema: Some(self.0.clone()), migrate: true };
        PostgresEngine::open(&base_url(), config, settings).await.expect("open")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.0.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base_url()).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

async fn fixture(config: EngineConfig) -> Option<Fixture> {
    if !available().await {
        return None;
    }
    let schema = Schema::create().await;
    let engine = Arc::new(schema.engine(config.clone()).await);
    Some(Fixture::new(engine.clone(), engine, config, schema))
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
