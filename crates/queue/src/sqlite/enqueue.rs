//! Enqueue: validation, then one idempotent `INSERT … ON CONFLICT (tenant,
//! idempotency_key) DO NOTHING RETURNING *` for every enqueue waiting for the writer
//! (see [`super::combine`]). A request whose row did not come back reused a key: the
//! stored job is returned if its fingerprint matches, else `IdempotencyConflict`.
//!
//! An enqueue with an admission cap or a daily quota is not combined: it takes the
//! writer for one `BEGIN IMMEDIATE` transaction (so processes sharing the file cannot
//! interleave) that replays an idempotent request, counts the tenant's active jobs,
//! takes one of the quota and inserts.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::combine::{self, Pending};
use super::{SqliteEngine, duration_ms, ms};
use crate::admission;
use crate::engine::Result;
use crate::error::QueueError;
use crate::model::{Admission, Enqueued, Job, JobId, NewJob};
use crate::rows as row;

/// One job to insert, as the batch statement reads it from a JSON array.
#[derive(Debug, Serialize)]
pub(super) struct NewRow {
    id: String,
    tenant: String,
    kind: String,
    queue: String,
    priority: i32,
    max_attempts: i32,
    run_at: i64,
    idempotency_key: Option<String>,
    fingerprint: String,
    /// The input document as JSON text (kept verbatim, never re-parsed by SQLite).
    input: String,
    correlation_id: Option<String>,
    artifact_ttl_ms: Option<i64>,
    created_at: i64,
    /// The daily quota class and day the job is counted against.
    quota_class: Option<String>,
    quota_day: Option<String>,
    running_cap: Option<u32>,
}

const INSERT: &str = "INSERT INTO jobs (id, tenant, kind, queue, priority, state, progress,
        attempt, max_attempts, run_at, cancel_requested, idempotency_key, fingerprint, input,
        correlation_id, artifact_ttl_ms, created_at, updated_at, quota_class, quota_day, running_cap)
    SELECT json_extract(value, '$.id'), json_extract(value, '$.tenant'),
        json_extract(value, '$.kind'), json_extract(value, '$.queue'),
        json_extract(value, '$.priority'), 'queued', 0, 0, json_extract(value, '$.max_attempts'),
        json_extract(value, '$.run_at'), 0, json_extract(value, '$.idempotency_key'),
        json_extract(value, '$.fingerprint'), json_extract(value, '$.input'),
        json_extract(value, '$.correlation_id'), json_extract(value, '$.artifact_ttl_ms'),
        json_extract(value, '$.created_at'), json_extract(value, '$.created_at'),
        json_extract(value, '$.quota_class'), json_extract(value, '$.quota_day'),
        json_extract(value, '$.running_cap')
    FROM json_each(?1) WHERE true
    ON CONFLICT (tenant, idempotency_key) DO NOTHING
    RETURNING *";

pub(super) async fn enqueue(engine: &SqliteEngine, new: NewJob) -> Result<Enqueued> {
    new.validate()?;
    let admission = new.admission.clone();
    let request = new_row(engine, new)?;
    if !admission.is_empty() {
        return admitted(engine, request, &admission).await;
    }
    let mut rx = engine.enqueues.push(request);
    tokio::select! {
        biased;
        done = &mut rx => return combine::outcome(done),
        conn = engine.writer() => {
            let mut conn = conn?;
            let batch = engine.enqueues.take();
            if !batch.is_empty() {
                insert_batch(engine, &mut conn, batch).await;
            }
        }
    }
    combine::outcome(rx.await)
}

/// One enqueue under a cap on the tenant's active jobs or a daily quota, in one
/// immediate transaction.
async fn admitted(engine: &SqliteEngine, request: NewRow, rules: &Admission) -> Result<Enqueued> {
    let mut conn = engine.writer().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    if let Some(replay) = replayed(&mut tx, &request).await? {
        return Ok(replay);
    }
    if let Some(cap) = rules.max_active {
        let active: i64 = sqlx::query_scalar(admission::ACTIVE).bind(&request.tenant).fetch_one(&mut *tx).await?;
        admission::check(active, cap)?;
    }
    if let (Some(quota), Some(day)) = (&rules.daily, &request.quota_day) {
        super::jobs::take_quota(&mut tx, &request.tenant, quota, day).await?;
    }
    let mut inserted = insert(&mut tx, &[&request]).await?;
    tx.commit().await?;
    let job = inserted.remove(&request.id).ok_or_else(|| QueueError::corrupt("an admitted insert returned nothing"))?;
    engine.publish(&job);
    Ok(Enqueued { job, created: true })
}

/// The row an enqueue inserts.
fn new_row(engine: &SqliteEngine, new: NewJob) -> Result<NewRow> {
    let now = engine.config.clock.now();
    let quota_day = new.admission.daily.as_ref().map(|_| tintype_plans::quota_day(now).0);
    let now = ms(now);
    Ok(NewRow {
        quota_class: new.admission.daily.as_ref().map(|q| q.class.clone()),
        quota_day,
        running_cap: new.running_cap,
        id: JobId::new().0,
        fingerprint: new.fingerprint(),
        input: row::to_json(&new.input)?,
        run_at: new.run_at.map_or(now, ms),
        artifact_ttl_ms: new.artifact_ttl.map(duration_ms),
        created_at: now,
        tenant: new.tenant,
        kind: new.kind,
        queue: new.queue,
        priority: new.priority,
        max_attempts: new.max_attempts,
        idempotency_key: new.idempotency_key,
        correlation_id: new.correlation_id,
    })
}

async fn insert_batch(engine: &SqliteEngine, conn: &mut SqliteConnection, batch: Vec<Pending<NewRow, Enqueued>>) {
    let rows: Vec<&NewRow> = batch.iter().map(|(request, _)| request).collect();
    let inserted = match insert(conn, &rows).await {
        Ok(inserted) => inserted,
        Err(e) => return combine::fail_all(batch, &e),
    };
    for (request, tx) in batch {
        let outcome = match inserted.get(&request.id) {
            Some(job) => {
                engine.publish(job);
                Ok(Enqueued { job: job.clone(), created: true })
            }
            None => existing(conn, &request).await,
        };
        let _ = tx.send(outcome);
    }
}

async fn insert(conn: &mut SqliteConnection, rows: &[&NewRow]) -> Result<HashMap<String, Job>> {
    let rows = sqlx::query(INSERT).bind(row::to_json(&rows)?).fetch_all(conn).await?;
    rows.iter().map(|r| row::job(r).map(|job| (job.id.0.clone(), job))).collect()
}

/// The job an earlier enqueue made with the same key: the same request, or a conflict.
async fn existing(conn: &mut SqliteConnection, request: &NewRow) -> Result<Enqueued> {
    replayed(conn, request).await?.ok_or_else(|| QueueError::corrupt("a conflicting job vanished"))
}

/// As [`existing`], `None` when no job has the request's key (or it has none).
async fn replayed(conn: &mut SqliteConnection, request: &NewRow) -> Result<Option<Enqueued>> {
    if request.idempotency_key.is_none() {
        return Ok(None);
    }
    let stored = sqlx::query("SELECT * FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2")
        .bind(&request.tenant)
        .bind(&request.idempotency_key)
        .fetch_optional(conn)
        .await?;
    let Some(stored) = stored else { return Ok(None) };
    let fingerprint: String = stored.try_get("fingerprint")?;
    if fingerprint != request.fingerprint {
        return Err(QueueError::IdempotencyConflict);
    }
    Ok(Some(Enqueued { job: row::job(&stored)?, created: false }))
}
