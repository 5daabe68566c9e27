//! The catalog: tenants' API keys (stored as hashes), their uploads (content-addressed
//! per tenant) and the keys' rate-limit state. A component in the pattern every table set follows (ARCHITECTURE.md,
//! "Adding a table"): the model ([`model`]), a repo trait ([`Catalog`]), one driver per
//! backend ([`sqlite`], [`postgres`]) over the shared [`tintype_db::Db`], its migrations
//! ([`MIGRATIONS`]) and one conformance suite ([`conformance`]) that both drivers pass.

pub mod conformance;
pub mod model;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use tintype_db::{Clock, Component, Db, DbError, Step};

pub use model::{ApiKey, NewApiKey, NewPendingUpload, NewUpload, PendingUpload, Upload};
use tintype_plans::{Rate, RateDecision};

tintype_codes::codes! {
    /// No such upload for this tenant (another tenant's is not found either).
    UPLOAD_NOT_FOUND = ("upload_not_found", NotFound);
}

/// Result of every catalog call.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// The catalog's tables on both backends.
pub static MIGRATIONS: Component = Component {
    name: "catalog",
    sqlite: &[
        Step { version: 1, name: "keys and uploads", sql: include_str!("../migrations/sqlite/0001_init.sql") },
        Step {
            version: 2,
            name: "pending uploads",
            sql: include_str!("../migrations/sqlite/0002_pending_uploads.sql"),
        },
        Step { version: 3, name: "rate limits", sql: include_str!("../migrations/sqlite/0003_rate_limits.sql") },
    ],
    postgres: &[
        Step { version: 1, name: "keys and uploads", sql: include_str!("../migrations/postgres/0001_init.sql") },
        Step {
            version: 2,
            name: "pending uploads",
            sql: include_str!("../migrations/postgres/0002_pending_uploads.sql"),
        },
        Step { version: 3, name: "rate limits", sql: include_str!("../migrations/postgres/0003_rate_limits.sql") },
    ],
    // Release 0.1's first migration created these tables.
    legacy: &[(1, 1)],
};

/// Tenants' API keys and uploads.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Stores a key (its hash only).
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey>;
    /// The live (not revoked) key with this hash.
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    /// Every key, revoked ones included, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Revokes a key by id; false if there was no live key with that id.
    async fn revoke_api_key(&self, id: &str) -> Result<bool>;
    /// Whether any key was ever made, revoked ones included (none at all means "open"
    /// local mode; revoking the last key must not reopen the server).
    async fn has_api_keys(&self) -> Result<bool>;

    /// Records an upload, or returns the tenant's existing upload with the same sha256
    /// (`false` = duplicate).
    async fn insert_upload(&self, upload: NewUpload) -> Result<(Upload, bool)>;
    /// One of the tenant's uploads.
    async fn get_upload(&self, tenant: &str, id: &str) -> Result<Option<Upload>>;
    /// The tenant's upload with this content hash.
    async fn find_upload_by_sha256(&self, tenant: &str, sha256: &str) -> Result<Option<Upload>>;
    /// Removes one of the tenant's uploads (its row; the caller deletes the blob), returning
    /// it.
    async fn delete_upload(&self, tenant: &str, id: &str) -> Result<Option<Upload>>;

    /// Records an upload a client was given a presigned PUT for.
    async fn create_pending_upload(&self, pending: NewPendingUpload) -> Result<PendingUpload>;
    /// A pending upload by id alone (the signed PUT that names it is its authority).
    async fn get_pending_upload(&self, id: &str) -> Result<Option<PendingUpload>>;
    /// Removes at most `limit` pending uploads that expired before `before`, oldest first,
    /// and returns them (the caller deletes a blob that no filed upload uses).
    async fn purge_pending_uploads(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<PendingUpload>>;

    /// Bytes of the tenant's filed uploads (its originals), for the plan's storage quota.
    async fn upload_bytes(&self, tenant: &str) -> Result<u64>;

    /// One request of a rate-limited `key` (an API key and route class) now, by the
    /// catalog's clock: the decision, with the key's state updated when it was let
    /// through. Atomic across processes (a transaction on the key's row).
    async fn take_rate(&self, key: &str, rate: Rate) -> Result<RateDecision>;
}

/// The catalog on an open database (migrations applied by the caller).
pub fn open(db: &Db, clock: Clock) -> Arc<dyn Catalog> {
    match db {
        Db::Sqlite(db) => Arc::new(sqlite::SqliteCatalog::new(db.clone(), clock)),
        Db::Postgres(db) => Arc::new(postgres::PgCatalog::new(db.clone(), clock)),
    }
}
