//! The photo library's routes, every one scoped to the caller's tenant (another tenant's
//! photo is a 404, exactly like one that does not exist):
//!
//! - `GET /v1/photos`: the timeline (newest taken first, falling back to upload time), a
//!   keyset `cursor`, filters `from`/`to` (RFC 3339), `camera`, `album`, `q` (file name,
//!   camera, lens).
//! - `GET /v1/photos/{id}`: metadata, EXIF, renditions and their links, albums.
//! - `GET /v1/photos/{id}/thumb/{size}`: the rendition in the best format the `Accept`
//!   header allows (AVIF, then WebP, then JPEG), `Cache-Control: public, max-age=31536000,
//!   immutable`, a strong `ETag` (304 on `If-None-Match`) and `Vary: Accept`. While a
//!   better format the client accepts is still being made (AVIF comes last), the fallback
//!   is served with a one-minute lifetime instead, so caches pick the AVIF up later.
//! - `GET /v1/photos/{id}/original`: 302 to a signed link to the original.
//! - `GET /v1/photos/{id}/similar?max_distance=`: perceptual neighbours, closest first.
//! - `GET /v1/photos/duplicates`: recorded near-duplicate pairs.
//! - `DELETE /v1/photos/{id}`: the photo's rows and every blob (renditions, original).

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tintype_blobs::{BlobKey, layout};
use tintype_library::{Cursor, Photo, PhotoDetail, Rendition, TimelineQuery};

use tintype_library::PHOTO_NOT_FOUND;

use crate::error::{ApiError, INVALID_QUERY, LINK_FAILED, RENDITION_NOT_FOUND};
use crate::views::{base_url, signed_link};
use crate::{AppState, Tenant};

/// The rendition sizes a photo's view links to.
pub const THUMB_SIZES: [u32; 3] = [256, 512, 1024];

/// Rendition formats, most preferred first, with their MIME types and blob extensions.
const FORMATS: [(&str, &str, &str); 3] =
    [("avif", "image/avif", "avif"), ("webp", "image/webp", "webp"), ("jpeg", "image/jpeg", "jpg")];

/// `/v1/photos…`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/photos", get(timeline))
        .route("/v1/photos/duplicates", get(duplicates))
        .route("/v1/photos/{id}", get(show).delete(delete))
        .route("/v1/photos/{id}/thumb/{size}", get(thumb))
        .route("/v1/photos/{id}/original", get(original))
        .route("/v1/photos/{id}/similar", get(similar))
}

/// A photo as the API shows it.
#[derive(Debug, Serialize)]
pub struct PhotoView {
    id: String,
    file_name: Option<String>,
    content_type: String,
    bytes: u64,
    format: String,
    width: u32,
    height: u32,
    state: &'static str,
    taken_at: Option<DateTime<Utc>>,
    taken_offset_minutes: Option<i32>,
    sort_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    exif: serde_json::Value,
    phash: Option<String>,
    phash_params: Option<String>,
    thumbs: serde_json::Map<String, serde_json::Value>,
    original_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    renditions: Option<Vec<RenditionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    albums: Option<Vec<String>>,
}

/// One rendition in a photo's detail.
#[derive(Debug, Serialize)]
pub struct RenditionView {
    size: u32,
    format: String,
    width: u32,
    height: u32,
    bytes: u64,
    url: String,
}

