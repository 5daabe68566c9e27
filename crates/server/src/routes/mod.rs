//! The route table: one line per route, handlers in the modules beside it.

pub mod blobs;
pub mod events;
pub mod health;
pub mod jobs;
pub mod uploads;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::AppState;

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    let upload_limit = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    let json_limit = state.config.max_json_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/uploads", post(uploads::create).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/v1/uploads/{id}", get(uploads::show))
        .route("/v1/jobs", post(jobs::create).get(jobs::list).layer(DefaultBodyLimit::max(json_limit)))
        .route("/v1/jobs/{id}", get(jobs::show).delete(jobs::cancel))
        .route("/v1/jobs/{id}/retry", post(jobs::retry))
        .route("/v1/jobs/{id}/events", get(events::stream))
        .route("/v1/jobs/{id}/download", get(jobs::download))
        .route("/v1/jobs/{id}/download/{artifact}", get(jobs::download_artifact))
        .route("/v1/blobs/{*key}", get(blobs::serve))
        .with_state(state)
}
