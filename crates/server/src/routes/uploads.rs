//! Uploads, two ways. Either way the content lands under `t/<tenant>/uploads/<sha256>`,
//! and the same content uploaded twice by one tenant is stored once, never across tenants.
//!
//! - `POST /v1/uploads`: a raw body (with its Content-Type) or a multipart form's first
//!   file, streamed into the blob store while it is hashed and counted (`duplicate: true`
//!   for content the tenant has). `?ingest=true` also files it in the photo library (an
//!   `ingest` job, answered as `job`).
//! - `POST /v1/uploads/presign` `{filename, bytes, sha256, content_type}`: for photo
//!   libraries. Content the library already has is `{"duplicate_of": photo}` (nothing to
//!   send); content already uploaded is `{"upload_id", "uploaded": true}` (confirm it);
//!   anything else gets a signed PUT URL valid 15 minutes with the headers to send. On S3
//!   the URL is the store's own, bound to `x-amz-checksum-sha256`, so the store refuses
//!   other bytes; on the local store it is `PUT /v1/uploads/{id}/content`, which hashes
//!   what it receives and keeps nothing unless size and SHA-256 match.
//! - `POST /v1/uploads/{id}/confirm`: 202, the upload filed and its `ingest` job enqueued
//!   on `high`, keyed `ingest:<upload id>` (confirming twice is one job).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};

use axum::http::HeaderMap;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tintype_blobs::layout;
use tintype_blobs::{BlobKey, ByteStream, PutOptions};
use tintype_catalog::{NewUpload, Upload};

use crate::error::{
    ApiError, INVALID_HEADER, INVALID_MULTIPART, INVALID_REQUEST, MISSING_FILE, PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT,
};
use crate::views::{JobView, base_url};
use crate::{AppState, Tenant};
use tintype_catalog::UPLOAD_NOT_FOUND;
use tintype_codes::common::INTERNAL;

pub mod presign;

/// The answer to an upload.
#[derive(Debug, Serialize)]
pub struct UploadView {
    upload_id: String,
    sha256: String,
    bytes: u64,
    content_type: String,
    filename: Option<String>,
    duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<JobView>,
}

impl UploadView {
    fn new(u: Upload, duplicate: bool) -> Self {
        Self {
            upload_id: u.id,
            sha256: u.sha256,
            bytes: u.bytes,
            content_type: u.content_type,
            filename: u.filename,
            duplicate,
            job: None,
        }
    }
}

/// `/v1/uploads…`, bodies up to `limit` bytes; uploads count against the plan's
/// `uploads` rate limit.
pub fn routes(state: &AppState, limit: usize, json_limit: usize) -> Router<AppState> {
    let rate = || axum::middleware::from_fn_with_state(state.clone(), crate::admission::limit_uploads);
    Router::new()
        .route("/v1/uploads", post(create).route_layer(rate()).layer(DefaultBodyLimit::max(limit)))
        .route(
            "/v1/uploads/presign",
            post(presign::presign).route_layer(rate()).layer(DefaultBodyLimit::max(json_limit)),
        )
        .route("/v1/uploads/{id}", get(show))
        .route("/v1/uploads/{id}/content", put(presign::put_content).layer(DefaultBodyLimit::max(limit)))
        .route("/v1/uploads/{id}/confirm", post(presign::confirm))
}