impl PhotoView {
    /// The view of `p`, links under `base`.
    pub fn new(base: &str, p: &Photo) -> Self {
        let e = &p.exif;
        let gps = match (e.gps_latitude, e.gps_longitude) {
            (Some(lat), Some(lon)) => json!({ "latitude": lat, "longitude": lon, "altitude": e.gps_altitude }),
            _ => serde_json::Value::Null,
        };
        let thumbs = THUMB_SIZES
            .iter()
            .map(|s| (s.to_string(), json!(format!("{base}/v1/photos/{}/thumb/{s}", p.id))))
            .collect();
        PhotoView {
            id: p.id.clone(),
            file_name: p.file_name.clone(),
            content_type: p.content_type.clone(),
            bytes: p.bytes,
            format: p.format.clone(),
            width: p.width,
            height: p.height,
            state: match p.state {
                tintype_library::PhotoState::Processing => "processing",
                tintype_library::PhotoState::Ready => "ready",
            },
            taken_at: e.taken_at,
            taken_offset_minutes: e.taken_offset_minutes,
            sort_at: p.sort_at,
            created_at: p.created_at,
            exif: json!({
                "make": e.make, "model": e.model, "lens": e.lens,
                "exposure_time": e.exposure_time, "f_number": e.f_number, "iso": e.iso,
                "focal_length_mm": e.focal_length_mm, "orientation": e.orientation, "gps": gps,
            }),
            phash: p.phash.map(|h| format!("{h:016x}")),
            phash_params: p.phash_params.clone(),
            thumbs,
            original_url: format!("{base}/v1/photos/{}/original", p.id),
            renditions: None,
            albums: None,
        }
    }

    /// The view of a photo's detail: renditions and albums too.
    pub fn detail(base: &str, d: &PhotoDetail) -> Self {
        let mut view = PhotoView::new(base, &d.photo);
        let mut renditions: Vec<RenditionView> = d
            .renditions
            .iter()
            .map(|r| RenditionView {
                size: r.size,
                format: r.format.clone(),
                width: r.width,
                height: r.height,
                bytes: r.bytes,
                url: format!("{base}/v1/photos/{}/thumb/{}", d.photo.id, r.size),
            })
            .collect();
        renditions.sort_by(|a, b| (a.size, &a.format).cmp(&(b.size, &b.format)));
        view.renditions = Some(renditions);
        view.albums = Some(d.albums.clone());
        view
    }
}

/// Query of `GET /v1/photos`.
#[derive(Debug, Deserialize)]
pub struct TimelineParams {
    cursor: Option<String>,
    limit: Option<u32>,
    from: Option<String>,
    to: Option<String>,
    camera: Option<String>,
    album: Option<String>,
    q: Option<String>,
}

/// A query text parameter: empty is absent; at most 200 characters.
fn text(value: Option<String>, name: &str) -> Result<Option<String>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > 200 => {
            Err(ApiError::new(INVALID_QUERY, format!("{name} is over 200 characters")))
        }
        other => Ok(other),
    }
}

/// An RFC 3339 instant (or a plain date, meaning its midnight UTC).
fn instant(value: Option<String>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(&v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| ApiError::new(INVALID_QUERY, format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date")))
}

/// `GET /v1/photos`.
pub async fn timeline(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    query: Result<Query<TimelineParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = query?;
    let after = match p.cursor.filter(|c| !c.is_empty()) {
        Some(c) => Some(Cursor::decode(&c).ok_or_else(|| ApiError::new(INVALID_QUERY, "cursor is not one we made"))?),
        None => None,
    };
    let q = TimelineQuery {
        after,
        limit: p.limit.unwrap_or(100).clamp(1, 500),
        from: instant(p.from, "from")?,
        to: instant(p.to, "to")?,
        camera: text(p.camera, "camera")?,
        album: text(p.album, "album")?,
        q: text(p.q, "q")?,
    };
    let page = state.library.timeline(&tenant.id, &q).await?;
    let base = base_url(&state, &headers);
    let photos: Vec<PhotoView> = page.photos.iter().map(|p| PhotoView::new(&base, p)).collect();
    Ok(Json(json!({ "photos": photos, "next_cursor": page.next.map(|c| c.encode()) })))
}

async fn detail(state: &AppState, tenant: &Tenant, id: &str) -> Result<PhotoDetail, ApiError> {
    state.library.get(&tenant.id, id).await?.ok_or_else(|| ApiError::not_found(PHOTO_NOT_FOUND, "photo"))
}

/// `GET /v1/photos/{id}`.
pub async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<PhotoView>, ApiError> {
    let d = detail(&state, &tenant, &id).await?;
    Ok(Json(PhotoView::detail(&base_url(&state, &headers), &d)))
}

/// The formats an `Accept` header allows, most preferred first: AVIF or WebP only when
/// named (`image/*` and `*/*` mean "anything", and JPEG is what anything can show); JPEG
/// unless refused with `q=0`.
fn acceptable(accept: &str) -> Vec<&'static str> {
    let mut named: Vec<(&str, bool)> = Vec::new();
    let mut any = accept.trim().is_empty();
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0)
        });
        match media.as_str() {
            "image/avif" => named.push(("avif", !refused)),
            "image/webp" => named.push(("webp", !refused)),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => named.push(("jpeg", !refused)),
            "*/*" | "image/*" => any |= !refused,
            _ => {}
        }
    }
    let allowed = |f: &str| named.iter().find(|(n, _)| *n == f).map(|(_, ok)| *ok);
    let mut out = Vec::new();
    for f in ["avif", "webp"] {
        if allowed(f) == Some(true) {
            out.push(f);
        }
    }
    if allowed("jpeg") == Some(true) || (allowed("jpeg").is_none() && any) {
        out.push("jpeg");
    }
    out
}

