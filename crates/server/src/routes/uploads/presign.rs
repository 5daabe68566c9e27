//! The presigned upload flow of photo libraries: presign, the local store's signed PUT,
//! and confirm (see the parent module's docs for the contract).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::json;
use tintype_blobs::{BlobError, BlobKey, CHECKSUM_MISMATCH, SIGNATURE_INVALID, SignedQuery, layout};
use tintype_catalog::{NewPendingUpload, NewUpload, UPLOAD_NOT_FOUND, Upload};
use tintype_queue::Enqueued;

use super::receive;
use crate::error::{ApiError, INVALID_REQUEST, PAYLOAD_TOO_LARGE, UPLOAD_INCOMPLETE};
use crate::routes::jobs::{Order, submit};
use crate::views::{JobView, base_url};
use crate::{AppState, Tenant};

/// How long a presigned PUT works.
pub const PRESIGN_TTL: Duration = Duration::from_secs(15 * 60);

/// Body of `POST /v1/uploads/presign`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresignRequest {
    filename: Option<String>,
    bytes: u64,
    sha256: String,
    content_type: String,
}

impl PresignRequest {
    /// Checks every field; client text is bounded and printable.
    fn check(&mut self, max: u64) -> Result<(), ApiError> {
        let invalid = |m: &str| Err(ApiError::new(INVALID_REQUEST, m.to_owned()));
        self.sha256.make_ascii_lowercase();
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return invalid("sha256 must be 64 hex digits");
        }
        if self.bytes == 0 {
            return invalid("bytes must be at least 1");
        }
        if self.bytes > max {
            return Err(ApiError::new(PAYLOAD_TOO_LARGE, format!("uploads are limited to {max} bytes")));
        }
        if !super::content_type_ok(&self.content_type) {
            return invalid(super::CONTENT_TYPE_RULE);
        }
        if self.filename.as_deref().is_some_and(|n| !super::filename_ok(n)) {
            return invalid(super::FILENAME_RULE);
        }
        Ok(())
    }
}

