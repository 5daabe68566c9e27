//! The catalog on SQLite: API keys (hashes only) and uploads (content-addressed per
//! tenant). Writes go through the writer, lookups through the read pool.

use async_trait::async_trait;

use super::{SqliteEngine, ms};
use crate::catalog::{ApiKey, NewApiKey, NewUpload, Upload};
use crate::engine::{Catalog, Result};
use crate::error::QueueError;
use crate::rows as row;

#[async_trait]
impl Catalog for SqliteEngine {
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        let created = sqlx::query(
            "INSERT INTO api_keys (id, tenant, plan, key_hash, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING *",
        )
        .bind(format!("key_{}", uuid::Uuid::now_v7().simple()))
        .bind(&key.tenant)
        .bind(&key.plan)
        .bind(&key.key_hash)
        .bind(&key.label)
        .bind(ms(self.config.clock.now()))
        .fetch_one(&mut *self.writer().await?)
        .await?;
        row::api_key(&created)
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let found = sqlx::query("SELECT * FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&self.reader)
            .await?;
        found.as_ref().map(row::api_key).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY created_at, id").fetch_all(&self.reader).await?;
        rows.iter().map(row::api_key).collect()
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
            .bind(id)
            .bind(ms(self.config.clock.now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn has_api_keys(&self) -> Result<bool> {
        let live: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)")
            .fetch_one(&self.reader)
            .await?;
        Ok(live)
    }

    async fn insert_upload(&self, upload: NewUpload) -> Result<(Upload, bool)> {
        let bytes = i64::try_from(upload.bytes)
            .map_err(|_| QueueError::Invalid(format!("upload too large: {} bytes", upload.bytes)))?;
        let mut conn = self.writer().await?;
        let inserted = sqlx::query(
            "INSERT INTO uploads (id, tenant, sha256, bytes, content_type, filename, blob_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (tenant, sha256) DO NOTHING
             RETURNING *",
        )
        .bind(format!("upl_{}", uuid::Uuid::now_v7().simple()))
        .bind(&upload.tenant)
        .bind(&upload.sha256)
        .bind(bytes)
        .bind(&upload.content_type)
        .bind(&upload.filename)
        .bind(&upload.blob_key)
        .bind(ms(self.config.clock.now()))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(inserted) = inserted {
            return Ok((row::upload(&inserted)?, true));
        }
        let existing = sqlx::query("SELECT * FROM uploads WHERE tenant = ?1 AND sha256 = ?2")
            .bind(&upload.tenant)
            .bind(&upload.sha256)
            .fetch_one(&mut *conn)
            .await?;
        Ok((row::upload(&existing)?, false))
    }

    async fn get_upload(&self, tenant: &str, id: &str) -> Result<Option<Upload>> {
        let found = sqlx::query("SELECT * FROM uploads WHERE id = ?1 AND tenant = ?2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.reader)
            .await?;
        found.as_ref().map(row::upload).transpose()
    }

    async fn find_upload_by_sha256(&self, tenant: &str, sha256: &str) -> Result<Option<Upload>> {
        let found = sqlx::query("SELECT * FROM uploads WHERE tenant = ?1 AND sha256 = ?2")
            .bind(tenant)
            .bind(sha256)
            .fetch_optional(&self.reader)
            .await?;
        found.as_ref().map(row::upload).transpose()
    }
}
