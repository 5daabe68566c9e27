//! The SQLite driver against the conformance suite (each case on a fresh file in its own
//! temporary directory, with a manual clock), plus what only SQLite has: WAL mode and
//! migrations that are safe to apply again on reopen.

use std::sync::Arc;

use tintype_queue::conformance::{self, Fixture};
use tintype_queue::sqlite::SqliteEngine;
use tintype_queue::{Engine, EngineConfig, JobFilter, NewJob};

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("tintype.db").display())
}

async fn fixture(config: EngineConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Arc::new(SqliteEngine::open(&url(&dir), config.clone()).await.expect("open"));
    Fixture::new(engine, config, dir)
}

tintype_queue::engine_conformance!(fixture);

#[tokio::test]
async fn reopen_keeps_jobs_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open(&url(&dir), conformance::config()).await.unwrap();
    let job = engine.enqueue(NewJob::new("t1", "noop", serde_json::json!({}))).await.unwrap().job;
    engine.migrate().await.expect("migrate twice");
    engine.close().await;

    let reopened = SqliteEngine::open(&url(&dir), conformance::config()).await.expect("reopen");
    reopened.migrate().await.unwrap();
    assert_eq!(reopened.get(None, &job.id).await.unwrap(), Some(job));
    assert_eq!(reopened.list(&JobFilter::default()).await.unwrap().jobs.len(), 1);
}

#[tokio::test]
async fn database_is_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open(&url(&dir), conformance::config()).await.unwrap();
    engine.ping().await.unwrap();
    let path = dir.path().join("tintype.db");
    assert!(path.exists(), "file created");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&sqlx::SqlitePool::connect(&url(&dir)).await.unwrap())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn absolute_url_and_in_memory_open() {
    let dir = tempfile::tempdir().unwrap();
    let absolute = format!("sqlite://{}", dir.path().join("abs.db").display());
    assert!(absolute.starts_with("sqlite:///"));
    SqliteEngine::open(&absolute, conformance::config()).await.unwrap();
    assert!(dir.path().join("abs.db").exists());

    let memory = SqliteEngine::open("sqlite::memory:", conformance::config()).await.unwrap();
    let job = memory.enqueue(NewJob::new("t1", "noop", serde_json::json!({}))).await.unwrap().job;
    assert_eq!(memory.get(Some("t1"), &job.id).await.unwrap(), Some(job));
}
