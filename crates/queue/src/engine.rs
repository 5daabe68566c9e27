//! The engine interface every driver implements (SQLite now, PostgreSQL for scale-out).
//!
//! Each method maps onto one statement or one short transaction, chosen so the PostgreSQL
//! driver can use the proven shapes: `claim` is `UPDATE … WHERE id IN (SELECT … ORDER BY
//! priority DESC, run_at, id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …`; every write a
//! worker makes is fenced by `id`, `state = 'running'` and the lease token; `subscribe`
//! is an in-process channel here and LISTEN/NOTIFY there.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::error::QueueError;
use crate::model::{
    Admission, Claimed, Control, Enqueued, Job, JobEvent, JobFailure, JobFilter, JobId, JobOutput, JobPage, Lease,
    NewJob, Progress, QueueCount, TenantUsage,
};

/// Result of every engine call.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// The durable job queue.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Stores a new job, or returns the job an earlier call made with the same tenant and
    /// idempotency key. Same key with a different fingerprint: `IdempotencyConflict`.
    /// Publishes a `queued` event, which wakes idle workers of that queue.
    /// With `job.admission.max_active`, the tenant's queued and running jobs are counted
    /// in the same transaction as the insert: over the cap, `TooManyActive` and nothing
    /// is stored.
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued>;

    /// Jobs queued and running, per queue (back-pressure, metrics); queues with none are
    /// absent. Sorted by queue, then state.
    async fn counts(&self) -> Result<Vec<QueueCount>>;

    /// A tenant's active jobs and its daily quota counts today (the engine's clock).
    async fn usage(&self, tenant: &str) -> Result<TenantUsage>;

    /// Bytes of the artifacts the tenant's succeeded jobs keep (until they expire), for
    /// the plan's storage quota.
    async fn artifact_bytes(&self, tenant: &str) -> Result<u64>;

    /// Jobs waiting in `queue` (scheduled and retrying included), counted up to `cap`:
    /// back-pressure asks whether the queue is full without walking all of it.
    async fn queue_depth(&self, queue: &str, cap: u64) -> Result<u64>;

    /// Leases up to `limit` claimable jobs (state queued, `run_at` due) from `queues`,
    /// highest priority first, then oldest `run_at`, then id. Each claim increments the
    /// attempt, mints a fresh lease token and sets the lease expiry to now + `lease`.
    /// Two concurrent claimers never receive the same job.
    async fn claim(&self, worker: &str, queues: &[String], limit: usize, lease: Duration) -> Result<Vec<Claimed>> {
        self.claim_kinds(worker, queues, None, limit, lease).await
    }

    /// As [`Engine::claim`], only jobs of `kinds` when given (the kinds a worker has
    /// runners for): other kinds stay queued for workers that run them.
    async fn claim_kinds(
        &self,
        worker: &str,
        queues: &[String],
        kinds: Option<&[String]>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>>;

    /// Extends a lease to now + `lease`. `LeaseLost` when the token is stale.
    async fn heartbeat(&self, lease: &Lease, extend: Duration) -> Result<Control>;

    /// Records step, progress and message of a running job (fenced). Tells the job to
    /// stop when its tenant asked to cancel.
    async fn progress(&self, lease: &Lease, progress: Progress) -> Result<Control>;

    /// Marks the job succeeded with its output (fenced). Artifacts expire after the job's
    /// artifact TTL.
    async fn complete(&self, lease: &Lease, output: JobOutput) -> Result<Job>;

    /// Records a failure (fenced). A retryable failure with attempts left re-queues the
    /// job with exponential backoff and jitter; anything else fails it for good.
    async fn fail(&self, lease: &Lease, failure: JobFailure) -> Result<Job>;

    /// A running job acknowledges a cancel request: it becomes `cancelled` (fenced).
    async fn finish_cancelled(&self, lease: &Lease) -> Result<Job>;

    /// Hands a running job back to its queue without spending an attempt (shutdown).
    async fn release(&self, lease: &Lease) -> Result<Job>;

    /// Cancels a job: a queued one at once; a running one is flagged and stops at its next
    /// check. Cancelling a cancelled job is a no-op; other terminal states: `InvalidState`.
    async fn cancel(&self, tenant: Option<&str>, id: &JobId) -> Result<Job>;

    /// Re-queues a failed or cancelled job with a fresh set of attempts, under the same
    /// `admission` as a new job, atomically: the tenant's active jobs are capped, and a
    /// job not counted against a daily quota (never, or given back after a failure
    /// through the server's fault) is counted today. A job still counted is not counted
    /// again.
    async fn retry(&self, tenant: Option<&str>, id: &JobId, admission: &Admission) -> Result<Job>;

    /// One job, if it exists and (when `tenant` is given) belongs to that tenant.
    async fn get(&self, tenant: Option<&str>, id: &JobId) -> Result<Option<Job>>;

    /// Jobs matching the filter, newest first, one keyset page at a time.
    async fn list(&self, filter: &JobFilter) -> Result<JobPage>;

    /// Returns every running job whose lease expired before `now` to its queue (or to
    /// `cancelled` if a cancel was requested, or to `failed` when it was its last
    /// attempt). Safe to run from several sweepers at once. Returns the rescued ids.
    async fn rescue_expired(&self, now: DateTime<Utc>) -> Result<Vec<JobId>>;

    /// Succeeded jobs whose artifacts expire before `now`, oldest first.
    async fn due_for_expiry(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Job>>;

    /// Marks a succeeded job `expired` once its artifacts are deleted.
    async fn mark_expired(&self, id: &JobId) -> Result<Job>;

    /// Job changes from now on, from any process sharing the engine's database.
    fn subscribe(&self) -> broadcast::Receiver<JobEvent>;

    /// The engine's notion of now (a manual clock in tests).
    fn now(&self) -> DateTime<Utc>;

    /// Cheap liveness probe of the database (for `/readyz`).
    async fn ping(&self) -> Result<()>;
}
