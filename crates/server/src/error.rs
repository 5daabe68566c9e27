//! The one place that decides HTTP status codes and the RFC 9457 problem+json body.
//! Every handler returns `Result<_, ApiError>`; an [`ApiError`] is a [`Code`] and a
//! detail, and its status follows from the code's [`ErrorKind`] in [`status_of`], so no
//! handler picks a status for an error. 5xx details are logged here and hidden.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tintype_blobs::{BlobError, signing::SignatureError};
use tintype_codes::{Code, Coded, ErrorKind};
use tintype_db::DbError;
use tintype_queue::QueueError;

tintype_codes::codes! {
    /// The body is not JSON.
    MALFORMED_JSON = ("malformed_json", BadRequest);
    /// The query string does not parse.
    INVALID_QUERY = ("invalid_query", BadRequest);
    /// The multipart body does not parse.
    INVALID_MULTIPART = ("invalid_multipart", BadRequest);
    /// `Idempotency-Key` empty or over 255 characters.
    INVALID_IDEMPOTENCY_KEY = ("invalid_idempotency_key", BadRequest);
    /// A header that is not ASCII, or not representable.
    INVALID_HEADER = ("invalid_header", BadRequest);
    /// Any other malformed request.
    BAD_REQUEST = ("bad_request", BadRequest);
    /// No `Authorization: Bearer` header.
    MISSING_API_KEY = ("missing_api_key", Unauthorized);
    /// A malformed, unknown or revoked key.
    INVALID_API_KEY = ("invalid_api_key", Unauthorized);
    /// The job has no artifact of that name.
    ARTIFACT_NOT_FOUND = ("artifact_not_found", NotFound);
    /// No such route.
    ROUTE_NOT_FOUND = ("route_not_found", NotFound);
    /// Cancelling a job that already finished.
    JOB_FINISHED = ("job_finished", Conflict);
    /// Retrying a job that is neither failed nor cancelled.
    NOT_RETRYABLE = ("not_retryable", Conflict);
    /// Downloading from a job that has not succeeded.
    JOB_NOT_FINISHED = ("job_not_finished", Conflict);
    /// Downloading without a name from a job with several artifacts.
    MULTIPLE_ARTIFACTS = ("multiple_artifacts", Conflict);
    /// The job's artifacts were removed by the sweeper.
    ARTIFACTS_EXPIRED = ("artifacts_expired", Gone);
    /// The body is over its limit.
    PAYLOAD_TOO_LARGE = ("payload_too_large", TooLarge);
    /// JSON expected (`Content-Type: application/json`).
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", Unsupported);
    /// The JSON body has the wrong shape (a missing or unknown field).
    INVALID_REQUEST = ("invalid_request", InvalidInput);
    /// The named queue does not exist.
    INVALID_QUEUE = ("invalid_queue", InvalidInput);
    /// Priority outside -1000..=1000.
    INVALID_PRIORITY = ("invalid_priority", InvalidInput);
    /// A multipart upload without a file part.
    MISSING_FILE = ("missing_file", InvalidInput);
    /// A signed link could not be made.
    LINK_FAILED = ("link_failed", Internal);
    /// Confirming a presigned upload whose bytes have not been PUT yet.
    UPLOAD_INCOMPLETE = ("upload_incomplete", Conflict);
    /// The photo has no rendition of that size (yet).
    RENDITION_NOT_FOUND = ("rendition_not_found", NotFound);
    /// The tenant already has an album of that name.
    ALBUM_EXISTS = ("album_exists", Conflict);
    /// The route does not take this method (the `Allow` header lists those it takes).
    METHOD_NOT_ALLOWED = ("method_not_allowed", MethodNotAllowed);
    /// The request body stopped arriving for longer than `http.body_idle_timeout_secs`.
    REQUEST_TIMEOUT = ("request_timeout", RequestTimeout);
    /// The `Host` is not one this server answers for (`public_url`, `http.allowed_hosts`).
    HOST_NOT_ALLOWED = ("host_not_allowed", Misdirected);
    /// An open (keyless) server refuses requests from pages of other origins.
    CROSS_ORIGIN = ("cross_origin", Forbidden);
    /// The queue holds `limits.max_queued_jobs` waiting jobs: come back after
    /// `Retry-After` (2 s); nothing was enqueued.
    QUEUE_FULL = ("queue_full", Unavailable);
    /// `/readyz`: a part (engine, blobs) does not answer; `checks` says which.
    NOT_READY = ("not_ready", Unavailable);
}

