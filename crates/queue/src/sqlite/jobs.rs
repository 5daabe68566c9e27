//! Job operations that are neither a worker's nor enqueue: cancel, retry, get, list,
//! lease rescue and artifact expiry. Each is one statement on the writer; when it
//! touches no row, a read on the same (held) writer connection says why.

use chrono::{DateTime, Utc};
use sqlx::Executor;
use sqlx::sqlite::{Sqlite, SqliteConnection};

use super::{SqliteEngine, ms};
use crate::admission;
use crate::engine::Result;
use crate::error::QueueError;
use crate::listing;
use crate::model::{Admission, Job, JobFilter, JobId, JobPage, JobState, QueueCount, TenantUsage};
use crate::rows::{self as row, COUNTS};

pub(super) async fn cancel(engine: &SqliteEngine, tenant: Option<&str>, id: &JobId) -> Result<Job> {
    let now = ms(engine.config.clock.now());
    let mut conn = engine.writer().await?;
    let updated = sqlx::query(
        "UPDATE jobs SET
            state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
            cancel_requested = CASE WHEN state = 'running' THEN 1 ELSE cancel_requested END,
            finished_at = CASE WHEN state = 'queued' THEN ?3 ELSE finished_at END,
            updated_at = ?3
         WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2) AND state IN ('queued', 'running')
         RETURNING *",
    )
    .bind(id.as_str())
    .bind(tenant)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match updated {
        Some(updated) => {
            let job = row::job(&updated)?;
            engine.publish(&job);
            Ok(job)
        }
        None => match get(&mut *conn, tenant, id).await? {
            None => Err(QueueError::NotFound),
            Some(job) if job.state == JobState::Cancelled => Ok(job),
            Some(job) => Err(QueueError::InvalidState(job.state)),
        },
    }
}

pub(super) async fn retry(
    engine: &SqliteEngine,
    tenant: Option<&str>,
    id: &JobId,
    admission: &Admission,
) -> Result<Job> {
    let clock = engine.config.clock.now();
    let now = ms(clock);
    let mut conn = engine.writer().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    let held: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT tenant, quota_class FROM jobs
         WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2) AND state IN ('failed', 'cancelled')",
    )
    .bind(id.as_str())
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((owner, counted)) = held {
        if let Some(cap) = admission.max_active {
            let active: i64 = sqlx::query_scalar(admission::ACTIVE).bind(&owner).fetch_one(&mut *tx).await?;
            admission::check(active, cap)?;
        }
        if let (Some(quota), None) = (&admission.daily, counted) {
            let day = tintype_plans::quota_day(clock).0;
            take_quota(&mut tx, &owner, quota, &day).await?;
            sqlx::query(admission::COUNT_JOB).bind(id.as_str()).bind(&quota.class).bind(&day).execute(&mut *tx).await?;
        }
    }
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempt = 0, cancel_requested = 0, error = NULL,
            step = NULL, progress = 0, message = NULL, run_at = ?3, finished_at = NULL,
            updated_at = ?3
         WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2) AND state IN ('failed', 'cancelled')
         RETURNING *",
    )
    .bind(id.as_str())
    .bind(tenant)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    finish_guarded(engine, &mut conn, updated, tenant, id).await
}

pub(super) async fn mark_expired(engine: &SqliteEngine, id: &JobId) -> Result<Job> {
    let now = ms(engine.config.clock.now());
    let mut conn = engine.writer().await?;
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'expired', updated_at = ?2
         WHERE id = ?1 AND state = 'succeeded'
         RETURNING *",
    )
    .bind(id.as_str())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    finish_guarded(engine, &mut conn, updated, None, id).await
}

/// The end of a state-guarded update: the changed job (published), or why nothing changed.
async fn finish_guarded(
    engine: &SqliteEngine,
    conn: &mut SqliteConnection,
    updated: Option<sqlx::sqlite::SqliteRow>,
    tenant: Option<&str>,
    id: &JobId,
) -> Result<Job> {
    if let Some(updated) = updated {
        let job = row::job(&updated)?;
        engine.publish(&job);
        return Ok(job);
    }
    match get(conn, tenant, id).await? {
        None => Err(QueueError::NotFound),
        Some(job) => Err(QueueError::InvalidState(job.state)),
    }
}

pub(super) async fn get<'e, E>(executor: E, tenant: Option<&str>, id: &JobId) -> Result<Option<Job>>
where
    E: Executor<'e, Database = Sqlite>,
{
    let found = sqlx::query("SELECT * FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)")
        .bind(id.as_str())
        .bind(tenant)
        .fetch_optional(executor)
        .await?;
    found.as_ref().map(row::job).transpose()
}

