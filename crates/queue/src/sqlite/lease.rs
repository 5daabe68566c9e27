//! A worker's writes: claim, then heartbeat, progress and one outcome (complete, fail,
//! finish_cancelled, release), each fenced by `id`, `state = 'running'` and the lease
//! token, so a stale worker gets `LeaseLost` instead of overwriting a newer attempt.

use std::time::Duration;

use std::collections::HashMap;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row};

use super::combine::{self, Pending};
use super::{SqliteEngine, duration_ms, ms};
use crate::engine::Result;
use crate::error::QueueError;
use crate::model::{Claimed, Control, Job, JobFailure, JobOutput, Lease, Progress};
use crate::rows as row;

/// The claim statement's head: every claimed row gets its own token, `nonce:id`.
const CLAIM_SET: &str = "UPDATE jobs SET state = 'running', attempt = attempt + 1,
        lease_token = ?1 || ':' || id, lease_owner = ?2, lease_expires_at = ?3,
        started_at = ?4, updated_at = ?4, step = NULL, progress = 0, message = NULL
     WHERE id IN ";

/// How many claimable rows a claim of `?5` looks at: the window within which tenants at
/// their running cap are passed over (fair claims).
const WINDOW: &str = "?5 + 64";

/// One queue's claimable rows in claim order; the partial index `jobs_claim` serves it
/// without sorting, stopping after the window.
/// `?6` is a JSON array of the kinds to claim, or NULL for any.
fn candidates(queue_param: usize) -> String {
    format!(
        "SELECT id, tenant, priority, run_at, running_cap FROM jobs
         WHERE state = 'queued' AND queue = ?{queue_param} AND run_at <= ?4
           AND (?6 IS NULL OR kind IN (SELECT value FROM json_each(?6)))
         ORDER BY priority DESC, run_at, id LIMIT {WINDOW}"
    )
}

/// The claim statement for `queues` queues: one queue is a plain index walk; several are
/// merged from each queue's best rows (each still an index walk). Within that window
/// each tenant's rows are ranked, and a row is taken only while the tenant's running
/// jobs plus its rank stay within its cap (the one writer makes this exact); the first
/// `limit` rows left are claimed.
fn claim_sql(queues: usize) -> String {
    let window = if queues == 1 {
        candidates(7)
    } else {
        let branches: Vec<String> = (0..queues).map(|i| format!("SELECT * FROM ({})", candidates(7 + i))).collect();
        format!("SELECT * FROM ({}) ORDER BY priority DESC, run_at, id LIMIT {WINDOW}", branches.join(" UNION ALL "))
    };
    let fair = format!(
        "SELECT id FROM (
            SELECT w.id, w.priority, w.run_at, w.running_cap,
                   COALESCE(b.n, 0) + row_number() OVER (PARTITION BY w.tenant
                                                         ORDER BY w.priority DESC, w.run_at, w.id) AS nth
            FROM ({window}) w
            LEFT JOIN (SELECT tenant, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY tenant) b
              ON b.tenant = w.tenant AND w.running_cap IS NOT NULL)
         WHERE running_cap IS NULL OR nth <= running_cap
         ORDER BY priority DESC, run_at, id LIMIT ?5"
    );
    format!("{CLAIM_SET}({fair}) RETURNING *")
}