/// `GET /v1/photos/{id}/thumb/{size}`.
pub async fn thumb(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path((id, size)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let size: u32 = size.parse().map_err(|_| ApiError::not_found(RENDITION_NOT_FOUND, "rendition"))?;
    // One query on this hot path (a timeline grid asks for dozens): the renditions alone,
    // tenant-scoped, so another tenant's photo has none and is a 404 like a missing one.
    let renditions = state.library.renditions(&tenant.id, &id).await?;
    if renditions.is_empty() {
        return Err(ApiError::not_found(PHOTO_NOT_FOUND, "photo"));
    }
    let of_size: Vec<&Rendition> = renditions.iter().filter(|r| r.size == size).collect();
    if of_size.is_empty() {
        return Err(ApiError::not_found(RENDITION_NOT_FOUND, "rendition"));
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*");
    let wanted = acceptable(accept);
    let chosen = wanted.iter().find_map(|f| of_size.iter().find(|r| r.format == *f));
    // Nothing the client named exists (yet): JPEG, which every client can show.
    let chosen = chosen.or_else(|| of_size.iter().find(|r| r.format == "jpeg")).copied().unwrap_or(of_size[0]);
    // A fallback: a format the client prefers is not made yet (AVIF comes last).
    let fallback = wanted.first().is_some_and(|best| *best != chosen.format.as_str());
    let cache = if fallback { "public, max-age=60" } else { "public, max-age=31536000, immutable" };
    let (mime, ext) = FORMATS
        .iter()
        .find(|(name, _, _)| *name == chosen.format)
        .map(|(_, mime, ext)| (*mime, *ext))
        .unwrap_or(("application/octet-stream", "bin"));
    let etag = HeaderValue::from_str(&chosen.etag).map_err(|_| ApiError::new(LINK_FAILED, "bad etag"))?;
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::VARY, HeaderValue::from_static("Accept")),
    ];
    let matched = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == chosen.etag || t.trim() == "*"));
    if matched {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let key = layout::photo(&tenant.id, &id, &size.to_string(), ext)?;
    let got = state.blobs.get(&key, None).await?;
    let mut res = (common, Body::from_stream(got.body)).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(got.meta.size));
    Ok(res)
}

