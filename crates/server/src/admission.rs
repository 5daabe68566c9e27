//! What a tenant's plan lets through before a job is queued: the plan itself (a key's
//! plan must be configured), the kind, the priority, and the refusals of the engine's
//! atomic checks (active-job cap, daily quota) as the answers clients act on: a 402 with
//! the counts, the reset time and the upgrade link, a 429 with `Retry-After`.

use axum::http::header::RETRY_AFTER;
use serde_json::json;
use tintype_kinds::QuotaClass;
use tintype_plans::{KIND_NOT_ALLOWED, PRIORITY_NOT_ALLOWED, Plan, UNKNOWN_PLAN};
use tintype_queue::QueueError;

use crate::{ApiError, AppState, Tenant};

/// The tenant's plan, or `unknown_plan` (403) when the key names one the config lacks.
pub(crate) fn plan_of<'a>(state: &'a AppState, tenant: &Tenant) -> Result<&'a Plan, ApiError> {
    state.plans.get(&tenant.plan).ok_or_else(|| {
        ApiError::new(UNKNOWN_PLAN, format!("this key's plan {:?} is not configured on this server", tenant.plan))
    })
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
