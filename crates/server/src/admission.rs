//! What a tenant's plan lets through: the plan itself (a key's plan must be
//! configured), the rate limits of route classes (a layer on those routes, counted in the
//! catalog so that they hold across api processes), the kind, the priority, and the
//! refusals of the engine's atomic checks (active-job cap, daily quota) as the answers
//! clients act on: a 402 with the counts, the reset time and the upgrade link, a 429 with
//! `Retry-After`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderName;
use axum::http::header::RETRY_AFTER;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tintype_kinds::QuotaClass;
use tintype_plans::{KIND_NOT_ALLOWED, PRIORITY_NOT_ALLOWED, Plan, RATE_LIMITED, RouteClass, UNKNOWN_PLAN};
use tintype_queue::{Admission, DailyQuota, QueueError};

use crate::{ApiError, AppState, Tenant};

/// The tenant's plan, or `unknown_plan` (403) when the key names one the config lacks.
pub(crate) fn plan_of<'a>(state: &'a AppState, tenant: &Tenant) -> Result<&'a Plan, ApiError> {
    state.plans.get(&tenant.plan).ok_or_else(|| {
        ApiError::new(UNKNOWN_PLAN, format!("this key's plan {:?} is not configured on this server", tenant.plan))
    })
}

/// What the engine checks atomically for a job of `class` under `plan` (a new one or a
/// retry): the active-job cap and the class's daily quota.
pub(crate) fn rules(plan: &Plan, class: QuotaClass) -> Admission {
    Admission {
        max_active: plan.max_active_jobs.get().map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        daily: plan.daily_limit(class.name).map(|limit| DailyQuota { class: class.name.to_owned(), limit }),
    }
}

/// Refuses a kind or priority the plan does not allow (403).
pub(crate) fn check_order(plan: &Plan, tenant: &Tenant, kind: &str, priority: i32) -> Result<(), ApiError> {
    if !plan.allows_kind(kind) {
        return Err(ApiError::new(KIND_NOT_ALLOWED, format!("the {} plan does not run {kind} jobs", tenant.plan)));
    }
    if !plan.allows_priority(priority) {
        let [low, high] = plan.priority;
        let m = format!("the {} plan allows priorities {low} to {high}; this job asked for {priority}", tenant.plan);
        return Err(ApiError::new(PRIORITY_NOT_ALLOWED, m));
    }
    Ok(())
}

/// An engine refusal as the client sees it: a spent daily quota is a 402 with the
/// class's own code (`free_batch_limit`, ...), what is left (nothing), when the day
/// resets and where to upgrade; too many active jobs a 429 to retry once one ends.
pub(crate) fn refusal(state: &AppState, plan: &Plan, tenant: &Tenant, class: QuotaClass, e: QueueError) -> ApiError {
    match e {
        QueueError::QuotaExceeded { class: name, limit } => {
            let (_, resets) = tintype_plans::quota_day(state.engine.now());
            let detail = format!(
                "the {} plan allows {limit} {} job{} a day; the next one is possible after {} UTC",
                tenant.plan,
                name.replace('_', " "),
                if limit == 1 { "" } else { "s" },
                resets.format("%Y-%m-%d %H:%M")
            );
            ApiError::new(class.over, detail)
                .with("quota", json!({ "class": name, "limit": limit, "used": limit, "remaining": 0 }))
                .with("resets_at", json!(resets))
                .with("plan", json!(tenant.plan))
                .with("upgrade_url", json!((!plan.upgrade_url.is_empty()).then_some(&plan.upgrade_url)))
        }
        QueueError::TooManyActive { limit } => {
            ApiError::coded(&e).with("limit", json!(limit)).with("plan", json!(tenant.plan)).header(RETRY_AFTER, 2)
        }
        other => other.into(),
    }
}

/// `RateLimit`.
static RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `RateLimit-Policy`.
static RATE_LIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The layer of job-creating routes (`POST /v1/jobs`, retries).
pub(crate) async fn limit_jobs(state: State<AppState>, req: Request, next: Next) -> Response {
    limit(state, RouteClass::Jobs, req, next).await
}

/// The layer of upload routes.
pub(crate) async fn limit_uploads(state: State<AppState>, req: Request, next: Next) -> Response {
    limit(state, RouteClass::Uploads, req, next).await
}

/// Counts the request against the key's plan's limit for `class`: over it, 429 with
/// `Retry-After` and the IETF `RateLimit` / `RateLimit-Policy` headers; within it, the
/// same headers on the handler's answer. Requests that do not authenticate go on to the
/// handler, which refuses them; the tenant found is kept for the handler.
async fn limit(State(state): State<AppState>, class: RouteClass, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let tenant = match Tenant::from_request_parts(&mut parts, &state).await {
        Ok(tenant) => tenant,
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    parts.extensions.insert(tenant.clone());
    let req = Request::from_parts(parts, body);
    let Some(rate) = state.plans.get(&tenant.plan).and_then(|p| p.rate_limit(class)) else {
        return next.run(req).await;
    };
    let key = format!("{}:{}", tenant.key_id.as_deref().unwrap_or(&tenant.id), class.name());
    let decision = match state.catalog.take_rate(&key, rate).await {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let policy = rate.policy_header(class);
    if !decision.allowed {
        let detail = format!(
            "the {} plan allows {} {} requests per {} s; retry in {} s",
            tenant.plan,
            rate.requests,
            class.name(),
            rate.per_secs,
            decision.retry_after_secs
        );
        return ApiError::new(RATE_LIMITED, detail)
            .with("retry_after", json!(decision.retry_after_secs))
            .header(RETRY_AFTER, decision.retry_after_secs)
            .header(RATE_LIMIT.clone(), decision.header(class))
            .header(RATE_LIMIT_POLICY.clone(), policy)
            .into_response();
    }
    let mut res = next.run(req).await;
    for (name, value) in [(&RATE_LIMIT, decision.header(class)), (&RATE_LIMIT_POLICY, policy)] {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            res.headers_mut().insert(name.clone(), v);
        }
    }
    res
}

/// The bytes the tenant keeps: its uploads and its succeeded jobs' artifacts.
pub(crate) async fn stored_bytes(state: &AppState, tenant: &Tenant) -> Result<u64, ApiError> {
    let uploads = state.catalog.upload_bytes(&tenant.id).await?;
    let artifacts = state.engine.artifact_bytes(&tenant.id).await?;
    Ok(uploads.saturating_add(artifacts))
}

/// Refuses `incoming` more bytes (an upload; 0 for a job, which is refused only once the
/// quota is full) over the plan's storage quota: 402 `storage_quota_exceeded`.
pub(crate) async fn check_storage(state: &AppState, tenant: &Tenant, incoming: u64) -> Result<(), ApiError> {
    let plan = plan_of(state, tenant)?;
    let Some(limit) = plan.storage_bytes.get() else { return Ok(()) };
    let used = stored_bytes(state, tenant).await?;
    let full = if incoming == 0 { used >= limit } else { used.saturating_add(incoming) > limit };
    if !full {
        return Ok(());
    }
    let detail = format!(
        "the {} plan keeps {limit} bytes of uploads and results; {used} are used{}",
        tenant.plan,
        if incoming > 0 { format!(" and this upload has {incoming}") } else { String::new() }
    );
    Err(ApiError::new(tintype_plans::STORAGE_QUOTA_EXCEEDED, detail)
        .with("storage", json!({ "limit": limit, "used": used }))
        .with("plan", json!(tenant.plan))
        .with("upgrade_url", json!((!plan.upgrade_url.is_empty()).then_some(&plan.upgrade_url))))
}
