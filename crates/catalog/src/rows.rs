//! Decoding catalog rows, for both drivers (columns read by name; generic over sqlx's
//! row type, as `tintype_db::rows` explains).

use sqlx::{ColumnIndex, Decode, Row, Type};
use tintype_db::rows::{opt_time, time, to_u64};

use crate::Result;
use crate::model::{ApiKey, PendingUpload, Upload};

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
    Ok(Upload {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        sha256: row.try_get("sha256")?,
        bytes: to_u64(row.try_get("bytes")?, "upload size")?,
        content_type: row.try_get("content_type")?,
        filename: row.try_get("filename")?,
        blob_key: row.try_get("blob_key")?,
        created_at: time(row.try_get("created_at")?)?,
    })
}

/// A `pending_uploads` row.
pub(crate) fn pending<'r, R>(row: &'r R) -> Result<PendingUpload>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(PendingUpload {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        sha256: row.try_get("sha256")?,
        bytes: to_u64(row.try_get("bytes")?, "upload size")?,
        content_type: row.try_get("content_type")?,
        filename: row.try_get("filename")?,
        blob_key: row.try_get("blob_key")?,
        expires_at: time(row.try_get("expires_at")?)?,
        created_at: time(row.try_get("created_at")?)?,
    })
}
