//! The route table, grouped per domain: each module below owns its routes (`routes()`)
//! and their handlers; this file only merges them and sets the body limits.

pub mod albums;
pub mod blobs;
pub mod events;
pub mod health;
pub mod jobs;
pub mod photos;
pub mod uploads;
pub mod usage;

use axum::Router;

use crate::AppState;

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    let upload_limit = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    let json_limit = state.config.max_json_bytes;
    Router::new()
        .merge(health::routes())
        .merge(uploads::routes(&state, upload_limit, json_limit))
        .merge(jobs::routes(&state, json_limit))
        .merge(events::routes())
        .merge(usage::routes())
        .merge(blobs::routes())
        .merge(photos::routes())
        .merge(albums::routes().layer(axum::extract::DefaultBodyLimit::max(json_limit)))
        .with_state(state)
}
