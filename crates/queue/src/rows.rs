//! Decoding `jobs` rows, for both drivers: columns read by name, so every query may
//! `RETURNING *` or `SELECT *` (one decoder serves SQLite and PostgreSQL rows alike, as
//! `tintype_db::rows` explains).

use sqlx::{ColumnIndex, Decode, Row, Type};
pub(crate) use tintype_db::rows::to_json;
use tintype_db::rows::{json, opt_json, opt_time, time};

use crate::engine::Result;
use crate::error::QueueError;
use crate::model::{Job, JobId, JobState, QueueCount};

/// A `jobs` row.
pub(crate) fn job<'r, R>(row: &'r R) -> Result<Job>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    f64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let state: String = row.try_get("state")?;
    Ok(Job {
        id: JobId(row.try_get("id")?),
        tenant: row.try_get("tenant")?,
        kind: row.try_get("kind")?,
        queue: row.try_get("queue")?,
        priority: row.try_get("priority")?,
        state: JobState::parse(&state).ok_or_else(|| QueueError::corrupt(format!("unknown job state {state:?}")))?,
        step: row.try_get("step")?,
        progress: row.try_get("progress")?,
        message: row.try_get("message")?,
        attempt: row.try_get("attempt")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: time(row.try_get("run_at")?)?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: opt_time(row.try_get("lease_expires_at")?)?,
        cancel_requested: row.try_get("cancel_requested")?,
        idempotency_key: row.try_get("idempotency_key")?,
        input: json(row.try_get("input")?)?,
        output: opt_json(row.try_get("output")?)?,
        error: opt_json(row.try_get("error")?)?,
        correlation_id: row.try_get("correlation_id")?,
        created_at: time(row.try_get("created_at")?)?,
        started_at: opt_time(row.try_get("started_at")?)?,
        finished_at: opt_time(row.try_get("finished_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
        artifacts_expire_at: opt_time(row.try_get("artifacts_expire_at")?)?,
    })
}

/// Active jobs per queue and state, for both drivers.
pub(crate) const COUNTS: &str = "SELECT queue, state, count(*) AS n FROM jobs
     WHERE state IN ('queued', 'running') GROUP BY queue, state ORDER BY queue, state";

/// A row of [`COUNTS`].
pub(crate) fn queue_count<'r, R>(row: &'r R) -> Result<QueueCount>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let state: String = row.try_get("state")?;
    let n: i64 = row.try_get("n")?;
    Ok(QueueCount {
        queue: row.try_get("queue")?,
        state: JobState::parse(&state).ok_or_else(|| QueueError::corrupt(format!("unknown job state {state:?}")))?,
        count: tintype_db::rows::to_u64(n, "count")?,
    })
}
