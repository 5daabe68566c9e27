//! Liveness and readiness probes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;

/// `/healthz`, `/readyz`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the engine and the blob store answer.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let engine = state.engine.ping().await.map_err(|e| e.to_string());
    let blobs = state.blobs.ping().await.map_err(|e| e.to_string());
    let status = if engine.is_ok() && blobs.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let show = |r: Result<(), String>| r.err().unwrap_or_else(|| "ok".into());
    (
        status,
        Json(
            json!({ "status": if status.is_success() { "ready" } else { "unavailable" }, "engine": show(engine), "blobs": show(blobs) }),
        ),
    )
}
