//! Enqueue and the job operations that are not a worker's, on PostgreSQL. Each is one
//! state-guarded statement; when it touches no row, a read says why.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
use sqlx::{Executor, Row};

use super::{PostgresEngine, duration_ms, ms};
use crate::admission;
use crate::engine::Result;
use crate::error::QueueError;
use crate::listing;
use crate::model::{Admission, Enqueued, Job, JobFilter, JobId, JobPage, JobState, NewJob, QueueCount, TenantUsage};
use crate::rows as row;

/// One idempotent insert; a request whose row did not come back reused a key: the stored
/// job is returned if its fingerprint matches, else `IdempotencyConflict`. Under an
/// admission cap, one transaction holding the tenant's advisory lock replays, counts and
/// inserts, so concurrent enqueues of one tenant (from any process) are admitted in turn.
pub(super) async fn enqueue(engine: &PostgresEngine, new: NewJob) -> Result<Enqueued> {
    new.validate()?;
    if new.admission.is_empty() {
        let mut conn = engine.pool.acquire().await?;
        return insert_or_replay(engine, &mut conn, &new, None).await;
    }
    let quota_day = new.admission.daily.as_ref().map(|_| tintype_plans::quota_day(engine.config.clock.now()).0);
    let mut tx = engine.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tintype_admit'), hashtext($1))")
        .bind(&new.tenant)
        .execute(&mut *tx)
        .await?;
    if let Some(replay) = replayed(&mut tx, &new).await? {
        return Ok(replay);
    }
    if let Some(cap) = new.admission.max_active {
        let active: i64 = sqlx::query_scalar(admission::ACTIVE).bind(&new.tenant).fetch_one(&mut *tx).await?;
        admission::check(active, cap)?;
    }
    if let (Some(quota), Some(day)) = (&new.admission.daily, &quota_day) {
        take_quota(&mut tx, &new.tenant, quota, day).await?;
    }
    let done = insert_or_replay(engine, &mut tx, &new, quota_day.as_deref()).await?;
    tx.commit().await?;
    Ok(done)
}

/// The insert (or the replay of an earlier one with the key); `quota_day` is the day the
/// job was counted against its daily quota on, if it was.
async fn insert_or_replay(
    engine: &PostgresEngine,
    conn: &mut PgConnection,
    new: &NewJob,
    quota_day: Option<&str>,
) -> Result<Enqueued> {
    let now = ms(engine.config.clock.now());
    let quota_class = quota_day.and(new.admission.daily.as_ref()).map(|q| q.class.as_str());
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, tenant, kind, queue, priority, state, progress, attempt, max_attempts,
            run_at, cancel_requested, idempotency_key, fingerprint, input, correlation_id,
            artifact_ttl_ms, created_at, updated_at, quota_class, quota_day, running_cap)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, 0, $6, $7, false, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16)
         ON CONFLICT (tenant, idempotency_key) DO NOTHING
         RETURNING *",
    )
    .bind(JobId::new().0)
    .bind(&new.tenant)
    .bind(&new.kind)
    .bind(&new.queue)
    .bind(new.priority)
    .bind(new.max_attempts)
    .bind(new.run_at.map_or(now, ms))
    .bind(&new.idempotency_key)
    .bind(new.fingerprint())
    .bind(row::to_json(&new.input)?)
    .bind(&new.correlation_id)
    .bind(new.artifact_ttl.map(duration_ms))
    .bind(now)
    .bind(quota_class)
    .bind(quota_day)
    .bind(new.running_cap.map(i64::from))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(inserted) = inserted {
        return Ok(Enqueued { job: row::job(&inserted)?, created: true });
    }
    replayed(conn, new).await?.ok_or_else(|| QueueError::corrupt("a conflicting job vanished"))
}