pub(super) async fn list(engine: &SqliteEngine, filter: &JobFilter) -> Result<JobPage> {
    let size = listing::page_size(filter);
    let rows = listing::query::<Sqlite>(filter, size).build().fetch_all(engine.reader()).await?;
    Ok(listing::page(rows.iter().map(row::job).collect::<Result<Vec<_>>>()?, size))
}

pub(super) async fn rescue_expired(engine: &SqliteEngine, now: DateTime<Utc>) -> Result<Vec<JobId>> {
    // One set-based, state-guarded statement: a concurrent sweeper finds nothing left.
    // A job failed this way failed through the server's fault (its worker died): it gives
    // its daily quota back, in the same transaction.
    let mut conn = engine.writer().await?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(
        "UPDATE jobs SET
            state = CASE WHEN cancel_requested THEN 'cancelled'
                         WHEN attempt >= max_attempts THEN 'failed'
                         ELSE 'queued' END,
            run_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN run_at
                          ELSE ?1 END,
            finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN ?1
                               ELSE NULL END,
            error = CASE WHEN cancel_requested THEN error
                         ELSE json_object('code', ?2,
                                          'message', 'the worker stopped renewing its lease',
                                          'step', step,
                                          'retryable', json(CASE WHEN attempt >= max_attempts
                                                                 THEN 'false' ELSE 'true' END))
                         END,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1
         WHERE state = 'running' AND lease_expires_at < ?1
         RETURNING *",
    )
    .bind(ms(now))
    .bind(crate::error::LEASE_EXPIRED.name())
    .fetch_all(&mut *tx)
    .await?;
    let jobs = rows.iter().map(row::job).collect::<Result<Vec<Job>>>()?;
    for job in jobs.iter().filter(|j| j.state == JobState::Failed) {
        give_back(&mut tx, job.id.as_str()).await?;
    }
    tx.commit().await?;
    let mut ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        engine.publish(&job);
        ids.push(job.id);
    }
    Ok(ids)
}

pub(super) async fn due_for_expiry(engine: &SqliteEngine, now: DateTime<Utc>, limit: u32) -> Result<Vec<Job>> {
    let rows = sqlx::query(
        "SELECT * FROM jobs WHERE state = 'succeeded' AND artifacts_expire_at < ?1
         ORDER BY artifacts_expire_at, id LIMIT ?2",
    )
    .bind(ms(now))
    .bind(i64::from(limit))
    .fetch_all(engine.reader())
    .await?;
    rows.iter().map(row::job).collect()
}

pub(super) async fn usage(engine: &SqliteEngine, tenant: &str) -> Result<TenantUsage> {
    let day = tintype_plans::quota_day(engine.config.clock.now()).0;
    let active: i64 = sqlx::query_scalar(admission::ACTIVE).bind(tenant).fetch_one(engine.reader()).await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as(admission::USED).bind(tenant).bind(&day).fetch_all(engine.reader()).await?;
    let daily = rows.into_iter().map(|(class, used)| (class, used.max(0) as u64)).collect();
    Ok(TenantUsage { day, active: active.max(0) as u64, daily })
}

/// Takes one of the tenant's daily `quota` on `day`, or refuses (in the caller's
/// transaction).
pub(super) async fn take_quota(
    conn: &mut sqlx::SqliteConnection,
    tenant: &str,
    quota: &crate::model::DailyQuota,
    day: &str,
) -> Result<()> {
    admission::check_quota(quota)?;
    let taken: Option<i64> = sqlx::query_scalar(admission::TAKE)
        .bind(tenant)
        .bind(day)
        .bind(&quota.class)
        .bind(i64::try_from(quota.limit).unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await?;
    taken.map(drop).ok_or_else(|| admission::refused(quota))
}

/// Gives back the daily quota job `id` was counted against, once (in the caller's
/// transaction).
pub(super) async fn give_back(conn: &mut sqlx::SqliteConnection, id: &str) -> Result<()> {
    sqlx::query(admission::GIVE_BACK).bind(id).execute(&mut *conn).await?;
    sqlx::query(admission::FORGET).bind(id).execute(&mut *conn).await?;
    Ok(())
}

pub(super) async fn counts(engine: &SqliteEngine) -> Result<Vec<QueueCount>> {
    let rows = sqlx::query(COUNTS).fetch_all(engine.reader()).await?;
    rows.iter().map(row::queue_count).collect()
}
