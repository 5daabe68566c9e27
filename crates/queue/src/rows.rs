//! Decoding rows into the model, for every driver: one function per table, reading
//! columns by name, so every query may `RETURNING *` or `SELECT *`. Both schemas store
//! timestamps as integer unix milliseconds and documents as JSON text, so one decoder
//! serves SQLite and PostgreSQL rows alike.

use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::catalog::{ApiKey, Upload};
use crate::engine::Result;
use crate::error::QueueError;
use crate::model::{Job, JobId, JobState};

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
        state: JobState::parse(&state).ok_or_else(|| QueueError::Corrupt(format!("unknown job state {state:?}")))?,
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

/// An `api_keys` row.
pub(crate) fn api_key<'r, R>(row: &'r R) -> Result<ApiKey>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(ApiKey {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        plan: row.try_get("plan")?,
        key_hash: row.try_get("key_hash")?,
        label: row.try_get("label")?,
        created_at: time(row.try_get("created_at")?)?,
        revoked_at: opt_time(row.try_get("revoked_at")?)?,
    })
}

/// An `uploads` row.
pub(crate) fn upload<'r, R>(row: &'r R) -> Result<Upload>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let bytes: i64 = row.try_get("bytes")?;
    Ok(Upload {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        sha256: row.try_get("sha256")?,
        bytes: u64::try_from(bytes).map_err(|_| QueueError::Corrupt(format!("negative upload size {bytes}")))?,
        content_type: row.try_get("content_type")?,
        filename: row.try_get("filename")?,
        blob_key: row.try_get("blob_key")?,
        created_at: time(row.try_get("created_at")?)?,
    })
}

/// A stored unix-milliseconds timestamp.
pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| QueueError::Corrupt(format!("timestamp out of range: {ms}")))
}

fn opt_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(time).transpose()
}

fn json<T: DeserializeOwned>(text: String) -> Result<T> {
    serde_json::from_str(&text).map_err(|e| QueueError::Corrupt(format!("bad JSON column: {e}")))
}

fn opt_json<T: DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.map(json).transpose()
}

/// A document to store as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| QueueError::Invalid(format!("unserializable document: {e}")))
}
