//! The catalog on SQLite: writes go through the database's one writer, lookups through
//! the read pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tintype_db::rows::{ms, to_i64};
use tintype_db::{Clock, SqliteDb};

use crate::model::{ApiKey, NewApiKey, NewPendingUpload, NewUpload, PendingUpload, Upload};
use crate::{Catalog, Result, rows as row, sql};
use tintype_plans::{Rate, RateDecision};

/// The SQLite driver.
#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    db: SqliteDb,
    clock: Clock,
}

impl SqliteCatalog {
    /// The catalog in `db` (its migrations applied), stamping rows with `clock`.
    pub fn new(db: SqliteDb, clock: Clock) -> Self {
        Self { db, clock }
    }
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        let created = sqlx::query(sql::INSERT_KEY)
            .bind(sql::key_id())
            .bind(&key.tenant)
            .bind(&key.plan)
            .bind(&key.key_hash)
            .bind(&key.label)
            .bind(ms(self.clock.now()))
            .fetch_one(&mut *self.db.writer().await?)
            .await?;
        row::api_key(&created)
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let found = sqlx::query(sql::FIND_KEY).bind(key_hash).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::api_key).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(sql::LIST_KEYS).fetch_all(self.db.reader()).await?;
        rows.iter().map(row::api_key).collect()
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(sql::REVOKE_KEY)
            .bind(id)
            .bind(ms(self.clock.now()))
            .execute(&mut *self.db.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn has_api_keys(&self) -> Result<bool> {
        Ok(sqlx::query_scalar(sql::ANY_KEY).fetch_one(self.db.reader()).await?)
    }

    async fn upload_bytes(&self, tenant: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(sql::UPLOAD_BYTES).bind(tenant).fetch_one(self.db.reader()).await?;
        Ok(n.max(0) as u64)
    }

    async fn take_rate(&self, key: &str, rate: Rate) -> Result<RateDecision> {
        let mut conn = self.db.writer().await?;
        // IMMEDIATE: processes sharing the file take the key's row in turn.
        let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
        let tat: Option<i64> = sqlx::query_scalar(sql::RATE_TAT).bind(key).fetch_optional(&mut *tx).await?;
        let decision = rate.decide(tat, ms(self.clock.now()));
        if decision.allowed {
            sqlx::query(sql::RATE_SET).bind(key).bind(decision.tat_ms).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(decision)
    }

    async fn insert_upload(&self, upload: NewUpload) -> Result<(Upload, bool)> {
        let bytes = to_i64(upload.bytes, "upload size")?;
        // The insert and the read of a conflicting row share the writer: no gap between.
        let mut conn = self.db.writer().await?;
        let inserted = sqlx::query(sql::INSERT_UPLOAD)
            .bind(upload.id.clone().unwrap_or_else(sql::upload_id))
            .bind(&upload.tenant)
            .bind(&upload.sha256)
            .bind(bytes)
            .bind(&upload.content_type)
            .bind(&upload.filename)
            .bind(&upload.blob_key)
            .bind(ms(self.clock.now()))
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(inserted) = inserted {
            return Ok((row::upload(&inserted)?, true));
        }
        let existing =
            sqlx::query(sql::FIND_UPLOAD).bind(&upload.tenant).bind(&upload.sha256).fetch_one(&mut *conn).await?;
        Ok((row::upload(&existing)?, false))
    }

    async fn get_upload(&self, tenant: &str, id: &str) -> Result<Option<Upload>> {
        let found = sqlx::query(sql::GET_UPLOAD).bind(id).bind(tenant).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::upload).transpose()
    }

    async fn find_upload_by_sha256(&self, tenant: &str, sha256: &str) -> Result<Option<Upload>> {
        let found = sqlx::query(sql::FIND_UPLOAD).bind(tenant).bind(sha256).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::upload).transpose()
    }
    async fn delete_upload(&self, tenant: &str, id: &str) -> Result<Option<Upload>> {
        let gone =
            sqlx::query(sql::DELETE_UPLOAD).bind(id).bind(tenant).fetch_optional(&mut *self.db.writer().await?).await?;
        gone.as_ref().map(row::upload).transpose()
    }

    async fn create_pending_upload(&self, pending: NewPendingUpload) -> Result<PendingUpload> {
        let created = sqlx::query(sql::INSERT_PENDING)
            .bind(sql::upload_id())
            .bind(&pending.tenant)
            .bind(&pending.sha256)
            .bind(to_i64(pending.bytes, "upload size")?)
            .bind(&pending.content_type)
            .bind(&pending.filename)
            .bind(&pending.blob_key)
            .bind(ms(pending.expires_at))
            .bind(ms(self.clock.now()))
            .fetch_one(&mut *self.db.writer().await?)
            .await?;
        row::pending(&created)
    }

    async fn get_pending_upload(&self, id: &str) -> Result<Option<PendingUpload>> {
        let found = sqlx::query(sql::GET_PENDING).bind(id).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::pending).transpose()
    }

    async fn purge_pending_uploads(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<PendingUpload>> {
        let rows = sqlx::query(sql::PURGE_PENDING)
            .bind(ms(before))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.db.writer().await?)
            .await?;
        rows.iter().map(row::pending).collect()
    }
}
