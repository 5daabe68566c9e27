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
//! - [`catalog`]: API keys and uploads.

mod catalog;
mod completions;
mod jobs;
mod lease;
mod listen;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, SqlSafeStr};
use tokio::sync::broadcast;

use crate::EngineConfig;
use crate::clock::Clock;
use crate::engine::{Engine, Result};
use crate::error::QueueError;
use crate::model::{
    Claimed, Control, Enqueued, Job, JobEvent, JobFailure, JobFilter, JobId, JobOutput, JobPage, Lease, NewJob,
    Progress,
};

/// The embedded schema, newest last. Applied by [`PostgresEngine::migrate`] (and at open).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let migration = |version, name: &str, sql: &'static str| {
        Migration::new(version, name.to_owned().into(), MigrationType::Simple, sql.into_sql_str(), false)
    };
    Migrator::with_migrations(vec![
        migration(1, "init", include_str!("../../migrations/postgres/0001_init.sql")),
        migration(2, "claim plan", include_str!("../../migrations/postgres/0002_claim_plan.sql")),
    ])
});

/// PostgreSQL-only settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Connections in the pool (one more is held for LISTEN).
    pub pool_size: u32,
    /// Schema holding the tables (`None`: the connection's default, normally `public`).
    /// Tests use one schema per case.
    pub schema: Option<String>,
    /// Apply the migrations at open (`tintype migrate` does it explicitly otherwise).
    pub migrate: bool,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self { pool_size: 10, schema: None, migrate: true }
    }
}

/// The PostgreSQL engine. Cloning is cheap (the pool and the event channel are shared).
#[derive(Debug, Clone)]
pub struct PostgresEngine {
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
    /// Connects to `url` (`postgres://user@host:port/db`), applies the migrations unless
    /// told not to, and starts listening for job changes.
    pub async fn open(url: &str, config: EngineConfig, settings: PgSettings) -> Result<Self, QueueError> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = &settings.schema {
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || schema.is_empty() {
                return Err(QueueError::Invalid(format!("schema name {schema:?}: letters, digits and _ only")));
            }
            options = options.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        if settings.migrate {
            MIGRATOR.run(&pool).await?;
        }
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&pool).await?;
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let listener = listen::start(&pool, &format!("tintype_jobs_{schema}"), events.clone()).await?;
        let (completes, completer) = completions::start(pool.clone(), config.clone());
        Ok(Self { pool, config, events, completes, _completer: Arc::new(completer), _listener: Arc::new(listener) })
    }

    /// Applies any embedded migration not yet applied (idempotent).
    pub async fn migrate(&self) -> Result<(), QueueError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
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
        self.pool.execute(sql).await?;
        Ok(())
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

/// Unix milliseconds, the stored form of every timestamp.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A duration in milliseconds, saturating.
fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Engine for PostgresEngine {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        jobs::enqueue(self, job).await
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
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