/// `POST /v1/uploads`: 201 for new content, 200 for a duplicate of the tenant's own.
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let ingest = req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv == "ingest=true" || kv == "ingest=1"));
    let max = state.upload_limit(&tenant);
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(ApiError::new(PAYLOAD_TOO_LARGE, format!("uploads are limited to {max} bytes")));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (upload, duplicate) = if content_type.starts_with("multipart/form-data") {
        let mut form =
            Multipart::from_request(req, &state).await.map_err(|e| ApiError::new(INVALID_MULTIPART, e.body_text()))?;
        loop {
            let field = form.next_field().await.map_err(|e| ApiError::new(INVALID_MULTIPART, e.body_text()))?;
            let Some(field) = field else {
                return Err(ApiError::new(MISSING_FILE, "the form has no file field"));
            };
            if field.file_name().is_none() && field.name() != Some("file") {
                continue;
            }
            let filename = field.file_name().map(str::to_owned);
            let ctype = field.content_type().unwrap_or("application/octet-stream").to_owned();
            check_client_text(&ctype, filename.as_deref())?;
            // The field borrows the form, and the store wants a 'static stream: pump the
            // chunks through a small channel, both halves polled by this task.
            let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
            let pump = async move {
                let mut field = field;
                loop {
                    let next = field.chunk().await.map_err(std::io::Error::other).transpose();
                    let Some(chunk) = next else { break };
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            };
            let body = tokio_stream::wrappers::ReceiverStream::new(rx);
            let (stored, ()) = tokio::join!(store(&state, &tenant, body, ctype, filename), pump);
            break stored?;
        }
    } else {
        let ctype = if content_type.is_empty() { "application/octet-stream".to_owned() } else { content_type };
        let filename = req.uri().query().and_then(filename_from_query);
        check_client_text(&ctype, filename.as_deref())?;
        let body = Body::into_data_stream(req.into_body()).map_err(std::io::Error::other);
        store(&state, &tenant, body, ctype, filename).await?
    };
    let status = if duplicate { StatusCode::OK } else { StatusCode::CREATED };
    let mut view = UploadView::new(upload, duplicate);
    if ingest {
        let enqueued = presign::ingest(&state, &tenant, &view.upload_id).await?;
        view.job = Some(JobView::new(&state, &base_url(&state, &headers), &enqueued.job).await);
    }
    Ok((status, Json(view)).into_response())
}

/// An upload's declared type and name, before anything is stored.
fn check_client_text(content_type: &str, filename: Option<&str>) -> Result<(), ApiError> {
    if !content_type_ok(content_type) {
        return Err(ApiError::new(INVALID_HEADER, CONTENT_TYPE_RULE));
    }
    if filename.is_some_and(|n| !filename_ok(n)) {
        return Err(ApiError::new(INVALID_REQUEST, FILENAME_RULE));
    }
    Ok(())
}

/// `GET /v1/uploads/{id}`.
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<UploadView>, ApiError> {
    let upload = state
        .catalog
        .get_upload(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(UPLOAD_NOT_FOUND, "upload"))?;
    Ok(Json(UploadView::new(upload, false)))
}

/// What [`content_type_ok`] asks.
pub(crate) const CONTENT_TYPE_RULE: &str =
    "Content-Type must be a MIME type such as image/jpeg, at most 127 printable characters";
/// What [`filename_ok`] asks.
pub(crate) const FILENAME_RULE: &str = "filename must be 1 to 255 characters without control characters";

/// A client's content type is kept only when short and plain (`type/subtype`, parameters
/// allowed): it is stored, and echoed on every download.
pub(crate) fn content_type_ok(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim();
    let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    ct.len() <= 127
        && ct.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence.split_once('/').is_some_and(|(t, s)| token(t) && token(s))
}

/// A client's file name is kept only when 1 to 255 characters without control characters.
pub(crate) fn filename_ok(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 255 && !name.chars().any(char::is_control)
}

/// `filename=` of a query string, form-decoded (`+` is a space, as every HTML form and
/// URL library writes it).
fn filename_from_query(q: &str) -> Option<String> {
    q.split('&').find_map(|kv| kv.strip_prefix("filename=")).map(|v| {
        let v = v.replace('+', " ");
        percent_encoding::percent_decode_str(&v).decode_utf8_lossy().into_owned()
    })
}

/// What [`receive`] stored under a temporary key.
pub(crate) struct Received {
    /// The temporary key (rename or delete it).
    pub(crate) tmp: BlobKey,
    /// Hex SHA-256 of the content.
    pub(crate) sha256: String,
    /// Its size.
    pub(crate) bytes: u64,
}

