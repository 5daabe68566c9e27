//! `POST /v1/uploads`: a raw body (with its Content-Type) or a multipart form's first file,
//! streamed into the blob store while it is hashed and counted. The content lands under
//! `t/<tenant>/uploads/<sha256>`; the same content uploaded twice by one tenant is stored
//! once (`duplicate: true`), never across tenants.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tintype_blobs::layout;
use tintype_blobs::{ByteStream, PutOptions};
use tintype_catalog::{NewUpload, Upload};

use crate::error::{ApiError, INVALID_MULTIPART, MISSING_FILE, PAYLOAD_TOO_LARGE};
use crate::{AppState, Tenant};
use tintype_catalog::UPLOAD_NOT_FOUND;
use tintype_codes::common::INTERNAL;

/// The answer to an upload.
#[derive(Debug, Serialize)]
pub struct UploadView {
    upload_id: String,
    sha256: String,
    bytes: u64,
    content_type: String,
    filename: Option<String>,
    duplicate: bool,
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
        }
    }
}

/// `/v1/uploads…`, bodies up to `limit` bytes.
pub fn routes(limit: usize) -> Router<AppState> {
    Router::new()
        .route("/v1/uploads", post(create).layer(DefaultBodyLimit::max(limit)))
        .route("/v1/uploads/{id}", get(show))
}

/// `POST /v1/uploads`: 201 for new content, 200 for a duplicate of the tenant's own.
pub async fn create(State(state): State<AppState>, tenant: Tenant, req: Request) -> Result<Response, ApiError> {
    let max = state.config.max_upload_bytes;
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
        let body = Body::into_data_stream(req.into_body()).map_err(std::io::Error::other);
        store(&state, &tenant, body, ctype, filename).await?
    };
    let status = if duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(UploadView::new(upload, duplicate))).into_response())
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

fn filename_from_query(q: &str) -> Option<String> {
    q.split('&')
        .find_map(|kv| kv.strip_prefix("filename="))
        .map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
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
    let max = state.config.max_upload_bytes;
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
    let tmp = layout::upload_in_flight(&tenant.id, &uuid::Uuid::new_v4().simple().to_string())?;
    let put = state.blobs.put(&tmp, body, PutOptions { content_type: Some(content_type.clone()) }).await;
    if too_large.load(Ordering::Relaxed) {
        return Err(ApiError::new(PAYLOAD_TOO_LARGE, format!("uploads are limited to {max} bytes")));
    }
    put?;
    let sha256 = hex::encode(hasher.lock().map_err(|_| ApiError::new(INTERNAL, "poisoned"))?.clone().finalize());
    if let Some(existing) = state.catalog.find_upload_by_sha256(&tenant.id, &sha256).await? {
        state.blobs.delete(&tmp).await?;
        return Ok((existing, true));
    }
    let key = layout::upload(&tenant.id, &sha256)?;
    state.blobs.rename(&tmp, &key).await?;
    let new = NewUpload {
        tenant: tenant.id.clone(),
        sha256,
        bytes: count.load(Ordering::Relaxed),
        content_type,
        filename,
        blob_key: key.as_str().to_owned(),
    };
    let (upload, created) = state.catalog.insert_upload(new).await?;
    Ok((upload, !created))
}
