//! What the API shows of a job, and the signed links it carries. Views are built from
//! engine rows; nothing internal (lease tokens, blob keys of other tenants) leaks out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::HOST;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tintype_blobs::BlobKey;
use tintype_queue::{Artifact, Job, JobFailure, JobState};

use crate::AppState;

/// A job as clients see it.
#[derive(Debug, Serialize)]
pub struct JobView {
    id: String,
    kind: String,
    queue: String,
    priority: i32,
    state: JobState,
    step: Option<String>,
    progress: f64,
    message: Option<String>,
    attempt: i32,
    max_attempts: i32,
    cancel_requested: bool,
    input: serde_json::Value,
    result: Option<serde_json::Value>,
    outputs: Vec<OutputView>,
    error: Option<ErrorView>,
    correlation_id: Option<String>,
    run_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    artifacts_expire_at: Option<DateTime<Utc>>,
    status_url: String,
    events_url: String,
}

/// One artifact with a fresh signed link.
#[derive(Debug, Serialize)]
pub struct OutputView {
    name: String,
    bytes: u64,
    sha256: String,
    content_type: String,
    url: Option<String>,
    url_expires_at: Option<DateTime<Utc>>,
    download_url: String,
}

/// The failure of a failed (or retrying) job.
#[derive(Debug, Serialize)]
pub struct ErrorView {
    code: String,
    message: String,
    step: Option<String>,
    retryable: bool,
}

impl From<&JobFailure> for ErrorView {
    fn from(f: &JobFailure) -> Self {
        Self { code: f.code.clone(), message: f.message.clone(), step: f.step.clone(), retryable: f.retryable }
    }
}

/// Base of absolute links: the configured public URL, else `http://<Host>`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

impl JobView {
    /// The view of `job`, with links under `base`.
    pub async fn new(state: &AppState, base: &str, job: &Job) -> Self {
        let status_url = format!("{base}/v1/jobs/{}", job.id);
        let mut outputs = Vec::new();
        if let (JobState::Succeeded, Some(out)) = (job.state, &job.output) {
            for a in &out.artifacts {
                outputs.push(OutputView::new(state, base, &status_url, a, state.link_ttl(&job.kind)).await);
            }
        }
        Self {
            id: job.id.to_string(),
            kind: job.kind.clone(),
            queue: job.queue.clone(),
            priority: job.priority,
            state: job.state,
            step: job.step.clone(),
            progress: job.progress,
            message: job.message.clone(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            cancel_requested: job.cancel_requested,
            input: job.input.clone(),
            result: job.output.as_ref().map(|o| o.result.clone()).filter(|r| !r.is_null()),
            outputs,
            error: job.error.as_ref().map(ErrorView::from),
            correlation_id: job.correlation_id.clone(),
            run_at: job.run_at,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            updated_at: job.updated_at,
            artifacts_expire_at: job.artifacts_expire_at,
            events_url: format!("{status_url}/events"),
            status_url,
        }
    }
}

impl OutputView {
    async fn new(state: &AppState, base: &str, status_url: &str, a: &Artifact, ttl: Duration) -> Self {
        let link = signed_link(state, base, &a.key, &a.name, ttl).await;
        Self {
            name: a.name.clone(),
            bytes: a.bytes,
            sha256: a.sha256.clone(),
            content_type: a.content_type.clone(),
            url: link.as_ref().map(|l| l.0.clone()),
            url_expires_at: link.map(|l| l.1),
            download_url: format!("{status_url}/download/{}", pct(&a.name)),
        }
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…` for a download name.
pub fn attachment(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", pct(name))
}

fn pct(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A fresh link to a blob that downloads as `name`: the store's own presigned URL when
/// it has one (S3), else one signed by the API's [`tintype_blobs::UrlSigner`].
pub async fn signed_link(
    state: &AppState,
    base: &str,
    key: &str,
    name: &str,
    ttl: Duration,
) -> Option<(String, DateTime<Utc>)> {
    let key = BlobKey::new(key).ok()?;
    let disposition = attachment(name);
    match state.blobs.presign_get(&key, ttl, Some(&disposition)).await {
        Ok(Some(p)) => return Some((p.url, DateTime::<Utc>::from(p.expires_at))),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(%key, error = %e, "could not presign a download link");
            return None;
        }
    }
    let exp = SystemTime::now().checked_add(ttl)?.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let q = state.signer.sign("GET", &key, exp, Some(&disposition));
    let at = DateTime::<Utc>::from(UNIX_EPOCH + Duration::from_secs(exp));
    Some((format!("{base}/v1/blobs/{}?{}", key.url_path(), q.to_query()), at))
}