/// `GET /v1/photos/{id}/original`: 302 to a signed link.
pub async fn original(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = detail(&state, &tenant, &id).await?;
    let upload = state
        .catalog
        .get_upload(&tenant.id, &d.photo.upload_id)
        .await?
        .ok_or_else(|| ApiError::not_found(PHOTO_NOT_FOUND, "photo original"))?;
    let name = d.photo.file_name.clone().unwrap_or_else(|| format!("{}.{}", d.photo.id, d.photo.format));
    let base = base_url(&state, &headers);
    let (url, _) = signed_link(&state, &base, &upload.blob_key, &name, state.config.download_ttl)
        .await
        .ok_or_else(|| ApiError::new(LINK_FAILED, "could not sign a link to the original"))?;
    let location = HeaderValue::from_str(&url).map_err(|_| ApiError::new(LINK_FAILED, "bad link"))?;
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response())
}

/// Query of `GET /v1/photos/{id}/similar`.
#[derive(Debug, Deserialize)]
pub struct SimilarParams {
    max_distance: Option<u32>,
    limit: Option<u32>,
}

/// `GET /v1/photos/{id}/similar?max_distance=&limit=`.
pub async fn similar(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<SimilarParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = query?;
    let max_distance = p.max_distance.unwrap_or(9);
    if max_distance > 64 {
        return Err(ApiError::new(INVALID_QUERY, "max_distance is 0 to 64 bits"));
    }
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let found = state
        .library
        .similar(&tenant.id, &id, max_distance, limit)
        .await?
        .ok_or_else(|| ApiError::not_found(PHOTO_NOT_FOUND, "photo"))?;
    let base = base_url(&state, &headers);
    let photos: Vec<_> =
        found.iter().map(|s| json!({ "distance": s.distance, "photo": PhotoView::new(&base, &s.photo) })).collect();
    Ok(Json(json!({ "photo_id": id, "max_distance": max_distance, "similar": photos })))
}

/// Query of `GET /v1/photos/duplicates`.
#[derive(Debug, Deserialize)]
pub struct PairParams {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/photos/duplicates?cursor=&limit=`: near-duplicate pairs, `a < b`.
pub async fn duplicates(
    State(state): State<AppState>,
    tenant: Tenant,
    query: Result<Query<PairParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = query?;
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let cursor = p.cursor.filter(|c| !c.is_empty());
    let after = match &cursor {
        Some(c) => Some(c.split_once('.').ok_or_else(|| ApiError::new(INVALID_QUERY, "cursor is not one we made"))?),
        None => None,
    };
    let pairs = state.library.near_duplicates(&tenant.id, after, limit).await?;
    let next = (pairs.len() == limit as usize).then(|| pairs.last().map(|p| format!("{}.{}", p.a, p.b))).flatten();
    Ok(Json(json!({ "pairs": pairs, "next_cursor": next })))
}

/// `DELETE /v1/photos/{id}`: 204; the rows go first (the photo vanishes at once), then
/// every blob: renditions and the original (with its upload).
pub async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let gone = state
        .library
        .delete_photo(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(PHOTO_NOT_FOUND, "photo"))?;
    let prefix = format!("{}{}/", layout::area_prefix(&tenant.id, layout::Area::Photos)?, gone.photo.id);
    state.blobs.delete_prefix(&prefix).await?;
    if let Some(upload) = state.catalog.delete_upload(&tenant.id, &gone.photo.upload_id).await? {
        state.blobs.delete(&BlobKey::new(upload.blob_key)?).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn accept_headers_pick_formats() {
        let cases = [
            ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", vec!["avif", "webp", "jpeg"]),
            ("image/webp,*/*", vec!["webp", "jpeg"]),
            ("*/*", vec!["jpeg"]),
            ("", vec!["jpeg"]),
            ("image/avif;q=0, image/webp", vec!["webp"]),
            ("image/jpeg;q=0, image/*", vec![]),
            ("IMAGE/AVIF", vec!["avif"]),
            ("text/html", vec![]),
        ];
        for (accept, want) in cases {
            assert_eq!(acceptable(accept), want, "{accept:?}");
        }
    }
}