/// `POST /v1/uploads/presign`: `duplicate_of`, `uploaded`, or a signed PUT (201).
pub async fn presign(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    body: Result<Json<PresignRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(mut req) = body?;
    req.check(state.upload_limit(&tenant))?;
    if let Some(photo) = state.library.find_by_sha256(&tenant.id, &req.sha256).await? {
        return Ok(Json(json!({ "duplicate_of": photo.id })).into_response());
    }
    let key = layout::upload(&tenant.id, &req.sha256)?;
    if let Some(upload) = state.catalog.find_upload_by_sha256(&tenant.id, &req.sha256).await?
        && blob_present(&state, &key).await?
    {
        return Ok(Json(json!({ "upload_id": upload.id, "uploaded": true })).into_response());
    }
    // A duplicate adds nothing; new content must fit the storage quota (checked again
    // when it is filed: several presigns may each fit alone).
    crate::admission::check_storage(&state, &tenant, req.bytes).await?;
    let expires_at = SystemTime::now() + PRESIGN_TTL;
    let pending = state
        .catalog
        .create_pending_upload(NewPendingUpload {
            tenant: tenant.id.clone(),
            sha256: req.sha256.clone(),
            bytes: req.bytes,
            content_type: req.content_type.clone(),
            filename: req.filename.clone(),
            blob_key: key.as_str().to_owned(),
            expires_at: DateTime::<Utc>::from(expires_at),
        })
        .await?;
    let sum: [u8; 32] = hex::decode(&req.sha256).ok().and_then(|b| b.try_into().ok()).expect("checked hex");
    let (url, headers_to_send) =
        match state.blobs.presign_put(&key, PRESIGN_TTL, Some(&req.content_type), Some(sum)).await? {
            Some(p) => (p.url, p.headers),
            None => {
                let exp = expires_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let q = state.signer.sign("PUT", &key, exp, None);
                let url = format!("{}/v1/uploads/{}/content?{}", base_url(&state, &headers), pending.id, q.to_query());
                (url, vec![("content-type".to_owned(), req.content_type.clone())])
            }
        };
    let headers_to_send: serde_json::Map<String, serde_json::Value> =
        headers_to_send.into_iter().map(|(k, v)| (k, v.into())).collect();
    let body = json!({
        "upload_id": pending.id,
        "url": url,
        "method": "PUT",
        "headers": headers_to_send,
        "expires_at": pending.expires_at,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Whether the content blob exists.
async fn blob_present(state: &AppState, key: &BlobKey) -> Result<bool, ApiError> {
    match state.blobs.head(key).await {
        Ok(_) => Ok(true),
        Err(BlobError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `PUT /v1/uploads/{id}/content?exp=…&sig=…` (local store): the body must have the size
/// and SHA-256 the presign named, else nothing is kept (422 `checksum_mismatch`).
pub async fn put_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Result<Response, ApiError> {
    let forbidden = || ApiError::new(SIGNATURE_INVALID, "the link is not valid");
    let q = query.as_deref().and_then(SignedQuery::parse).ok_or_else(forbidden)?;
    let pending = state.catalog.get_pending_upload(&id).await?.ok_or_else(forbidden)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    state.signer.verify("PUT", &pending.blob_key, &q, now)?;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > pending.bytes) {
        return Err(ApiError::new(PAYLOAD_TOO_LARGE, format!("this upload was presigned for {} bytes", pending.bytes)));
    }
    let body = Body::into_data_stream(req.into_body()).map_err(std::io::Error::other);
    let got = receive(&state, &pending.tenant, body, &pending.content_type, pending.bytes).await?;
    if got.sha256 != pending.sha256 || got.bytes != pending.bytes {
        state.blobs.delete(&got.tmp).await?;
        let detail = format!(
            "received {} bytes hashing to {}; the presign named {} bytes hashing to {}",
            got.bytes, got.sha256, pending.bytes, pending.sha256
        );
        return Err(ApiError::new(CHECKSUM_MISMATCH, detail));
    }
    let key = BlobKey::new(pending.blob_key.clone())?;
    state.blobs.rename(&got.tmp, &key).await?;
    Ok(Json(json!({ "upload_id": pending.id, "sha256": got.sha256, "bytes": got.bytes })).into_response())
}

/// `POST /v1/uploads/{id}/confirm`: files a presigned upload whose bytes arrived (or takes
/// an upload already filed) and enqueues its `ingest` job; 202 either way.
pub async fn confirm(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let upload = match state.catalog.get_upload(&tenant.id, &id).await? {
        Some(upload) => upload,
        None => file_pending(&state, &tenant, &id).await?,
    };
    let enqueued = ingest(&state, &tenant, &upload.id).await?;
    let job = JobView::new(&state, &base_url(&state, &headers), &enqueued.job).await;
    Ok((StatusCode::ACCEPTED, Json(json!({ "upload_id": upload.id, "job": job }))).into_response())
}

/// Files the tenant's pending upload `id` once its blob is in the store with its size.
async fn file_pending(state: &AppState, tenant: &Tenant, id: &str) -> Result<Upload, ApiError> {
    let pending = state
        .catalog
        .get_pending_upload(id)
        .await?
        .filter(|p| p.tenant == tenant.id)
        .ok_or_else(|| ApiError::not_found(UPLOAD_NOT_FOUND, "upload"))?;
    let key = BlobKey::new(pending.blob_key.clone())?;
    let meta = match state.blobs.head(&key).await {
        Ok(meta) => meta,
        Err(BlobError::NotFound) => {
            return Err(ApiError::new(UPLOAD_INCOMPLETE, "nothing has been PUT to this upload's URL yet"));
        }
        Err(e) => return Err(e.into()),
    };
    if meta.size != pending.bytes {
        let detail = format!("the stored file has {} bytes; the presign named {}", meta.size, pending.bytes);
        return Err(ApiError::new(CHECKSUM_MISMATCH, detail));
    }
    // The key is the content's hash: read the bytes back once, since not every
    // S3-compatible store enforces `x-amz-checksum-sha256` on a presigned PUT (s3s-fs,
    // for one, keeps the body it refused). A mismatch is removed, never filed.
    let got = sha256_of(state, &key).await?;
    if got != pending.sha256 {
        state.blobs.delete(&key).await?;
        let detail = format!("the stored file hashes to {got}; the presign named {}", pending.sha256);
        return Err(ApiError::new(CHECKSUM_MISMATCH, detail));
    }
    if state.catalog.find_upload_by_sha256(&tenant.id, &pending.sha256).await?.is_none()
        && let Err(e) = crate::admission::check_storage(state, tenant, pending.bytes).await
    {
        // No filed upload uses this content's blob: nothing over the quota stays stored.
        state.blobs.delete(&key).await?;
        return Err(e);
    }
    let new = NewUpload {
        id: Some(pending.id.clone()),
        tenant: tenant.id.clone(),
        sha256: pending.sha256,
        bytes: pending.bytes,
        content_type: pending.content_type,
        filename: pending.filename,
        blob_key: pending.blob_key,
    };
    Ok(state.catalog.insert_upload(new).await?.0)
}

/// The hex SHA-256 of a stored blob, streamed.
async fn sha256_of(state: &AppState, key: &BlobKey) -> Result<String, ApiError> {
    use sha2::{Digest, Sha256};
    let mut body = state.blobs.get(key, None).await?.body;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.try_next().await.map_err(BlobError::Io)? {
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Enqueues the `ingest` job of one of the tenant's uploads, keyed by the upload.
pub(crate) async fn ingest(state: &AppState, tenant: &Tenant, upload_id: &str) -> Result<Enqueued, ApiError> {
    let order = Order {
        kind: "ingest".into(),
        input: json!({ "upload_id": upload_id }),
        queue: None,
        priority: 0,
        idempotency_key: Some(format!("ingest:{upload_id}")),
        correlation_id: None,
    };
    submit(state, tenant, order).await
}
