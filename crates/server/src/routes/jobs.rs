//! Job routes: create (with idempotency), show, list, cancel, retry, download.

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tintype_queue::{Enqueued, JobFilter, JobId, JobState, NewJob, QueueError};

use crate::error::{
    ARTIFACT_NOT_FOUND, ARTIFACTS_EXPIRED, ApiError, INVALID_HEADER, INVALID_IDEMPOTENCY_KEY, INVALID_PRIORITY,
    INVALID_QUERY, INVALID_QUEUE, JOB_FINISHED, JOB_NOT_FINISHED, LINK_FAILED, MULTIPLE_ARTIFACTS, NOT_RETRYABLE,
    QUEUE_FULL,
};
use crate::views::{JobView, base_url, signed_link};
use crate::{AppState, REQUEST_ID, Tenant, admission};
use tintype_kinds::Submit;

pub use tintype_queue::QUEUES;

/// Body of `POST /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    kind: String,
    #[serde(default)]
    input: serde_json::Value,
    queue: Option<String>,
    priority: Option<i32>,
}

/// `/v1/jobs…` (but the event stream), JSON bodies up to `limit` bytes; creating and
/// retrying jobs count against the plan's `jobs` rate limit.
pub fn routes(state: &AppState, limit: usize) -> Router<AppState> {
    let rate = || axum::middleware::from_fn_with_state(state.clone(), crate::admission::limit_jobs);
    Router::new()
        .route("/v1/jobs", post(create).route_layer(rate()).get(list).layer(DefaultBodyLimit::max(limit)))
        .route("/v1/jobs/{id}", get(show).delete(cancel))
        .route("/v1/jobs/{id}/retry", post(retry).route_layer(rate()))
        .route("/v1/jobs/{id}/download", get(download))
        .route("/v1/jobs/{id}/download/{artifact}", get(download_artifact))
}

/// `POST /v1/jobs`: 202 with a new job, 200 with the job an identical earlier request
/// made under the same `Idempotency-Key`, 409 for the key reused with another body.
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    body: Result<Json<CreateJob>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body?;
    let idempotency_key = header_text(&headers, "idempotency-key")?;
    if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
        return Err(ApiError::new(INVALID_IDEMPOTENCY_KEY, "Idempotency-Key must be 1 to 255 characters"));
    }
    let order = Order {
        kind: req.kind,
        input: req.input,
        queue: req.queue,
        priority: req.priority.unwrap_or(0),
        idempotency_key,
        correlation_id: header_text(&headers, REQUEST_ID.as_str())?,
    };
    let enqueued = submit(&state, &tenant, order).await?;
    let status = if enqueued.created { StatusCode::ACCEPTED } else { StatusCode::OK };
    let view = JobView::new(&state, &base_url(&state, &headers), &enqueued.job).await;
    let mut res = (status, Json(view)).into_response();
    let location = format!("/v1/jobs/{}", enqueued.job.id);
    res.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("ids are ASCII"));
    Ok(res)
}

/// A job to make, from `POST /v1/jobs` or from another route (an upload's confirm makes
/// its `ingest` job).
#[derive(Debug)]
pub(crate) struct Order {
    pub(crate) kind: String,
    pub(crate) input: serde_json::Value,
    pub(crate) queue: Option<String>,
    pub(crate) priority: i32,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) correlation_id: Option<String>,
}

/// Validates an order through its kind's spec (and the tenant's plan) and enqueues it.
pub(crate) async fn submit(state: &AppState, tenant: &Tenant, order: Order) -> Result<Enqueued, ApiError> {
    let spec = state.kinds.get(&order.kind)?;
    let plan = admission::plan_of(state, tenant)?;
    if !(-1000..=1000).contains(&order.priority) {
        return Err(ApiError::new(INVALID_PRIORITY, "priority must be between -1000 and 1000"));
    }
    admission::check_order(plan, tenant, &order.kind, order.priority)?;
    // Ingest's results are the library's renditions, which the quota does not count: the
    // upload that filled it may still become a photo.
    if order.kind != "ingest" {
        admission::check_storage(state, tenant, 0).await?;
    }
    let mut input = if order.input.is_null() { json!({}) } else { order.input };
    let submit = Submit { tenant: &tenant.id, plan: &tenant.plan, catalog: &*state.catalog, library: &*state.library };
    spec.validate(&mut input, submit).await?;
    spec.apply_plan(&mut input, plan);
    let queue = order.queue.unwrap_or_else(|| spec.default_queue().to_owned());
    if !QUEUES.contains(&queue.as_str()) {
        return Err(ApiError::new(INVALID_QUEUE, format!("queue must be one of {}", QUEUES.join(", "))));
    }
    if let Some(max) = state.config.max_queued_jobs
        && state.engine.queue_depth(&queue, max).await? >= max
    {
        let detail = format!("the {queue} queue has {max} jobs waiting, its limit; retry in 2 s");
        return Err(ApiError::busy(QUEUE_FULL, detail).header(header::RETRY_AFTER, 2));
    }
    let class = spec.quota_class(&input);
    let mut job = NewJob::new(tenant.id.clone(), order.kind, input);
    job.queue = queue;
    job.priority = order.priority;
    job.max_attempts = state.config.max_attempts;
    job.artifact_ttl = spec.lifetimes().artifacts;
    job.idempotency_key = order.idempotency_key;
    job.correlation_id = order.correlation_id;
    job.running_cap = plan.max_running_jobs.get().map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    job.admission = admission::rules(plan, class);
    state.engine.enqueue(job).await.map_err(|e| admission::refusal(state, plan, tenant, class, e))
}

