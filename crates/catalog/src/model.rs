//! The catalog's model: API keys (the secret itself is never stored, only its hash) and
//! uploads (content-addressed per tenant; a row names its blob by key, as a string).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored API key. The secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_…` id, safe to show and to revoke by.
    pub id: String,
    /// Tenant the key acts for.
    pub tenant: String,
    /// Plan name (limits come from config).
    pub plan: String,
    /// Hex SHA-256 of the secret.
    pub key_hash: String,
    /// Optional label.
    pub label: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Tenant.
    pub tenant: String,
    /// Plan.
    pub plan: String,
    /// Hex SHA-256 of the secret.
    pub key_hash: String,
    /// Optional label.
    pub label: Option<String>,
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// `upl_…` id.
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// Hex SHA-256 of the content (unique per tenant).
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// MIME type given by the client.
    pub content_type: String,
    /// File name given by the client, if any.
    pub filename: Option<String>,
    /// Blob key of the content.
    pub blob_key: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An upload to record.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// Its id, when it was given one already (a confirmed pending upload keeps its id);
    /// `None` makes a fresh `upl_…`.
    pub id: Option<String>,
    /// Owner.
    pub tenant: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// MIME type.
    pub content_type: String,
    /// File name.
    pub filename: Option<String>,
    /// Blob key.
    pub blob_key: String,
}

/// An upload a client was given a presigned PUT for, not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    /// `upl_…` id; the upload keeps it when confirmed.
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// Hex SHA-256 the content must have.
    pub sha256: String,
    /// Size the content must have.
    pub bytes: u64,
    /// MIME type given by the client.
    pub content_type: String,
    /// File name given by the client, if any.
    pub filename: Option<String>,
    /// Blob key the PUT writes.
    pub blob_key: String,
    /// When the PUT stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A pending upload to record.
#[derive(Debug, Clone)]
pub struct NewPendingUpload {
    /// Owner.
    pub tenant: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// MIME type.
    pub content_type: String,
    /// File name.
    pub filename: Option<String>,
    /// Blob key.
    pub blob_key: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}
