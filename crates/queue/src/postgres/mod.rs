//! The scale-out PostgreSQL driver: many `tintype api` and `tintype worker` processes
//! share one database. Every write is one statement (or one short transaction) on a
//! pooled connection; the database does the arbitration:
//!
//! - claims take rows with `FOR UPDATE SKIP LOCKED` inside an `UPDATE … RETURNING`, so
//!   concurrent workers never wait on each other nor claim a job twice;
//! - every worker write and every outcome is guarded by `state = 'running'` and the lease
//!   token, and lease rescue by `state = 'running' AND lease_expires_at < now`: under READ
//!   COMMITTED a second writer re-checks the guard after the first commits and finds
//!   nothing, so neither a stale worker nor a concurrent sweeper overwrites a newer outcome;
//! - a trigger NOTIFYs every visible job change (`migrations/postgres/0001_init.sql`) and
//!   each engine LISTENs ([`listen`]), so idle workers wake at once and an event stream
//!   on any api process follows progress written by a worker in any other.
//!
//! - [`lease`]: claim, heartbeat, progress, outcomes; [`completions`]: completions
//!   written at the same moment share one statement.
//! - [`jobs`]: enqueue, cancel, retry, get, list, rescue, expiry.

mod completions;
mod jobs;
mod lease;
mod listen;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use tintype_db::PgDb;
pub use tintype_db::PgSettings;
use tokio::sync::broadcast;

use crate::EngineConfig;
use crate::engine::{Engine, Result};
use crate::error::QueueError;
use crate::model::{
    Admission, Claimed, Control, Enqueued, Job, JobEvent, JobFailure, JobFilter, JobId, JobOutput, JobPage, Lease,
    NewJob, Progress, QueueCount, TenantUsage,
};
use tintype_db::Clock;

/// The PostgreSQL engine. Cloning is cheap (the pool and the event channel are shared).
#[derive(Debug, Clone)]
pub struct PostgresEngine {
    db: PgDb,
    pool: PgPool,
    config: EngineConfig,
    events: broadcast::Sender<JobEvent>,
    /// Completions waiting for the completer task.
    completes: tokio::sync::mpsc::UnboundedSender<completions::Completion>,
    /// Stops the completer task when the last clone is dropped.
    _completer: Arc<AbortOnDrop>,
    /// Stops the LISTEN task when the last clone is dropped.
    _listener: Arc<AbortOnDrop>,
}

impl PostgresEngine {
    /// Connects to `url` (`postgres://user@host:port/db`), applies the queue's migrations
    /// and starts listening for job changes. A process with other components opens the
    /// [`PgDb`] once and uses [`Self::new`].
    pub async fn open(url: &str, config: EngineConfig, settings: PgSettings) -> Result<Self, QueueError> {
        let db = PgDb::open(url, settings).await?;
        db.migrate(&crate::MIGRATIONS).await?;
        Self::new(db, config).await
    }

    /// The engine over `db`, whose queue migrations the caller applied; starts the LISTEN
    /// and completer tasks.
    pub async fn new(db: PgDb, config: EngineConfig) -> Result<Self, QueueError> {
        let pool = db.pool().clone();
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let channel = format!("tintype_jobs_{}", db.schema());
        let listener = listen::start(&pool, &channel, events.clone()).await?;
        let (completes, completer) = completions::start(pool.clone(), config.clone());
        Ok(Self { db, pool, config, events, completes, _completer: Arc::new(completer), _listener: Arc::new(listener) })
    }

    /// Applies any queue migration not yet applied (idempotent).
    pub async fn migrate(&self) -> Result<(), QueueError> {
        Ok(self.db.migrate(&crate::MIGRATIONS).await?)
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.config.clock
    }

    /// Closes the pool (waiting for queries in flight).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs raw SQL (tests and operators: e.g. dropping a test schema).
    pub async fn execute(&self, sql: &'static str) -> Result<(), QueueError> {
        Ok(self.db.execute(sql).await?)
    }
}

/// A background task of the engine (LISTEN, completer), stopped when the guard is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) use tintype_db::rows::{duration_ms, ms};

#[async_trait]
impl Engine for PostgresEngine {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        jobs::enqueue(self, job).await
    }

    async fn counts(&self) -> Result<Vec<QueueCount>> {
        jobs::counts(self).await
    }

    async fn usage(&self, tenant: &str) -> Result<TenantUsage> {
        jobs::usage(self, tenant).await
    }

    async fn artifact_bytes(&self, tenant: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(sum((a ->> 'bytes')::bigint), 0) AS BIGINT)
             FROM jobs, jsonb_array_elements(jobs.output::jsonb -> 'artifacts') a
             WHERE jobs.tenant = $1 AND jobs.state = 'succeeded'",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }

    async fn queue_depth(&self, queue: &str, cap: u64) -> Result<u64> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let n: i64 = sqlx::query_scalar(crate::admission::DEPTH).bind(queue).bind(cap).fetch_one(&self.pool).await?;
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

    async fn retry(&self, tenant: Option<&str>, id: &JobId, admission: &Admission) -> Result<Job> {
        jobs::retry(self, tenant, id, admission).await
    }

    async fn get(&self, tenant: Option<&str>, id: &JobId) -> Result<Option<Job>> {
        jobs::get(&self.pool, tenant, id).await
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
