//! `GET /v1/usage`: the tenant's plan, what it allows and what is used of it today, so a
//! client (the web UI, a seller's dashboard) can show "1 of 1 print packs today, resets
//! at midnight UTC" before the 402 ever comes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::{ApiError, AppState, Tenant, admission};

/// `/v1/usage`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/usage", get(usage))
}

/// `GET /v1/usage`.
pub async fn usage(State(state): State<AppState>, tenant: Tenant) -> Result<Json<Value>, ApiError> {
    let plan = admission::plan_of(&state, &tenant)?;
    let used = state.engine.usage(&tenant.id).await?;
    let (_, resets) = tintype_plans::quota_day(state.engine.now());
    let daily: serde_json::Map<String, Value> = state
        .kinds
        .quota_classes()
        .iter()
        .filter(|c| plan.allows_kind(kind_of(&state, c.name)))
        .map(|c| {
            let n = used.daily.get(c.name).copied().unwrap_or(0);
            let limit = plan.daily_limit(c.name);
            let remaining = limit.map(|l| l.saturating_sub(n));
            (c.name.to_owned(), json!({ "used": n, "limit": limit, "remaining": remaining }))
        })
        .collect();
    let rate: serde_json::Map<String, Value> = plan
        .rate
        .iter()
        .map(|(class, r)| (class.clone(), json!({ "requests": r.requests, "per_secs": r.per_secs })))
        .collect();
    let kinds: Vec<&str> = state.kinds.names().filter(|k| plan.allows_kind(k)).collect();
    Ok(Json(json!({
        "tenant": tenant.id,
        "plan": tenant.plan,
        "day": used.day,
        "resets_at": resets,
        "active_jobs": { "used": used.active, "limit": plan.max_active_jobs.get() },
        "daily": daily,
        "rate_limits": rate,
        "max_upload_bytes": state.upload_limit(&tenant),
        "storage_bytes": { "used": admission::stored_bytes(&state, &tenant).await?, "limit": plan.storage_bytes.get() },
        "priority": { "min": plan.priority[0], "max": plan.priority[1] },
        "kinds": kinds,
        "watermark": plan.watermark,
        "upgrade_url": (!plan.upgrade_url.is_empty()).then_some(&plan.upgrade_url),
    })))
}

/// The kind a quota class belongs to (its spec lists it).
fn kind_of<'a>(state: &'a AppState, class: &str) -> &'a str {
    state.kinds.iter().find(|s| s.quota_classes().iter().any(|c| c.name == class)).map_or("", |s| s.kind())
}
