//! The library's model: photos (one per tenant and content, with what EXIF said and a
//! perceptual hash), their renditions, albums, timeline queries and pages, and the
//! similarity answers. Ids are strings (`pho_…`, `alb_…`); an upload is named by its
//! catalog id, by value.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::cursor::Cursor;

/// What a photo's EXIF said (each field only when it was there and made sense).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exif {
    /// When it was taken, as an instant. When EXIF gave no offset, this is the local wall
    /// time read as if it were UTC (and `taken_offset_minutes` is `None`).
    pub taken_at: Option<DateTime<Utc>>,
    /// The offset from UTC of the camera's clock, in minutes (`None`: unknown).
    pub taken_offset_minutes: Option<i32>,
    /// Camera maker (`Make`).
    pub make: Option<String>,
    /// Camera model (`Model`).
    pub model: Option<String>,
    /// Lens (`LensModel`).
    pub lens: Option<String>,
    /// Exposure time, in seconds.
    pub exposure_time: Option<f64>,
    /// Aperture (f-number).
    pub f_number: Option<f64>,
    /// ISO speed.
    pub iso: Option<u32>,
    /// Focal length, in millimetres.
    pub focal_length_mm: Option<f64>,
    /// Latitude, degrees (north positive).
    pub gps_latitude: Option<f64>,
    /// Longitude, degrees (east positive).
    pub gps_longitude: Option<f64>,
    /// Altitude, metres above sea level.
    pub gps_altitude: Option<f64>,
    /// EXIF orientation (1–8), as found (the stored size is already upright).
    pub orientation: Option<u16>,
}

/// Where a photo is in its ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoState {
    /// Recorded by [`begin_photo`](crate::Library::begin_photo), renditions not all made
    /// yet: found by id, hash and similarity, but not on the timeline.
    Processing,
    /// Made ready by [`set_ready`](crate::Library::set_ready): on the timeline.
    Ready,
}

impl PhotoState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoState::Processing => "processing",
            PhotoState::Ready => "ready",
        }
    }

    /// The state stored as `s`.
    pub fn parse(s: &str) -> Option<PhotoState> {
        match s {
            "processing" => Some(PhotoState::Processing),
            "ready" => Some(PhotoState::Ready),
            _ => None,
        }
    }
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Photo {
    /// `pho_…` id.
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// The catalog upload it was made from (`upl_…`).
    pub upload_id: String,
    /// Hex SHA-256 of the original (unique per tenant).
    pub sha256: String,
    /// File name the client gave, if any.
    pub file_name: Option<String>,
    /// MIME type of the original.
    pub content_type: String,
    /// Size of the original.
    pub bytes: u64,
    /// Format of the original: `jpeg`, `png`, `webp`, `tiff`, `heic`.
    pub format: String,
    /// Upright width in pixels (EXIF orientation applied).
    pub width: u32,
    /// Upright height in pixels.
    pub height: u32,
    /// What EXIF said.
    pub exif: Exif,
    /// 64-bit perceptual hash, if one was computed.
    pub phash: Option<u64>,
    /// How the hash was computed (algorithm and size), for callers that must tell hashes
    /// made differently apart (the library compares every hash with every other).
    pub phash_params: Option<String>,
    /// Ingest state.
    pub state: PhotoState,
    /// Where the timeline puts it: `exif.taken_at`, else `created_at`. Never changes.
    pub sort_at: DateTime<Utc>,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Last changed (state).
    pub updated_at: DateTime<Utc>,
}

/// A photo to record: everything but the id, the state and the times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPhoto {
    /// Owner.
    pub tenant: String,
    /// The catalog upload.
    pub upload_id: String,
    /// Hex SHA-256 of the original.
    pub sha256: String,
    /// File name.
    pub file_name: Option<String>,
    /// MIME type.
    pub content_type: String,
    /// Size of the original.
    pub bytes: u64,
    /// Format of the original.
    pub format: String,
    /// Upright width.
    pub width: u32,
    /// Upright height.
    pub height: u32,
    /// What EXIF said.
    pub exif: Exif,
    /// Perceptual hash.
    pub phash: Option<u64>,
    /// How the hash was computed.
    pub phash_params: Option<String>,
}

/// One rendition of a photo, stored as a blob the caller names from the photo id, size
/// and format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    /// The longest edge asked for: 256, 512 or 1024.
    pub size: u32,
    /// Encoding: `jpeg`, `webp`, `avif`.
    pub format: String,
    /// Actual width.
    pub width: u32,
    /// Actual height.
    pub height: u32,
    /// Encoded size.
    pub bytes: u64,
    /// Entity tag of the blob.
    pub etag: String,
}

/// A photo with its renditions and the albums it is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoDetail {
    /// The photo.
    pub photo: Photo,
    /// Its renditions, by size then format.
    pub renditions: Vec<Rendition>,
    /// Ids of the albums holding it, oldest album first.
    pub albums: Vec<String>,
}

/// A named set of a tenant's photos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    /// `alb_…` id.
    pub id: String,
    /// Owner.
    pub tenant: String,
    /// Name, unique per tenant (exact match).
    pub name: String,
    /// Photos in it, processing ones included.
    pub photo_count: u64,
    /// Its newest ready photo by `sort_at` (a processing one has nothing to show yet).
    pub cover_photo_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last renamed or changed in membership.
    pub updated_at: DateTime<Utc>,
}

/// What [`rename_album`](crate::Library::rename_album) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Renamed {
    /// Renamed (or it already had that name).
    Done,
    /// No such album for this tenant.
    NotFound,
    /// Another of the tenant's albums has that name; nothing changed.
    NameTaken,
}

/// A page of the timeline: ready photos, newest `sort_at` first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineQuery {
    /// Continue strictly after this position (a previous page's `next`).
    pub after: Option<Cursor>,
    /// Page size; drivers clamp it to 1..=500. The default is 100.
    pub limit: u32,
    /// Only photos with `sort_at >= from`.
    pub from: Option<DateTime<Utc>>,
    /// Only photos with `sort_at < to`.
    pub to: Option<DateTime<Utc>>,
    /// Only photos whose make, model, or "make model" equals this, ignoring case
    /// (ASCII case only on SQLite). Empty: no filter.
    pub camera: Option<String>,
    /// Only photos in this album (another tenant's album: none).
    pub album: Option<String>,
    /// Only photos whose file name, make, model or lens contains this text, ignoring case
    /// (ASCII case only on SQLite); `%`, `_` and `\` are plain characters. Empty: no filter.
    pub q: Option<String>,
}

impl Default for TimelineQuery {
    fn default() -> Self {
        TimelineQuery { after: None, limit: 100, from: None, to: None, camera: None, album: None, q: None }
    }
}

/// One page of photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The photos, in timeline order.
    pub photos: Vec<Photo>,
    /// Where the next page starts: set when this page is full (there may be more).
    pub next: Option<Cursor>,
}

/// Two of a tenant's photos recorded as near-duplicates (`a < b`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearPair {
    /// The smaller id.
    pub a: String,
    /// The larger id.
    pub b: String,
    /// Hamming distance of their hashes.
    pub distance: u32,
}

/// A photo close to a hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Similar {
    /// The photo.
    pub photo: Photo,
    /// Hamming distance of its hash to the one asked about.
    pub distance: u32,
}
