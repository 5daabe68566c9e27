//! The embedded SQLite driver: one file in WAL mode, ONE writer connection for every write
//! (so writers never meet `SQLITE_BUSY` among themselves) and a small read pool for `get`,
//! `list` and the catalog's lookups. Migrations are embedded and applied at open.
//!
//! - [`jobs`]: enqueue, cancel, retry, get, list, lease rescue and artifact expiry.
//! - [`lease`]: the worker's fenced writes (claim, heartbeat, progress, outcomes).
//! - [`catalog`]: API keys and uploads.
//! - [`row`]: decoding rows, one function per table.

mod catalog;
mod jobs;
mod lease;
mod row;

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::broadcast;

use crate::EngineConfig;
use crate::clock::Clock;
use crate::engine::{Engine, Result};
use crate::error::QueueError;
use crate::model::{
    Claimed, Control, Enqueued, Job, JobEvent, JobFailure, JobFilter, JobId, JobOutput, JobPage,
    Lease, NewJob, Progress,
};

/// The embedded schema, newest last. Applied by [`SqliteEngine::migrate`] (and at open).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "init".into(),
        MigrationType::Simple,
        include_str!("../../migrations/sqlite/0001_init.sql").into_sql_str(),
        false,
    )])
});

/// How long a connection waits for a lock held by another process before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the read pool.
const READERS: u32 = 4;

/// The SQLite engine. Cloning is cheap (pools and the event channel are shared); it is
/// meant to be used as `Arc<dyn Engine>` and `Arc<dyn Catalog>`.
#[derive(Debug, Clone)]
pub struct SqliteEngine {
    /// Exactly one connection: every write goes through it, in order.
    writer: SqlitePool,
    /// Reads that need no ordering with a write in progress.
    reader: SqlitePool,
    config: EngineConfig,
    events: broadcast::Sender<JobEvent>,
}

impl SqliteEngine {
    /// Opens (creating if missing) the database at `url` (`sqlite:///abs/path.db`,
    /// `sqlite://relative.db` or `sqlite::memory:`), sets WAL, `synchronous=NORMAL`, a busy
    /// timeout and foreign keys, and applies the embedded migrations.
    pub async fn open(url: &str, config: EngineConfig) -> Result<Self, QueueError> {
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer =
            pool(1).connect_with(base.clone().journal_mode(SqliteJournalMode::Wal)).await?;
        let reader = if in_memory {
            // Each in-memory connection would be its own database: read through the writer.
            writer.clone()
        } else {
            pool(READERS).connect_with(base.pragma("query_only", "ON")).await?
        };
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let engine = Self { writer, reader, config, events };
        engine.migrate().await?;
        Ok(engine)
    }

    /// Applies any embedded migration not yet applied (idempotent; `open` already does).
    pub async fn migrate(&self) -> Result<(), QueueError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.config.clock
    }

    /// The settings the engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Publishes a committed change. Nobody listening is fine.
    fn publish(&self, job: &Job) {
        let _ = self.events.send(JobEvent::of(job));
    }
}

/// Pool options shared by the writer and the readers: connections live forever and are
/// not pinged before each use (a local file does not drop connections).
fn pool(size: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// Unix milliseconds, the stored form of every timestamp.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A duration in milliseconds, saturating.
fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Engine for SqliteEngine {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        jobs::enqueue(self, job).await
    }

    async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>> {
        lease::claim(self, worker, queues, limit, lease).await
    }

    async fn heartbeat(&self, lease: &Lease, extend: Duration) -> Result<Control> {
        lease::heartbeat(self, lease, extend).await
    }

    async fn progress(&self, lease: &Lease, progress: Progress) -> Result<Control> {
        lease::progress(self, lease, progress).await
    }

    async fn complete(&self, lease: &Lease, output: JobOutput) -> Result<Job> {
        lease::complete(self, lease, output).await
    }

    async fn fail(&self, lease: &Lease, failure: JobFailure) -> Result<Job> {
        lease::fail(self, lease, failure).await
    }

    async fn finish_cancelled(&self, lease: &Lease) -> Result<Job> {
        lease::finish_cancelled(self, lease).await
    }

    async fn release(&self, lease: &Lease) -> Result<Job> {
        lease::release(self, lease).await
    }

    async fn cancel(&self, tenant: Option<&str>, id: &JobId) -> Result<Job> {
        jobs::cancel(self, tenant, id).await
    }

    async fn retry(&self, tenant: Option<&str>, id: &JobId) -> Result<Job> {
        jobs::retry(self, tenant, id).await
    }

    async fn get(&self, tenant: Option<&str>, id: &JobId) -> Result<Option<Job>> {
        jobs::get(&self.reader, tenant, id).await
    }

    async fn list(&self, filter: &JobFilter) -> Result<JobPage> {
        jobs::list(self, filter).await
    }

    async fn rescue_expired(&self, now: DateTime<Utc>) -> Result<Vec<JobId>> {
        jobs::rescue_expired(self, now).await
    }

    async fn due_for_expiry(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Job>> {
        jobs::due_for_expiry(self, now, limit).await
    }

    async fn mark_expired(&self, id: &JobId) -> Result<Job> {
        jobs::mark_expired(self, id).await
    }

    fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }
}
