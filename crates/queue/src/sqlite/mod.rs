//! The embedded SQLite driver, over `tintype-db`'s [`SqliteDb`]: every write goes through
//! the database's one writer connection (shared with the other components, so writers
//! never meet `SQLITE_BUSY` among themselves), reads through its pool.
//!
//! - [`enqueue`]: idempotent enqueue.
//! - [`jobs`]: cancel, retry, get, list, lease rescue and artifact expiry.
//! - [`lease`]: the worker's fenced writes (claim, heartbeat, progress, outcomes).
//! - [`combine`]: concurrent enqueues (and completions) share one statement.

mod combine;
mod enqueue;
mod jobs;
mod lease;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tintype_db::SqliteDb;
use tintype_db::sqlite::detached;
use tokio::sync::{MappedMutexGuard, broadcast};

use self::combine::Combiner;
use crate::EngineConfig;
use crate::engine::{Engine, Result};
use crate::error::QueueError;
use crate::model::{
    Admission, Claimed, Control, Enqueued, Job, JobEvent, JobFailure, JobFilter, JobId, JobOutput, JobPage, Lease,
    NewJob, Progress, QueueCount, TenantUsage,
};
use tintype_db::Clock;

/// The SQLite engine. Cloning is cheap (pools and the event channel are shared); it is
/// meant to be used as `Arc<dyn Engine>` and `Arc<dyn Catalog>`.
#[derive(Debug, Clone)]
pub struct SqliteEngine {
    db: SqliteDb,
    config: EngineConfig,
    events: broadcast::Sender<JobEvent>,
    /// Enqueues waiting for the writer.
    enqueues: Arc<Combiner<enqueue::NewRow, Enqueued>>,
    /// Completions waiting for the writer.
    completes: Arc<Combiner<lease::Completion, Job>>,
}

impl SqliteEngine {
    /// Opens (creating if missing) the database at `url` (`sqlite:///abs/path.db`,
    /// `sqlite://relative.db` or `sqlite::memory:`) and applies the queue's migrations.
    /// A process with other components opens the [`SqliteDb`] once and uses [`Self::new`].
    pub async fn open(url: &str, config: EngineConfig) -> Result<Self, QueueError> {
        let db = SqliteDb::open(url).await?;
        db.migrate(&crate::MIGRATIONS).await?;
        Ok(Self::new(db, config))
    }

    /// The engine over `db`, whose queue migrations the caller applied.
    pub fn new(db: SqliteDb, config: EngineConfig) -> Self {
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        Self { db, config, events, enqueues: Arc::new(Combiner::new()), completes: Arc::new(Combiner::new()) }
    }

    /// Applies any queue migration not yet applied (idempotent; `open` already does).
    pub async fn migrate(&self) -> Result<(), QueueError> {
        Ok(self.db.migrate(&crate::MIGRATIONS).await?)
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.config.clock
    }

    /// The settings the engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Closes the database (waiting for reads in flight); later calls fail with a
    /// database error.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The writer connection, held until the guard drops: every write goes through here.
    async fn writer(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>> {
        Ok(self.db.writer().await?)
    }

    /// The read pool.
    fn reader(&self) -> &SqlitePool {
        self.db.reader()
    }

    /// Publishes a committed change. Nobody listening is fine.
    fn publish(&self, job: &Job) {
        let _ = self.events.send(JobEvent::of(job));
    }
}

pub(crate) use tintype_db::rows::{duration_ms, ms};

#[async_trait]
impl Engine for SqliteEngine {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        // Combined writes run other callers' requests too: run them in their own task so
        // a caller that gives up (a dropped HTTP request) cannot abandon the others.
        let engine = self.clone();
        detached(async move { enqueue::enqueue(&engine, job).await }).await
    }

    async fn counts(&self) -> Result<Vec<QueueCount>> {
        jobs::counts(self).await
    }

    async fn usage(&self, tenant: &str) -> Result<TenantUsage> {
        jobs::usage(self, tenant).await
    }

    async fn artifact_bytes(&self, tenant: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(json_extract(a.value, '$.bytes')), 0) FROM jobs, json_each(jobs.output, '$.artifacts') a
             WHERE jobs.tenant = ?1 AND jobs.state = 'succeeded'",
        )
        .bind(tenant)
        .fetch_one(self.reader())
        .await?;
        Ok(n.max(0) as u64)
    }

    async fn queue_depth(&self, queue: &str, cap: u64) -> Result<u64> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let n: i64 = sqlx::query_scalar(crate::admission::DEPTH).bind(queue).bind(cap).fetch_one(self.reader()).await?;
        Ok(n.max(0) as u64)
    }

    async fn claim_kinds(
        &self,
        worker: &str,
        queues: &[String],
        kinds: Option<&[String]>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>> {
        lease::claim(self, worker, queues, kinds, limit, lease).await
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

    async fn retry(&self, tenant: Option<&str>, id: &JobId, admission: &Admission) -> Result<Job> {
        jobs::retry(self, tenant, id, admission).await
    }

    async fn get(&self, tenant: Option<&str>, id: &JobId) -> Result<Option<Job>> {
        jobs::get(self.reader(), tenant, id).await
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
        Ok(self.db.ping().await?)
    }
}