pub(super) async fn claim(
    engine: &SqliteEngine,
    worker: &str,
    queues: &[String],
    kinds: Option<&[String]>,
    limit: usize,
    lease: Duration,
) -> Result<Vec<Claimed>> {
    let mut wanted: Vec<&str> = Vec::with_capacity(queues.len());
    for queue in queues {
        if !wanted.contains(&queue.as_str()) {
            wanted.push(queue);
        }
    }
    if wanted.is_empty() || limit == 0 || kinds.is_some_and(<[String]>::is_empty) {
        return Ok(Vec::new());
    }
    let kinds = kinds.map(row::to_json).transpose()?;
    let now = engine.config.clock.now();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let sql = claim_sql(wanted.len());
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(nonce)
        .bind(worker)
        .bind(ms(now) + duration_ms(lease))
        .bind(ms(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(kinds);
    for queue in wanted {
        query = query.bind(queue);
    }
    let rows = query.fetch_all(&mut *engine.writer().await?).await?;
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
    for c in &claimed {
        engine.publish(&c.job);
    }
    Ok(claimed)
}

pub(super) async fn heartbeat(engine: &SqliteEngine, lease: &Lease, extend: Duration) -> Result<Control> {
    let now = ms(engine.config.clock.now());
    let cancel: Option<bool> = sqlx::query_scalar(
        "UPDATE jobs SET lease_expires_at = ?3
         WHERE id = ?1 AND state = 'running' AND lease_token = ?2
         RETURNING cancel_requested",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(now + duration_ms(extend))
    .fetch_optional(&mut *engine.writer().await?)
    .await?;
    control(cancel.ok_or(QueueError::LeaseLost)?)
}

fn control(cancel_requested: bool) -> Result<Control> {
    Ok(if cancel_requested { Control::Cancel } else { Control::Continue })
}

pub(super) async fn progress(engine: &SqliteEngine, lease: &Lease, progress: Progress) -> Result<Control> {
    let progress = progress.bounded();
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET step = COALESCE(?3, step), progress = ?4, message = ?5, updated_at = ?6
         WHERE id = ?1 AND state = 'running' AND lease_token = ?2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(progress.step)
    .bind(progress.progress)
    .bind(progress.message)
    .bind(now)
    .fetch_optional(&mut *engine.writer().await?)
    .await?;
    let job = fenced(engine, updated)?;
    control(job.cancel_requested)
}

/// One completion, as the batch statement reads it from a JSON array.
#[derive(Debug, Serialize)]
pub(super) struct Completion {
    id: String,
    token: String,
    /// The output document as JSON text (kept verbatim).
    output: String,
}

const COMPLETE: &str = "UPDATE jobs SET state = 'succeeded', progress = 1, output = done.output,
        error = NULL, finished_at = ?2, updated_at = ?2,
        artifacts_expire_at = ?2 + COALESCE(artifact_ttl_ms, ?3),
        lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
    FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token,
                 json_extract(value, '$.output') AS output
          FROM json_each(?1)) AS done
    WHERE jobs.id = done.id AND jobs.state = 'running' AND jobs.lease_token = done.token
    RETURNING *";

/// Completes every job whose worker is waiting for the writer, in one statement (see
/// [`super::combine`]).
pub(super) async fn complete(engine: &SqliteEngine, lease: &Lease, output: JobOutput) -> Result<Job> {
    let mut rx = engine.completes.push(Completion {
        id: lease.job_id.0.clone(),
        token: lease.token.clone(),
        output: row::to_json(&output)?,
    });
    tokio::select! {
        biased;
        done = &mut rx => return combine::outcome(done),
        conn = engine.writer() => {
            let mut conn = conn?;
            let batch = engine.completes.take();
            if !batch.is_empty() {
                complete_batch(engine, &mut conn, batch).await;
            }
        }
    }
    combine::outcome(rx.await)
}

async fn complete_batch(engine: &SqliteEngine, conn: &mut SqliteConnection, batch: Vec<Pending<Completion, Job>>) {
    let requests: Vec<&Completion> = batch.iter().map(|(request, _)| request).collect();
    let now = ms(engine.config.clock.now());
    let done = async {
        let rows = sqlx::query(COMPLETE)
            .bind(row::to_json(&requests)?)
            .bind(now)
            .bind(duration_ms(engine.config.artifact_ttl))
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(|r| row::job(r).map(|job| (job.id.0.clone(), job))).collect::<Result<HashMap<_, _>>>()
    };
    let mut done = match done.await {
        Ok(done) => done,
        Err(e) => return combine::fail_all(batch, &e),
    };
    for (request, tx) in batch {
        // A job listed twice in one batch completes once; the other request lost the race.
        let outcome = done.remove(&request.id).ok_or(QueueError::LeaseLost);
        if let Ok(job) = &outcome {
            engine.publish(job);
        }
        let _ = tx.send(outcome);
    }
}

pub(super) async fn fail(engine: &SqliteEngine, lease: &Lease, mut failure: JobFailure) -> Result<Job> {
    let now = engine.config.clock.now();
    // The backoff depends on the attempt: read it and write the outcome in one transaction.
    let mut conn = engine.writer().await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let held = sqlx::query(
        "SELECT attempt, max_attempts, cancel_requested, step FROM jobs
         WHERE id = ?1 AND state = 'running' AND lease_token = ?2",
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
        "UPDATE jobs SET state = ?3, run_at = COALESCE(?4, run_at), finished_at = ?5,
            error = ?6, step = ?7, updated_at = ?8,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?1 AND state = 'running' AND lease_token = ?2
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
    fenced(engine, updated)
}

pub(super) async fn finish_cancelled(engine: &SqliteEngine, lease: &Lease) -> Result<Job> {
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'cancelled', finished_at = ?3, updated_at = ?3,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?1 AND state = 'running' AND lease_token = ?2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(now)
    .fetch_optional(&mut *engine.writer().await?)
    .await?;
    fenced(engine, updated)
}

pub(super) async fn release(engine: &SqliteEngine, lease: &Lease) -> Result<Job> {
    // Back to the queue with the attempt given back, keeping its place (`run_at`); a job
    // whose cancel was requested meanwhile is cancelled instead.
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET
            state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
            finished_at = CASE WHEN cancel_requested THEN ?3 ELSE NULL END,
            attempt = MAX(attempt - 1, 0), step = NULL, progress = 0, message = NULL,
            updated_at = ?3, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?1 AND state = 'running' AND lease_token = ?2
         RETURNING *",
    )
    .bind(lease.job_id.as_str())
    .bind(&lease.token)
    .bind(now)
    .fetch_optional(&mut *engine.writer().await?)
    .await?;
    fenced(engine, updated)
}

/// The result of a fenced write: the job (published) or `LeaseLost`.
fn fenced(engine: &SqliteEngine, updated: Option<SqliteRow>) -> Result<Job> {
    let job = row::job(&updated.ok_or(QueueError::LeaseLost)?)?;
    engine.publish(&job);
    Ok(job)
}
