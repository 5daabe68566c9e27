//! Albums, scoped to the caller's tenant: `POST /v1/albums` `{name}` (names are unique per
//! tenant: 409 `album_exists`), `GET /v1/albums`, `GET|PATCH|DELETE /v1/albums/{id}`
//! (deleting an album keeps its photos), `POST /v1/albums/{id}/photos` `{photo_ids}` (only
//! the tenant's photos are added; the answer counts them) and
//! `DELETE /v1/albums/{id}/photos/{photo_id}`. An album's photos are listed by the
//! timeline: `GET /v1/photos?album={id}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tintype_library::{Album, Renamed};

use tintype_library::ALBUM_NOT_FOUND;

use crate::error::{ALBUM_EXISTS, ApiError, INVALID_REQUEST};
use crate::{AppState, Tenant};

/// Most photos one request may add.
pub const MAX_PHOTOS_PER_REQUEST: usize = 1000;

/// `/v1/albums…`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/albums", post(create).get(list))
        .route("/v1/albums/{id}", get(show).patch(rename).delete(remove))
        .route("/v1/albums/{id}/photos", post(add_photos))
        .route("/v1/albums/{id}/photos/{photo_id}", delete(remove_photo))
}

/// Body of `POST /v1/albums` and `PATCH /v1/albums/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbumName {
    name: String,
}

impl AlbumName {
    /// The name trimmed: 1 to 200 characters, no control characters.
    fn checked(self) -> Result<String, ApiError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(ApiError::new(INVALID_REQUEST, "an album name is 1 to 200 characters, no control characters"));
        }
        Ok(name)
    }
}

fn not_found() -> ApiError {
    ApiError::not_found(ALBUM_NOT_FOUND, "album")
}

fn taken(name: &str) -> ApiError {
    ApiError::new(ALBUM_EXISTS, format!("there is already an album named {name:?}"))
}

/// `POST /v1/albums`: 201.
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    body: Result<Json<AlbumName>, JsonRejection>,
) -> Result<Response, ApiError> {
    let name = body?.0.checked()?;
    let album = state.library.create_album(&tenant.id, &name).await?.ok_or_else(|| taken(&name))?;
    Ok((StatusCode::CREATED, Json(album)).into_response())
}

/// `GET /v1/albums`: every album, by name.
pub async fn list(State(state): State<AppState>, tenant: Tenant) -> Result<Json<serde_json::Value>, ApiError> {
    let albums = state.library.list_albums(&tenant.id).await?;
    Ok(Json(json!({ "albums": albums })))
}

/// `GET /v1/albums/{id}`.
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Album>, ApiError> {
    Ok(Json(state.library.get_album(&tenant.id, &id).await?.ok_or_else(not_found)?))
}

/// `PATCH /v1/albums/{id}` `{name}`.
pub async fn rename(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    body: Result<Json<AlbumName>, JsonRejection>,
) -> Result<Json<Album>, ApiError> {
    let name = body?.0.checked()?;
    match state.library.rename_album(&tenant.id, &id, &name).await? {
        Renamed::Done => Ok(Json(state.library.get_album(&tenant.id, &id).await?.ok_or_else(not_found)?)),
        Renamed::NotFound => Err(not_found()),
        Renamed::NameTaken => Err(taken(&name)),
    }
}

/// `DELETE /v1/albums/{id}`: 204; the photos stay in the library.
pub async fn remove(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !state.library.delete_album(&tenant.id, &id).await? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Body of `POST /v1/albums/{id}/photos`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoIds {
    photo_ids: Vec<String>,
}

/// `POST /v1/albums/{id}/photos` `{photo_ids}`: `{added}` counts the photos that joined
/// (another tenant's, unknown ones and members already are not counted).
pub async fn add_photos(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    body: Result<Json<PhotoIds>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ids = body?.0.photo_ids;
    if ids.len() > MAX_PHOTOS_PER_REQUEST {
        let detail = format!("at most {MAX_PHOTOS_PER_REQUEST} photos per request");
        return Err(ApiError::new(INVALID_REQUEST, detail));
    }
    let added = state.library.add_to_album(&tenant.id, &id, &ids).await?.ok_or_else(not_found)?;
    Ok(Json(json!({ "album_id": id, "added": added })))
}

/// `DELETE /v1/albums/{id}/photos/{photo_id}`: `{removed}` is 0 or 1.
pub async fn remove_photo(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((id, photo_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let removed = state.library.remove_from_album(&tenant.id, &id, &[photo_id]).await?.ok_or_else(not_found)?;
    Ok(Json(json!({ "album_id": id, "removed": removed })))
}