/// The status every error of a kind answers with.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Quota => StatusCode::PAYMENT_REQUIRED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Misdirected => StatusCode::MISDIRECTED_REQUEST,
        ErrorKind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as the API reports it: a stable code and a detail, and for some refusals
/// more members (a quota's counts and upgrade link) and headers (`Retry-After`).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable machine-readable code; its kind decides the status.
    pub code: Code,
    /// Human-readable detail (generic for 5xx).
    pub detail: String,
    /// Members beside the standard ones.
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Headers of the answer.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with this code.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        if status_of(code.kind()).is_server_error() {
            tracing::error!(%code, %detail, "request failed");
            let detail = "internal error; see the server log for this request id".to_owned();
            return Self::plain(code, detail);
        }
        Self::plain(code, detail)
    }

    fn plain(code: Code, detail: String) -> Self {
        Self { code, detail, extra: serde_json::Map::new(), headers: Vec::new() }
    }

    /// A refusal the server means (back-pressure: "busy, retry in 2 s"), shown with its
    /// detail even when its status is a 5xx.
    pub fn busy(code: Code, detail: impl Into<String>) -> Self {
        Self::plain(code, detail.into())
    }

    /// Adds a member to the problem body.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// Adds a header to the answer.
    pub fn header(mut self, name: header::HeaderName, value: impl std::fmt::Display) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            self.headers.push((name, v));
        }
        self
    }

    /// Any coded error, its message as the detail.
    pub fn coded(e: &impl Coded) -> Self {
        Self::new(e.code(), e.to_string())
    }

    /// "`what` not found" (404 for anything the tenant cannot see).
    pub fn not_found(code: Code, what: &str) -> Self {
        Self::new(code, format!("{what} not found"))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        status_of(self.code.kind())
    }
}

impl ApiError {
    /// The problem response, with `extra` members beside the standard ones (`/readyz`'s
    /// `checks`).
    pub fn into_response_with(self, extra: serde_json::Map<String, serde_json::Value>) -> Response {
        let status = self.status();
        let mut body = serde_json::json!({
            "type": format!("https://tintype.dev/problems/{}", self.code),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(members) = body.as_object_mut() {
            members.extend(self.extra);
            members.extend(extra);
        }
        let mut res = (status, Json(body)).into_response();
        for (name, value) in self.headers {
            res.headers_mut().insert(name, value);
        }
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        res
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_with(serde_json::Map::new())
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound => Self::not_found(e.code(), "job"),
            QueueError::IdempotencyConflict => {
                Self::new(e.code(), "this Idempotency-Key was used with a different request body")
            }
            other => Self::coded(&other),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::coded(&e)
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => Self::not_found(e.code(), "blob"),
            other => Self::coded(&other),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        Self::coded(&e)
    }
}

impl From<tintype_kinds::SubmitError> for ApiError {
    fn from(e: tintype_kinds::SubmitError) -> Self {
        Self::coded(&e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonSyntaxError(e) => Self::new(MALFORMED_JSON, e.body_text()),
            JsonRejection::JsonDataError(e) => Self::new(INVALID_REQUEST, e.body_text()),
            JsonRejection::MissingJsonContentType(e) => Self::new(UNSUPPORTED_MEDIA_TYPE, e.body_text()),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(PAYLOAD_TOO_LARGE, e.body_text())
            }
            other => Self::new(BAD_REQUEST, other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(INVALID_QUERY, r.body_text())
    }
}

/// The answer to an unknown route.
pub async fn fallback() -> ApiError {
    ApiError::not_found(ROUTE_NOT_FOUND, "route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (ErrorKind::BadRequest, 400),
            (ErrorKind::Unauthorized, 401),
            (ErrorKind::Quota, 402),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Gone, 410),
            (ErrorKind::TooLarge, 413),
            (ErrorKind::Unsupported, 415),
            (ErrorKind::RangeNotSatisfiable, 416),
            (ErrorKind::MethodNotAllowed, 405),
            (ErrorKind::RequestTimeout, 408),
            (ErrorKind::Misdirected, 421),
            (ErrorKind::InvalidInput, 422),
            (ErrorKind::RateLimited, 429),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in cases {
            assert_eq!(status_of(kind).as_u16(), status, "{kind:?}");
        }
    }

    #[test]
    fn server_errors_hide_their_detail() {
        let e = ApiError::new(LINK_FAILED, "secret path /var/x");
        assert!(!e.detail.contains("/var/x"));
        assert_eq!(ApiError::new(JOB_FINISHED, "done").detail, "done");
    }
}
