//! The embedded SQLite driver: one file in WAL mode, ONE writer connection for every write
//! (so writers never meet `SQLITE_BUSY` among themselves) and a small read pool for `get`,
//! `list` and the catalog's lookups. Migrations are embedded and applied at open.
//!
//! - [`enqueue`]: idempotent enqueue.
//! - [`jobs`]: cancel, retry, get, list, lease rescue and artifact expiry.
//! - [`lease`]: the worker's fenced writes (claim, heartbeat, progress, outcomes).
//! - [`combine`]: concurrent enqueues (and completions) share one statement.
//! - [`catalog`]: API keys and uploads.

mod catalog;
mod combine;
mod enqueue;
mod jobs;
mod lease;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqlSafeStr};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, broadcast};

use self::combine::Combiner;
use crate::EngineConfig;
use crate::clock::Clock;
use crate::engine::{Engine, Result};
use crate::error::QueueError;
use crate::model::{
    Claimed, Control, Enqueued, Job, JobEvent, JobFailure, JobFilter, JobId, JobOutput, JobPage, Lease, NewJob,
    Progress,
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
/// WAL pages between automatic checkpoints (16 MiB at 4 KiB pages): fewer, larger
/// checkpoints than SQLite's 1000 keep the writer's tail latency down under load.
const WAL_CHECKPOINT_PAGES: &str = "4000";
/// Connections in the read pool.
const READERS: u32 = 4;

/// The SQLite engine. Cloning is cheap (pools and the event channel are shared); it is
/// meant to be used as `Arc<dyn Engine>` and `Arc<dyn Catalog>`.
#[derive(Debug, Clone)]
pub struct SqliteEngine {
    /// Exactly one connection: every write goes through it, in order (`None` once closed).
    /// A plain connection behind a mutex, not a one-connection pool: on a small machine
    /// the pool's acquire and release cost as much as the statement.
    writer: Arc<Mutex<Option<SqliteConnection>>>,
    /// Reads that need no ordering with a write in progress.
    reader: SqlitePool,
    config: EngineConfig,
    events: broadcast::Sender<JobEvent>,
    /// Enqueues waiting for the writer.
    enqueues: Arc<Combiner<enqueue::NewRow, Enqueued>>,
    /// Completions waiting for the writer.
    completes: Arc<Combiner<lease::Completion, Job>>,
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
        let mut writer = base
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .connect()
            .await?;
        MIGRATOR.run(&mut writer).await?;
        // `sqlite::memory:` names one shared-cache database, so readers see the writer's.
        let reader = pool(READERS).connect_with(base.pragma("query_only", "ON")).await?;
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        Ok(Self {
            writer: Arc::new(Mutex::new(Some(writer))),
            reader,
            config,
            events,
            enqueues: Arc::new(Combiner::new()),
            completes: Arc::new(Combiner::new()),
        })
    }

    /// Applies any embedded migration not yet applied (idempotent; `open` already does).
    pub async fn migrate(&self) -> Result<(), QueueError> {
        let mut writer = self.writer().await?;
        MIGRATOR.run(&mut *writer).await?;
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

    /// Closes the writer and the read pool (waiting for reads in flight); later calls
    /// fail with a database error.
    pub async fn close(&self) {
        if let Some(writer) = self.writer.lock().await.take() {
            // Closing a local file does not fail in any way a caller could act on.
            let _ = sqlx::Connection::close(writer).await;
        }
        self.reader.close().await;
    }

    /// The writer connection, held until the guard drops: every write goes through here.
    async fn writer(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>> {
        MutexGuard::try_map(self.writer.lock().await, Option::as_mut)
            .map_err(|_| QueueError::Database(sqlx::Error::PoolClosed))
    }

    /// Publishes a committed change. Nobody listening is fine.
    fn publish(&self, job: &Job) {
        let _ = self.events.send(JobEvent::of(job));
    }
}

/// Read pool options: connections live forever and are not pinged before each use (a
/// local file does not drop connections).
fn pool(size: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// Runs a write to completion even if its caller stops waiting.
async fn detached<T: Send + 'static>(write: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    tokio::spawn(write)
        .await
        .unwrap_or_else(|e| Err(QueueError::Database(sqlx::Error::Protocol(format!("write task failed: {e}")))))
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
        // Combined writes run other callers' requests too: run them in their own task so
        // a caller that gives up (a dropped HTTP request) cannot abandon the others.
        let engine = self.clone();
        detached(async move { enqueue::enqueue(&engine, job).await }).await
    }

    async fn claim(&self, worker: &str, queues: &[String], limit: usize, lease: Duration) -> Result<Vec<Claimed>> {
        lease::claim(self, worker, queues, limit, lease).await
    }

    async fn heartbeat(&self, lease: &Lease, extend: Duration) -> Result<Control> {
        lease::heartbeat(self, lease, extend).await
    }

    async fn progress(&self, lease: &Lease, progress: Progress) -> Result<Control> {
        lease::progress(self, lease, progress).await
    }

    async fn complete(&self, lease: &Lease, output: JobOutput) -> Result<Job> {
        let (engine, lease) = (self.clone(), lease.clone());
        detached(async move { lease::complete(&engine, &lease, output).await }).await
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
