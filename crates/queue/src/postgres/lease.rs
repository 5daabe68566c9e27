//! A worker's writes on PostgreSQL: claim, then heartbeat, progress and one outcome, each
//! fenced by `id`, `state = 'running'` and the lease token.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::completions::Completion;
use super::{PostgresEngine, duration_ms, ms};
use crate::engine::Result;
use crate::error::QueueError;
use crate::model::{Claimed, Control, Job, JobFailure, JobOutput, Lease, Progress};
use crate::rows as row;

/// Takes up to `$5` claimable rows of the queues `$6` in claim order, skipping rows
/// another claimer has locked, and leases them; every row gets its own token `nonce:id`.
/// The statement (`SELECT … ORDER BY … LIMIT … FOR UPDATE SKIP LOCKED` inside an
/// `UPDATE … RETURNING`) lives in the function `tintype_claim` (migration 2), whose
/// planner settings pin the ordered walk of the partial index `jobs_claim`.
const CLAIM: &str = "SELECT * FROM tintype_claim($1, $2, $3, $4, $5, $6, $7)";

pub(super) async fn claim(
    engine: &PostgresEngine,
    worker: &str,
    queues: &[String],
    kinds: Option<&[String]>,
    limit: usize,
    lease: Duration,
) -> Result<Vec<Claimed>> {
    if queues.is_empty() || limit == 0 || kinds.is_some_and(<[String]>::is_empty) {
        return Ok(Vec::new());
    }
    let now = engine.config.clock.now();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let rows = sqlx::query(CLAIM)
        .bind(nonce)
        .bind(worker)
        .bind(ms(now) + duration_ms(lease))
        .bind(ms(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(queues)
        .bind(kinds)
        .fetch_all(&engine.pool)
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for leased in &rows {
        let token: String = leased.try_get("lease_token")?;
        let job = row::job(leased)?;
        claimed.push(Claimed { lease: Lease { job_id: job.id.clone(), token }, job });
    }
    // RETURNING has no order: hand jobs out in claim order.
    claimed.sort_by(|a, b| {
        (b.job.priority.cmp(&a.job.priority)).then(a.job.run_at.cmp(&b.job.run_at)).then(a.job.id.cmp(&b.job.id))
    });
    Ok(claimed)
}

pub(super) async fn heartbeat(engine: &PostgresEngine, lease: &Lease, extend: Duration) -> Result<Control> {
    let now = ms(engine.config.clock.now());
    let cancel: Option<bool> = sqlx::query_scalar(
        "UPDATE jobs SET lease_expires_at = $3
         WHERE id = $1 AND state = 'running' AND lease_token = $2
         RETURNING cancel_requested",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(now + duration_ms(extend))
    .fetch_optional(&engine.pool)
    .await?;
    Ok(control(cancel.ok_or(QueueError::LeaseLost)?))
}

fn control(cancel_requested: bool) -> Control {
    if cancel_requested { Control::Cancel } else { Control::Continue }
}

pub(super) async fn progress(engine: &PostgresEngine, lease: &Lease, progress: Progress) -> Result<Control> {
    let progress = progress.bounded();
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET step = COALESCE($3, step), progress = $4, message = $5, updated_at = $6
         WHERE id = $1 AND state = 'running' AND lease_token = $2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(progress.step)
    .bind(progress.progress)
    .bind(progress.message)
    .bind(now)
    .fetch_optional(&engine.pool)
    .await?;
    Ok(control(fenced(updated)?.cancel_requested))
}

/// Completes the job, in one statement with the other completions of the moment (see
/// [`super::completions`]).
pub(super) async fn complete(engine: &PostgresEngine, lease: &Lease, output: JobOutput) -> Result<Job> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    let request =
        Completion { id: lease.job_id.0.clone(), token: lease.token.clone(), output: row::to_json(&output)?, reply };
    let stopped = || QueueError::internal("the completer has stopped");
    engine.completes.send(request).map_err(|_| stopped())?;
    rx.await.map_err(|_| stopped())?
}

pub(super) async fn fail(engine: &PostgresEngine, lease: &Lease, mut failure: JobFailure) -> Result<Job> {
    let now = engine.config.clock.now();
    // The backoff depends on the attempt: read it (locking the row) and write the outcome
    // in one transaction.
    let mut tx = engine.pool.begin().await?;
    let held = sqlx::query(
        "SELECT attempt, max_attempts, cancel_requested, step FROM jobs
         WHERE id = $1 AND state = 'running' AND lease_token = $2
         FOR UPDATE",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(QueueError::LeaseLost)?;
    let attempt: i32 = held.try_get("attempt")?;
    let max_attempts: i32 = held.try_get("max_attempts")?;
    let cancel_requested: bool = held.try_get("cancel_requested")?;
    if failure.step.is_none() {
        failure.step = held.try_get("step")?;
    }
    let again = failure.retryable && attempt < max_attempts;
    let (state, run_at, finished_at) = match (again, cancel_requested) {
        // A job its tenant cancelled is not brought back by a transient failure.
        (true, true) => ("cancelled", None, Some(ms(now))),
        (true, false) => {
            let delay = engine.config.retry.delay_random(attempt);
            ("queued", Some(ms(now) + duration_ms(delay)), None)
        }
        (false, _) => ("failed", None, Some(ms(now))),
    };
    let updated = sqlx::query(
        "UPDATE jobs SET state = $3, run_at = COALESCE($4, run_at), finished_at = $5,
            error = $6, step = $7, updated_at = $8,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND state = 'running' AND lease_token = $2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(state)
    .bind(run_at)
    .bind(finished_at)
    .bind(row::to_json(&failure)?)
    .bind(&failure.step)
    .bind(ms(now))
    .fetch_optional(&mut *tx)
    .await?;
    // Failed for good through the server's fault: the daily quota goes back.
    if state == "failed" && failure.server_fault && updated.is_some() {
        super::jobs::give_back(&mut tx, lease.job_id.as_str()).await?;
    }
    tx.commit().await?;
    fenced(updated)
}

pub(super) async fn finish_cancelled(engine: &PostgresEngine, lease: &Lease) -> Result<Job> {
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = $3, updated_at = $3,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND state = 'running' AND lease_token = $2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(now)
    .fetch_optional(&engine.pool)
    .await?;
    fenced(updated)
}

pub(super) async fn release(engine: &PostgresEngine, lease: &Lease) -> Result<Job> {
    // Back to the queue with the attempt given back, keeping its place (`run_at`); a job
    // whose cancel was requested meanwhile is cancelled instead.
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET
            state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
            finished_at = CASE WHEN cancel_requested THEN $3 ELSE NULL END,
            attempt = GREATEST(attempt - 1, 0), step = NULL, progress = 0, message = NULL,
            updated_at = $3, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND state = 'running' AND lease_token = $2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(now)
    .fetch_optional(&engine.pool)
    .await?;
    fenced(updated)
}

/// The result of a fenced write: the job or `LeaseLost`. (The trigger publishes it.)
fn fenced(updated: Option<PgRow>) -> Result<Job> {
    row::job(&updated.ok_or(QueueError::LeaseLost)?)
}
