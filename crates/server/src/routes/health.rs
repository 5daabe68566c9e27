//! Liveness and readiness probes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use tintype_codes::{Code, Coded};

use crate::AppState;
use crate::error::{ApiError, NOT_READY};

/// `/healthz`, `/readyz`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the engine and the blob store answer. Each part says `ok` or the
/// stable code of its failure (the detail, which may name hosts or paths, goes to the
/// log only); a part down is a 503 problem with the same `checks`.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let engine = state.engine.ping().await.map_err(|e| ("engine", e.code(), e.to_string()));
    let blobs = state.blobs.ping().await.map_err(|e| ("blobs", e.code(), e.to_string()));
    let show = |r: &Result<(), (&str, Code, String)>| match r {
        Ok(()) => "ok".to_owned(),
        Err((part, code, detail)) => {
            tracing::warn!(part, %code, %detail, "not ready");
            code.to_string()
        }
    };
    let checks = json!({ "engine": show(&engine), "blobs": show(&blobs) });
    if engine.is_ok() && blobs.is_ok() {
        return Json(json!({ "status": "ready", "checks": checks })).into_response();
    }
    let down: Vec<&str> = [&engine, &blobs].into_iter().filter_map(|r| r.as_ref().err().map(|e| e.0)).collect();
    // Built directly, not through `ApiError::new`: this detail names no internals, so it
    // is not hidden, and each part's failure is logged above.
    let problem = ApiError::busy(NOT_READY, format!("not ready: {} down", down.join(" and ")));
    problem.into_response_with(serde_json::Map::from_iter([("checks".to_owned(), checks)]))
}