fn header_text(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| ApiError::new(INVALID_HEADER, format!("{name} must be ASCII")))
        })
        .transpose()
}

/// `GET /v1/jobs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = state.engine.get(Some(&tenant.id), &JobId(id)).await?.ok_or(QueueError::NotFound)?;
    Ok(Json(JobView::new(&state, &base_url(&state, &headers), &job).await))
}

/// Query of `GET /v1/jobs`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    queue: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/jobs?state=&kind=&queue=&cursor=&limit=`: the tenant's jobs, newest first.
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query?;
    let job_state = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => {
            Some(JobState::parse(s).ok_or_else(|| ApiError::new(INVALID_QUERY, format!("unknown state {s:?}")))?)
        }
    };
    let filter = JobFilter {
        tenant: Some(tenant.id),
        state: job_state,
        kind: q.kind.filter(|k| !k.is_empty()),
        queue: q.queue.filter(|k| !k.is_empty()),
        cursor: q.cursor.filter(|c| !c.is_empty()).map(JobId),
        limit: q.limit.unwrap_or(50).min(500),
    };
    let page = state.engine.list(&filter).await?;
    let base = base_url(&state, &headers);
    let mut jobs: Vec<JobView> = Vec::with_capacity(page.jobs.len());
    for job in &page.jobs {
        jobs.push(JobView::new(&state, &base, job).await);
    }
    Ok(Json(json!({ "jobs": jobs, "next_cursor": page.next_cursor })))
}

/// `DELETE /v1/jobs/{id}`: a queued job is cancelled at once (200); a running one is
/// asked to stop (202, `cancel_requested`); a finished one is a 409.
pub async fn cancel(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = state.engine.cancel(Some(&tenant.id), &JobId(id)).await.map_err(|e| match e {
        QueueError::InvalidState(s) => ApiError::new(JOB_FINISHED, format!("the job is already {s}")),
        other => other.into(),
    })?;
    let status = if job.state == JobState::Running { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(JobView::new(&state, &base_url(&state, &headers), &job).await)).into_response())
}

/// `POST /v1/jobs/{id}/retry`: runs a failed or cancelled job again, held to the plan
/// like a new job: the active-job cap, and the daily quota when the job is not counted
/// against it any more (its count was given back after a failure through the server's
/// fault).
pub async fn retry(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = JobId(id);
    let plan = admission::plan_of(&state, &tenant)?;
    let found = state.engine.get(Some(&tenant.id), &id).await?.ok_or(QueueError::NotFound)?;
    let class = state.kinds.get(&found.kind)?.quota_class(&found.input);
    let rules = admission::rules(plan, class);
    let job = state.engine.retry(Some(&tenant.id), &id, &rules).await.map_err(|e| match e {
        QueueError::InvalidState(s) => {
            ApiError::new(NOT_RETRYABLE, format!("only failed or cancelled jobs can be retried; this one is {s}"))
        }
        other => admission::refusal(&state, plan, &tenant, class, other),
    })?;
    Ok((StatusCode::ACCEPTED, Json(JobView::new(&state, &base_url(&state, &headers), &job).await)).into_response())
}

/// `GET /v1/jobs/{id}/download`: 302 to the job's only artifact.
pub async fn download(
    state: State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    redirect_to_artifact(state, tenant, headers, id, None).await
}

/// `GET /v1/jobs/{id}/download/{artifact}`: 302 to the named artifact.
pub async fn download_artifact(
    state: State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path((id, artifact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    redirect_to_artifact(state, tenant, headers, id, Some(artifact)).await
}

async fn redirect_to_artifact(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    id: String,
    name: Option<String>,
) -> Result<Response, ApiError> {
    let job = state.engine.get(Some(&tenant.id), &JobId(id)).await?.ok_or(QueueError::NotFound)?;
    match job.state {
        JobState::Succeeded => {}
        JobState::Expired => {
            return Err(ApiError::new(ARTIFACTS_EXPIRED, "the job's artifacts have expired"));
        }
        s => return Err(ApiError::new(JOB_NOT_FINISHED, format!("the job is {s}; nothing to download yet"))),
    }
    let artifacts = job.output.map(|o| o.artifacts).unwrap_or_default();
    let artifact = match name {
        Some(n) => artifacts
            .into_iter()
            .find(|a| a.name == n)
            .ok_or_else(|| ApiError::not_found(ARTIFACT_NOT_FOUND, "artifact"))?,
        None if artifacts.len() == 1 => artifacts.into_iter().next().expect("one artifact"),
        None if artifacts.is_empty() => return Err(ApiError::not_found(ARTIFACT_NOT_FOUND, "artifact")),
        None => {
            let names: Vec<_> = artifacts.iter().map(|a| a.name.as_str()).collect();
            return Err(ApiError::new(MULTIPLE_ARTIFACTS, format!("name one of: {}", names.join(", "))));
        }
    };
    let (url, _) =
        signed_link(&state, &base_url(&state, &headers), &artifact.key, &artifact.name, state.link_ttl(&job.kind))
            .await
            .ok_or_else(|| ApiError::new(LINK_FAILED, "could not sign a link"))?;
    let location = HeaderValue::from_str(&url).map_err(|_| ApiError::new(LINK_FAILED, "bad link"))?;
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response())
}
