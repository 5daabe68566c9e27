//! The one place that decides HTTP status codes and the RFC 9457 problem+json body.
//! Every handler returns `Result<_, ApiError>`; 5xx details are logged here and hidden
//! from the client.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tintype_blobs::{BlobError, signing::SignatureError};
use tintype_queue::QueueError;

/// An error as the API reports it: status, stable code, detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: Cow<'static, str>,
    /// Human-readable detail (generic for 5xx).
    pub detail: String,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        let (code, detail) = (code.into(), detail.into());
        if status.is_server_error() {
            tracing::error!(%code, %detail, "request failed");
            let detail = "internal error; see the server log for this request id".to_owned();
            return Self { status, code, detail };
        }
        Self { status, code, detail }
    }

    /// 404 for anything the tenant cannot see.
    pub fn not_found(code: &'static str, what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, format!("{what} not found"))
    }

    /// 422 for a well-formed request that cannot be done.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 400 for a malformed request.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 409 when the resource's state forbids the request.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 413.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("https://tintype.dev/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound => Self::not_found("job_not_found", "job"),
            QueueError::IdempotencyConflict => {
                Self::conflict("idempotency_conflict", "this Idempotency-Key was used with a different request body")
            }
            QueueError::InvalidState(s) => Self::conflict("invalid_state", format!("the job is {s}")),
            QueueError::Invalid(m) => Self::unprocessable("invalid_input", m),
            QueueError::LeaseLost => Self::conflict("lease_lost", e.to_string()),
            other => Self::new(StatusCode::INTERNAL_SERVER_ERROR, other.code(), other.to_string()),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::InvalidKey(m) => Self::bad_request("invalid_blob_key", m),
            BlobError::NotFound => Self::not_found("blob_not_found", "blob"),
            BlobError::RangeNotSatisfiable => {
                Self::new(StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", e.to_string())
            }
            BlobError::Body(io) => Self::bad_request("body_stream_failed", io.to_string()),
            BlobError::Io(io) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage_error", io.to_string()),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        Self::new(StatusCode::FORBIDDEN, e.code(), e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => Self::bad_request("malformed_json", e.body_text()),
            JsonRejection::JsonDataError(e) => Self::unprocessable("invalid_request", e.body_text()),
            JsonRejection::MissingJsonContentType(e) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", e.body_text())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::too_large(e.body_text())
            }
            other => Self::bad_request("bad_request", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request("invalid_query", r.body_text())
    }
}

/// The answer to an unknown route.
pub async fn fallback() -> ApiError {
    ApiError::not_found("route_not_found", "route")
}