/// The job an earlier enqueue made with the same key: the same request (`Some`), a
/// conflict, or `None` when no job has the key (or the request has none).
async fn replayed(conn: &mut PgConnection, new: &NewJob) -> Result<Option<Enqueued>> {
    if new.idempotency_key.is_none() {
        return Ok(None);
    }
    let stored = sqlx::query("SELECT * FROM jobs WHERE tenant = $1 AND idempotency_key = $2")
        .bind(&new.tenant)
        .bind(&new.idempotency_key)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(stored) = stored else { return Ok(None) };
    let stored_fingerprint: String = stored.try_get("fingerprint")?;
    if stored_fingerprint != new.fingerprint() {
        return Err(QueueError::IdempotencyConflict);
    }
    Ok(Some(Enqueued { job: row::job(&stored)?, created: false }))
}

pub(super) async fn usage(engine: &PostgresEngine, tenant: &str) -> Result<TenantUsage> {
    let day = tintype_plans::quota_day(engine.config.clock.now()).0;
    let active: i64 = sqlx::query_scalar(admission::ACTIVE).bind(tenant).fetch_one(&engine.pool).await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as(admission::USED).bind(tenant).bind(&day).fetch_all(&engine.pool).await?;
    let daily = rows.into_iter().map(|(class, used)| (class, used.max(0) as u64)).collect();
    Ok(TenantUsage { day, active: active.max(0) as u64, daily })
}

/// Takes one of the tenant's daily `quota` on `day`, or refuses (in the caller's
/// transaction).
async fn take_quota(conn: &mut PgConnection, tenant: &str, quota: &crate::model::DailyQuota, day: &str) -> Result<()> {
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
pub(super) async fn give_back(conn: &mut PgConnection, id: &str) -> Result<()> {
    sqlx::query(admission::GIVE_BACK).bind(id).execute(&mut *conn).await?;
    sqlx::query(admission::FORGET).bind(id).execute(&mut *conn).await?;
    Ok(())
}

pub(super) async fn counts(engine: &PostgresEngine) -> Result<Vec<QueueCount>> {
    let rows = sqlx::query(row::COUNTS).fetch_all(&engine.pool).await?;
    rows.iter().map(row::queue_count).collect()
}

pub(super) async fn cancel(engine: &PostgresEngine, tenant: Option<&str>, id: &JobId) -> Result<Job> {
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET
            state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
            cancel_requested = CASE WHEN state = 'running' THEN true ELSE cancel_requested END,
            finished_at = CASE WHEN state = 'queued' THEN $3 ELSE finished_at END,
            updated_at = $3
         WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND state IN ('queued', 'running')
         RETURNING *",
    )
    .bind(id.as_str())
    .bind(tenant)
    .bind(now)
    .fetch_optional(&engine.pool)
    .await?;
    match updated {
        Some(updated) => row::job(&updated),
        None => match get(&engine.pool, tenant, id).await? {
            None => Err(QueueError::NotFound),
            Some(job) if job.state == JobState::Cancelled => Ok(job),
            Some(job) => Err(QueueError::InvalidState(job.state)),
        },
    }
}

