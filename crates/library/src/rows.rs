//! Decoding library rows, for both drivers (columns read by name; generic over sqlx's
//! row type, as `tintype_db::rows` explains). Every integer column is a 64-bit integer
//! on both backends and is narrowed here, a value out of range being a corrupt row.

use sqlx::{ColumnIndex, Decode, Row, Type};
use tintype_db::DbError;
use tintype_db::rows::{opt_time, time, to_u64};

use crate::Result;
use crate::model::{Album, Exif, NearPair, Photo, PhotoState, Rendition};

/// A stored integer narrowed to the model's type.
fn narrow<T: TryFrom<i64>>(n: i64, what: &str) -> Result<T> {
    T::try_from(n).map_err(|_| DbError::Corrupt(format!("{what} out of range: {n}")))
}

/// An optional stored integer narrowed to the model's type.
fn opt_narrow<T: TryFrom<i64>>(n: Option<i64>, what: &str) -> Result<Option<T>> {
    n.map(|n| narrow(n, what)).transpose()
}

/// A `photos` row.
pub(crate) fn photo<'r, R>(row: &'r R) -> Result<Photo>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    f64: Decode<'r, R::Database> + Type<R::Database>,
{
    let state: String = row.try_get("state")?;
    let exif = Exif {
        taken_at: opt_time(row.try_get("taken_at")?)?,
        taken_offset_minutes: opt_narrow(row.try_get("taken_offset_minutes")?, "offset")?,
        make: row.try_get("make")?,
        model: row.try_get("model")?,
        lens: row.try_get("lens")?,
        exposure_time: row.try_get("exposure_time")?,
        f_number: row.try_get("f_number")?,
        iso: opt_narrow(row.try_get("iso")?, "ISO")?,
        focal_length_mm: row.try_get("focal_length_mm")?,
        gps_latitude: row.try_get("gps_latitude")?,
        gps_longitude: row.try_get("gps_longitude")?,
        gps_altitude: row.try_get("gps_altitude")?,
        orientation: opt_narrow(row.try_get("orientation")?, "orientation")?,
    };
    Ok(Photo {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        upload_id: row.try_get("upload_id")?,
        sha256: row.try_get("sha256")?,
        file_name: row.try_get("file_name")?,
        content_type: row.try_get("content_type")?,
        bytes: to_u64(row.try_get("bytes")?, "photo size")?,
        format: row.try_get("format")?,
        width: narrow(row.try_get("width")?, "width")?,
        height: narrow(row.try_get("height")?, "height")?,
        exif,
        phash: row.try_get::<Option<i64>, _>("phash")?.map(crate::near::from_bits),
        phash_params: row.try_get("phash_params")?,
        state: PhotoState::parse(&state).ok_or_else(|| DbError::Corrupt(format!("photo state {state:?}")))?,
        sort_at: time(row.try_get("sort_at")?)?,
        created_at: time(row.try_get("created_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
    })
}

/// A `photo_renditions` row.
pub(crate) fn rendition<'r, R>(row: &'r R) -> Result<Rendition>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Rendition {
        size: narrow(row.try_get("size")?, "rendition size")?,
        format: row.try_get("format")?,
        width: narrow(row.try_get("width")?, "width")?,
        height: narrow(row.try_get("height")?, "height")?,
        bytes: to_u64(row.try_get("bytes")?, "rendition bytes")?,
        etag: row.try_get("etag")?,
    })
}

/// An `albums` row with its `photo_count` and `cover_photo_id`.
pub(crate) fn album<'r, R>(row: &'r R) -> Result<Album>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Album {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        name: row.try_get("name")?,
        photo_count: to_u64(row.try_get("photo_count")?, "photo count")?,
        cover_photo_id: row.try_get("cover_photo_id")?,
        created_at: time(row.try_get("created_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
    })
}

/// A `near_duplicates` row.
pub(crate) fn pair<'r, R>(row: &'r R) -> Result<NearPair>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(NearPair { a: row.try_get("a")?, b: row.try_get("b")?, distance: narrow(row.try_get("distance")?, "distance")? })
}
