//! The catalog's statements, written once for both drivers (SQLite accepts PostgreSQL's
//! `$n` placeholders). Each driver only chooses the connection and binds.

/// Stores a key: id, tenant, plan, key_hash, label, created_at.
pub(crate) const INSERT_KEY: &str = "INSERT INTO api_keys (id, tenant, plan, key_hash, label, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING *";
/// The live key with a hash.
pub(crate) const FIND_KEY: &str = "SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL";
/// Every key, oldest first.
pub(crate) const LIST_KEYS: &str = "SELECT * FROM api_keys ORDER BY created_at, id";
/// Revokes a live key: id, revoked_at.
pub(crate) const REVOKE_KEY: &str = "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
/// Whether a live key exists.
pub(crate) const ANY_KEY: &str = "SELECT EXISTS (SELECT 1 FROM api_keys)";
/// Stores an upload unless the tenant has that content: id, tenant, sha256, bytes,
/// content_type, filename, blob_key, created_at.
pub(crate) const INSERT_UPLOAD: &str =
    "INSERT INTO uploads (id, tenant, sha256, bytes, content_type, filename, blob_key, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant, sha256) DO NOTHING
     RETURNING *";
/// One upload of a tenant: id, tenant.
pub(crate) const GET_UPLOAD: &str = "SELECT * FROM uploads WHERE id = $1 AND tenant = $2";
/// A tenant's upload by content: tenant, sha256.
pub(crate) const FIND_UPLOAD: &str = "SELECT * FROM uploads WHERE tenant = $1 AND sha256 = $2";

/// Removes one upload of a tenant: id, tenant.
pub(crate) const DELETE_UPLOAD: &str = "DELETE FROM uploads WHERE id = $1 AND tenant = $2 RETURNING *";
/// Records a pending upload: id, tenant, sha256, bytes, content_type, filename, blob_key,
/// expires_at, created_at.
pub(crate) const INSERT_PENDING: &str = "INSERT INTO pending_uploads
     (id, tenant, sha256, bytes, content_type, filename, blob_key, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING *";
/// A pending upload by id.
pub(crate) const GET_PENDING: &str = "SELECT * FROM pending_uploads WHERE id = $1";
/// Removes at most $2 pending uploads expired before $1, oldest first, returning them.
pub(crate) const PURGE_PENDING: &str = "DELETE FROM pending_uploads WHERE id IN
     (SELECT id FROM pending_uploads WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2)
     RETURNING *";

/// A fresh `key_…` id.
pub(crate) fn key_id() -> String {
    format!("key_{}", uuid::Uuid::now_v7().simple())
}

/// A fresh `upl_…` id (pending uploads get theirs from here too).
pub(crate) fn upload_id() -> String {
    format!("upl_{}", uuid::Uuid::now_v7().simple())
}

/// A rate-limited key's theoretical arrival time.
pub(crate) const RATE_TAT: &str = "SELECT tat FROM rate_limits WHERE key = $1";
/// The same, the row locked until the transaction ends (PostgreSQL).
pub(crate) const RATE_TAT_LOCKED: &str = "SELECT tat FROM rate_limits WHERE key = $1 FOR UPDATE";
/// A key's row, if it has none yet (a TAT of 0 limits nothing).
pub(crate) const RATE_SEED: &str = "INSERT INTO rate_limits (key, tat) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING";
/// Stores a key's new TAT.
pub(crate) const RATE_SET: &str =
    "INSERT INTO rate_limits (key, tat) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET tat = excluded.tat";

/// Bytes of a tenant's uploads (the `(tenant, sha256)` index serves it).
pub(crate) const UPLOAD_BYTES: &str = "SELECT CAST(COALESCE(sum(bytes), 0) AS BIGINT) FROM uploads WHERE tenant = $1";
