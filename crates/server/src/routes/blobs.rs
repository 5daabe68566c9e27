//! `GET /v1/blobs/{key}?exp=…&sig=…[&rcd=…]`: serves a blob of the local store behind an
//! HMAC-signed, expiring link (S3 deployments hand out presigned URLs instead). Supports a
//! single `Range`, `ETag` with `If-None-Match`, and the signed `Content-Disposition`.
//! A tampered, foreign or expired link is a 403 and reveals nothing about the blob.

use axum::Router;
use axum::routing::get;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tintype_blobs::{BlobKey, SignedQuery};

use crate::AppState;
use crate::error::{ApiError, INVALID_HEADER};
use tintype_blobs::{RANGE_NOT_SATISFIABLE, SIGNATURE_INVALID};

/// `GET /v1/blobs/{key}`: signed links to blobs the store cannot presign.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/blobs/{*key}", get(serve))
}

/// Serves a signed blob link.
pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let forbidden = || ApiError::new(SIGNATURE_INVALID, "the link is not valid");
    let q = query.as_deref().and_then(SignedQuery::parse).ok_or_else(forbidden)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    state.signer.verify("GET", &key, &q, now)?;
    let key = BlobKey::new(key).map_err(|_| forbidden())?;
    let meta = state.blobs.head(&key).await?;
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == meta.etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, header_value(&meta.etag)?)]).into_response());
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if meta.size > 0 => {
            match http_range_header::parse_range_header(r).and_then(|p| p.validate(meta.size)) {
                Ok(ranges) if ranges.len() == 1 => Some((*ranges[0].start(), Some(*ranges[0].end()))),
                Ok(_) => None, // several ranges: serve the whole blob
                Err(_) => return Err(unsatisfiable(meta.size)),
            }
        }
        _ => None,
    };
    let got = state.blobs.get(&key, range).await?;
    let mut res = Response::new(Body::from_stream(got.body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header_value(got.meta.content_type.as_deref().unwrap_or_else(|| guess_type(key.as_str())))?,
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(if meta.size == 0 { 0 } else { got.range.len() }));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_value(&meta.etag)?);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Some(d) = &q.disposition {
        h.insert(header::CONTENT_DISPOSITION, header_value(d)?);
    }
    if range.is_some() {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        let cr = format!("bytes {}-{}/{}", got.range.start, got.range.end, meta.size);
        res.headers_mut().insert(header::CONTENT_RANGE, header_value(&cr)?);
    }
    Ok(res)
}

fn unsatisfiable(size: u64) -> ApiError {
    ApiError::new(RANGE_NOT_SATISFIABLE, format!("the blob has {size} bytes"))
}

fn header_value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(|_| ApiError::new(INVALID_HEADER, "value not representable in a header"))
}

/// Content type from a key's extension (the local store does not record one).
pub fn guess_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "zip" => "application/zip",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "txt" => "text/plain; charset=utf-8",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}