/// Streams `body` to a temporary key of the tenant's while hashing and counting it;
/// more than `max` bytes is a 413 and leaves nothing behind.
pub(crate) async fn receive<S>(
    state: &AppState,
    tenant: &str,
    body: S,
    content_type: &str,
    max: u64,
) -> Result<Received, ApiError>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let count = Arc::new(AtomicU64::new(0));
    let too_large = Arc::new(AtomicBool::new(false));
    let (h, c, t) = (hasher.clone(), count.clone(), too_large.clone());
    let body: ByteStream = Box::pin(body.map(move |chunk| {
        let chunk = chunk?;
        if c.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64 > max {
            t.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("upload too large"));
        }
        h.lock().map_err(|_| std::io::Error::other("poisoned"))?.update(&chunk);
        Ok(chunk)
    }));
    let tmp = layout::upload_in_flight(tenant, &uuid::Uuid::new_v4().simple().to_string())?;
    let put = state
        .blobs
        .put(&tmp, body, PutOptions { content_type: Some(content_type.to_owned()), ..PutOptions::default() })
        .await;
    if too_large.load(Ordering::Relaxed) {
        return Err(ApiError::new(PAYLOAD_TOO_LARGE, format!("this upload is limited to {max} bytes")));
    }
    if let Err(tintype_blobs::BlobError::Body(e)) = &put
        && body_timed_out(e)
    {
        let secs = state.config.body_idle_timeout.as_secs();
        return Err(ApiError::new(REQUEST_TIMEOUT, format!("the body stopped arriving for {secs} s")));
    }
    put?;
    let sha256 = hex::encode(hasher.lock().map_err(|_| ApiError::new(INTERNAL, "poisoned"))?.clone().finalize());
    Ok(Received { tmp, sha256, bytes: count.load(Ordering::Relaxed) })
}

/// Whether a body failed through the idle timeout layer (anywhere in its error chain).
fn body_timed_out(e: &std::io::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|e| e as _);
    while let Some(err) = next {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = err.source();
    }
    false
}

/// Streams `body` to a temporary key while hashing, then files it under its hash (or
/// drops it for the tenant's existing copy).
async fn store<S>(
    state: &AppState,
    tenant: &Tenant,
    body: S,
    content_type: String,
    filename: Option<String>,
) -> Result<(Upload, bool), ApiError>
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let got = receive(state, &tenant.id, body, &content_type, state.upload_limit(tenant)).await?;
    if let Some(existing) = state.catalog.find_upload_by_sha256(&tenant.id, &got.sha256).await? {
        state.blobs.delete(&got.tmp).await?;
        return Ok((existing, true));
    }
    if let Err(e) = crate::admission::check_storage(state, tenant, got.bytes).await {
        let _ = state.blobs.delete(&got.tmp).await;
        return Err(e);
    }
    let key = layout::upload(&tenant.id, &got.sha256)?;
    if let Err(e) = state.blobs.rename(&got.tmp, &key).await {
        // Nothing may stay behind under the temporary key.
        let _ = state.blobs.delete(&got.tmp).await;
        return Err(e.into());
    }
    let new = NewUpload {
        id: None,
        tenant: tenant.id.clone(),
        sha256: got.sha256,
        bytes: got.bytes,
        content_type,
        filename,
        blob_key: key.as_str().to_owned(),
    };
    let (upload, created) = state.catalog.insert_upload(new).await?;
    Ok((upload, !created))
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_text_is_bounded() {
        for ct in
            ["image/jpeg", "text/plain; charset=utf-8", "application/vnd.api+json", "multipart/form-data; boundary=x"]
        {
            assert!(super::content_type_ok(ct), "{ct}");
        }
        let long = format!("image/{}", "x".repeat(200));
        for ct in ["", "jpeg", "image/", "/jpeg", "image/jpeg\r\nx: y", "imäge/jpeg", long.as_str(), "image /jpeg"] {
            assert!(!super::content_type_ok(ct), "{ct:?}");
        }
        assert!(super::filename_ok("Ünïcødé 日本.jpg"));
        assert!(!super::filename_ok(""));
        assert!(!super::filename_ok("a\nb.jpg"));
        assert!(!super::filename_ok(&"a".repeat(256)));
    }

    #[test]
    fn filenames_are_form_decoded() {
        assert_eq!(super::filename_from_query("a=1&filename=My+Photo%2B1.jpg").as_deref(), Some("My Photo+1.jpg"));
        assert_eq!(super::filename_from_query("filename=%C3%9C.jpg").as_deref(), Some("Ü.jpg"));
        assert_eq!(super::filename_from_query("ingest=true"), None);
    }
}