pub(super) async fn retry(
    engine: &PostgresEngine,
    tenant: Option<&str>,
    id: &JobId,
    admission: &Admission,
) -> Result<Job> {
    let clock = engine.config.clock.now();
    let now = ms(clock);
    let mut tx = engine.pool.begin().await?;
    let owner: Option<String> =
        sqlx::query_scalar("SELECT tenant FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)")
            .bind(id.as_str())
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(owner) = owner.filter(|_| !admission.is_empty()) {
        // The same lock as a capped enqueue: the tenant's admissions happen in turn.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tintype_admit'), hashtext($1))")
            .bind(&owner)
            .execute(&mut *tx)
            .await?;
        let held: Option<Option<String>> = sqlx::query_scalar(
            "SELECT quota_class FROM jobs WHERE id = $1 AND state IN ('failed', 'cancelled') FOR UPDATE",
        )
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(counted) = held {
            if let Some(cap) = admission.max_active {
                let active: i64 = sqlx::query_scalar(admission::ACTIVE).bind(&owner).fetch_one(&mut *tx).await?;
                admission::check(active, cap)?;
            }
            if let (Some(quota), None) = (&admission.daily, counted) {
                let day = tintype_plans::quota_day(clock).0;
                take_quota(&mut tx, &owner, quota, &day).await?;
                sqlx::query(admission::COUNT_JOB)
                    .bind(id.as_str())
                    .bind(&quota.class)
                    .bind(&day)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempt = 0, cancel_requested = false, error = NULL,
            step = NULL, progress = 0, message = NULL, run_at = $3, finished_at = NULL,
            updated_at = $3
         WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND state IN ('failed', 'cancelled')
         RETURNING *",
    )
    .bind(id.as_str())
    .bind(tenant)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    guarded(&engine.pool, updated, tenant, id).await
}

pub(super) async fn mark_expired(engine: &PostgresEngine, id: &JobId) -> Result<Job> {
    let now = ms(engine.config.clock.now());
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'expired', updated_at = $2
         WHERE id = $1 AND state = 'succeeded'
         RETURNING *",
    )
    .bind(id.as_str())
    .bind(now)
    .fetch_optional(&engine.pool)
    .await?;
    guarded(&engine.pool, updated, None, id).await
}

/// The end of a state-guarded update: the changed job, or why nothing changed.
async fn guarded(pool: &PgPool, updated: Option<PgRow>, tenant: Option<&str>, id: &JobId) -> Result<Job> {
    if let Some(updated) = updated {
        return row::job(&updated);
    }
    match get(pool, tenant, id).await? {
        None => Err(QueueError::NotFound),
        Some(job) => Err(QueueError::InvalidState(job.state)),
    }
}

pub(super) async fn get<'e, E>(executor: E, tenant: Option<&str>, id: &JobId) -> Result<Option<Job>>
where
    E: Executor<'e, Database = Postgres>,
{
    let found = sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)")
        .bind(id.as_str())
        .bind(tenant)
        .fetch_optional(executor)
        .await?;
    found.as_ref().map(row::job).transpose()
}

pub(super) async fn list(engine: &PostgresEngine, filter: &JobFilter) -> Result<JobPage> {
    let size = listing::page_size(filter);
    let rows = listing::query::<Postgres>(filter, size).build().fetch_all(&engine.pool).await?;
    Ok(listing::page(rows.iter().map(row::job).collect::<Result<Vec<_>>>()?, size))
}

pub(super) async fn rescue_expired(engine: &PostgresEngine, now: DateTime<Utc>) -> Result<Vec<JobId>> {
    // One set-based, state-guarded statement: under READ COMMITTED a concurrent sweeper
    // waits for this one's row locks, re-checks `state = 'running'` and finds nothing.
    // A job failed this way failed through the server's fault (its worker died): it gives
    // its daily quota back, in the same transaction.
    let mut tx = engine.pool.begin().await?;
    let rows = sqlx::query(
        "UPDATE jobs SET
            state = CASE WHEN cancel_requested THEN 'cancelled'
                         WHEN attempt >= max_attempts THEN 'failed'
                         ELSE 'queued' END,
            run_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN run_at ELSE $1 END,
            finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN $1 ELSE NULL END,
            error = CASE WHEN cancel_requested THEN error
                         ELSE json_build_object('code', $2::text,
                                                'message', 'the worker stopped renewing its lease',
                                                'step', step,
                                                'retryable', attempt < max_attempts)::text
                         END,
            lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
         WHERE state = 'running' AND lease_expires_at < $1
         RETURNING id, state",
    )
    .bind(ms(now))
    .bind(crate::error::LEASE_EXPIRED.name())
    .fetch_all(&mut *tx)
    .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let state: String = r.try_get("state")?;
        if state == "failed" {
            give_back(&mut tx, &id).await?;
        }
        ids.push(JobId(id));
    }
    tx.commit().await?;
    Ok(ids)
}

pub(super) async fn due_for_expiry(engine: &PostgresEngine, now: DateTime<Utc>, limit: u32) -> Result<Vec<Job>> {
    let rows = sqlx::query(
        "SELECT * FROM jobs WHERE state = 'succeeded' AND artifacts_expire_at < $1
         ORDER BY artifacts_expire_at, id LIMIT $2",
    )
    .bind(ms(now))
    .bind(i64::from(limit))
    .fetch_all(&engine.pool)
    .await?;
    rows.iter().map(row::job).collect()
}
