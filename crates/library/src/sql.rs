//! The library's statements, written once for both drivers where they are the same
//! (SQLite accepts PostgreSQL's `$n` placeholders), the timeline query built once with
//! sqlx's `QueryBuilder`, and the few values both drivers compute the same way.

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::model::{Cursor, NewPhoto, Page, Photo, TimelineQuery};

/// Largest page of the timeline, of near-duplicate pairs and of similar photos.
pub(crate) const PAGE_MAX: u32 = 500;

/// Records a photo unless the tenant has that content. Binds, in order: id, tenant,
/// upload_id, sha256, file_name, content_type, bytes, format, width, height, the 13 EXIF
/// fields as in the table, phash, its four quarters, phash_params, sort_at, created_at
/// (= updated_at).
pub(crate) const INSERT_PHOTO: &str = "INSERT INTO photos (id, tenant, upload_id, sha256, file_name,
        content_type, bytes, format, width, height, taken_at, taken_offset_minutes, make, model, lens,
        exposure_time, f_number, iso, focal_length_mm, gps_latitude, gps_longitude, gps_altitude,
        orientation, phash, phash_q0, phash_q1, phash_q2, phash_q3, phash_params, state, sort_at,
        created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
        $21, $22, $23, $24, $25, $26, $27, $28, $29, 'processing', $30, $31, $31)
     ON CONFLICT (tenant, sha256) DO NOTHING
     RETURNING *";
/// One photo of a tenant: tenant, id.
pub(crate) const GET_PHOTO: &str = "SELECT * FROM photos WHERE tenant = $1 AND id = $2";
/// A tenant's photo by content: tenant, sha256.
pub(crate) const FIND_PHOTO: &str = "SELECT * FROM photos WHERE tenant = $1 AND sha256 = $2";
/// How many photos a tenant has: tenant.
pub(crate) const COUNT_PHOTOS: &str = "SELECT count(*) FROM photos WHERE tenant = $1";
/// Makes a photo ready (a ready one keeps its `updated_at`): tenant, id, now.
pub(crate) const SET_READY: &str = "UPDATE photos
        SET state = 'ready', updated_at = CASE WHEN state = 'ready' THEN updated_at ELSE $3 END
     WHERE tenant = $1 AND id = $2";
/// Deletes a photo; renditions, memberships and pairs go with it (foreign keys): tenant, id.
pub(crate) const DELETE_PHOTO: &str = "DELETE FROM photos WHERE tenant = $1 AND id = $2";

/// Stores or replaces a rendition of a tenant's photo: tenant, photo_id, size, format,
/// width, height, bytes, etag, now.
pub(crate) const PUT_RENDITION: &str = "INSERT INTO photo_renditions
        (photo_id, tenant, size, format, width, height, bytes, etag, updated_at)
     SELECT id, tenant, $3, $4, $5, $6, $7, $8, $9 FROM photos WHERE tenant = $1 AND id = $2
     ON CONFLICT (photo_id, size, format) DO UPDATE SET width = excluded.width, height = excluded.height,
        bytes = excluded.bytes, etag = excluded.etag, updated_at = excluded.updated_at";
/// A photo's renditions: tenant, photo_id.
pub(crate) const RENDITIONS: &str =
    "SELECT * FROM photo_renditions WHERE tenant = $1 AND photo_id = $2 ORDER BY size, format";
/// Ids of the albums holding a photo: tenant, photo_id.
pub(crate) const PHOTO_ALBUMS: &str =
    "SELECT album_id FROM album_photos WHERE tenant = $1 AND photo_id = $2 ORDER BY album_id";

/// Records a pair unless recorded, when both photos are the tenant's: tenant, a, b,
/// distance, now (`a < b`).
pub(crate) const INSERT_PAIR: &str = "INSERT INTO near_duplicates (a, b, tenant, distance, created_at)
     SELECT $2, $3, $1, $4, $5
      WHERE (SELECT count(*) FROM photos WHERE tenant = $1 AND id IN ($2, $3)) = 2
     ON CONFLICT (a, b) DO NOTHING";
/// A page of a tenant's pairs after (a, b): tenant, a, b, limit.
pub(crate) const PAIRS: &str = "SELECT a, b, distance FROM near_duplicates
     WHERE tenant = $1 AND (a, b) > ($2, $3) ORDER BY a, b LIMIT $4";

/// What every album read returns: the row, its count and its cover (a macro, so the
/// statements below are constants).
macro_rules! album_select {
    () => {
        "SELECT a.*,
        (SELECT count(*) FROM album_photos m WHERE m.album_id = a.id) AS photo_count,
        (SELECT m.photo_id FROM album_photos m JOIN photos p ON p.id = m.photo_id
          WHERE m.album_id = a.id AND p.state = 'ready'
          ORDER BY m.sort_at DESC, m.photo_id DESC LIMIT 1) AS cover_photo_id
     FROM albums a"
    };
}

/// Creates an album unless the name is taken: id, tenant, name, now.
pub(crate) const INSERT_ALBUM: &str = "INSERT INTO albums (id, tenant, name, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (tenant, name) DO NOTHING
     RETURNING *, CAST(0 AS BIGINT) AS photo_count, CAST(NULL AS TEXT) AS cover_photo_id";
/// Renames an album: tenant, id, name, now.
pub(crate) const RENAME_ALBUM: &str = "UPDATE albums SET name = $3, updated_at = $4 WHERE tenant = $1 AND id = $2";
/// Deletes an album (its memberships go with it): tenant, id.
pub(crate) const DELETE_ALBUM: &str = "DELETE FROM albums WHERE tenant = $1 AND id = $2";
/// Marks an album changed: tenant, id, now.
pub(crate) const TOUCH_ALBUM: &str = "UPDATE albums SET updated_at = $3 WHERE tenant = $1 AND id = $2";
/// Whether an album is the tenant's: tenant, id.
pub(crate) const ALBUM_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM albums WHERE tenant = $1 AND id = $2)";
/// Adds a tenant's photo to an album unless it is there: tenant, album_id, photo_id, now.
pub(crate) const ADD_MEMBER: &str = "INSERT INTO album_photos (album_id, photo_id, tenant, sort_at, added_at)
     SELECT $2, id, tenant, sort_at, $4 FROM photos WHERE tenant = $1 AND id = $3
     ON CONFLICT (album_id, photo_id) DO NOTHING";
/// Takes a photo out of an album: tenant, album_id, photo_id.
pub(crate) const REMOVE_MEMBER: &str = "DELETE FROM album_photos WHERE tenant = $1 AND album_id = $2 AND photo_id = $3";

/// One album of a tenant: tenant, id.
pub(crate) const GET_ALBUM: &str = concat!(album_select!(), " WHERE a.tenant = $1 AND a.id = $2");
/// A tenant's album by exact name: tenant, name.
pub(crate) const ALBUM_BY_NAME: &str = concat!(album_select!(), " WHERE a.tenant = $1 AND a.name = $2");
/// A tenant's albums by name, case folded first (ASCII only on SQLite): tenant.
pub(crate) const LIST_ALBUMS: &str =
    concat!(album_select!(), " WHERE a.tenant = $1 ORDER BY lower(a.name), a.name, a.id");

/// Which way [`ADD_MEMBER`] or [`REMOVE_MEMBER`] changes an album.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// Adding (binds the time too).
    Add,
    /// Removing.
    Remove,
}

impl Membership {
    /// The statement for one photo.
    pub(crate) fn statement(self) -> &'static str {
        match self {
            Membership::Add => ADD_MEMBER,
            Membership::Remove => REMOVE_MEMBER,
        }
    }
}

/// How a backend writes "contains, ignoring case" for a bound `%…%` pattern whose
/// wildcards are escaped with `\`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Like {
    /// `LIKE … ESCAPE '\'` (case-insensitive for ASCII; SQLite has no default escape).
    Sqlite,
    /// `ILIKE …` (`\` is PostgreSQL's default escape).
    Postgres,
}

/// The timeline query: a tenant's ready photos matching the filters, newest first,
/// strictly after the cursor, `size` of them. An album filter walks the album's own
/// ordered index and joins each member; anything else walks `photos_timeline`. `within`
/// (SQLite only) is a JSON array of `seq`s the search index found: the rows to look at.
pub(crate) fn timeline<'a, DB>(
    tenant: &'a str,
    q: &'a TimelineQuery,
    size: u32,
    like: Like,
    within: Option<&'a str>,
) -> QueryBuilder<DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let (mut query, sort_at, id) = match &q.album {
        Some(album) => {
            let mut query = QueryBuilder::<DB>::new(
                "SELECT p.* FROM album_photos m JOIN photos p ON p.id = m.photo_id WHERE m.album_id = ",
            );
            query.push_bind(album.as_str()).push(" AND m.tenant = ").push_bind(tenant);
            (query, "m.sort_at", "m.photo_id")
        }
        None => (QueryBuilder::<DB>::new("SELECT p.* FROM photos p WHERE 1 = 1"), "p.sort_at", "p.id"),
    };
    query.push(" AND p.tenant = ").push_bind(tenant).push(" AND p.state = 'ready'");
    if let Some(from) = q.from {
        query.push(format_args!(" AND {sort_at} >= ")).push_bind(from.timestamp_millis());
    }
    if let Some(to) = q.to {
        query.push(format_args!(" AND {sort_at} < ")).push_bind(to.timestamp_millis());
    }
    if let Some(camera) = q.camera.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        query.push(" AND (lower(p.make) = lower(").push_bind(camera);
        query.push(") OR lower(p.model) = lower(").push_bind(camera);
        query.push(") OR lower(p.make || ' ' || p.model) = lower(").push_bind(camera).push("))");
    }
    if let Some(text) = search_text(q) {
        let pattern = contains_pattern(text);
        let (op, escape) = match like {
            Like::Sqlite => ("LIKE", " ESCAPE '\\'"),
            Like::Postgres => ("ILIKE", ""),
        };
        for (i, column) in ["file_name", "make", "model", "lens"].into_iter().enumerate() {
            query.push(if i == 0 { " AND (" } else { " OR " });
            query.push(format_args!("p.{column} {op} ")).push_bind(pattern.clone()).push(escape);
        }
        query.push(")");
    }
    if let Some(within) = within {
        query.push(" AND p.seq IN (SELECT value FROM json_each(").push_bind(within).push("))");
    }
    if let Some(after) = &q.after {
        query.push(format_args!(" AND ({sort_at}, {id}) < (")).push_bind(after.sort_at_ms);
        query.push(", ").push_bind(after.id.as_str()).push(")");
    }
    query.push(format_args!(" ORDER BY {sort_at} DESC, {id} DESC LIMIT ")).push_bind(i64::from(size));
    query
}

/// The page: the photos, and the cursor of the next page when this one is full.
pub(crate) fn page(photos: Vec<Photo>, size: u32) -> Page {
    let next = match photos.last() {
        Some(last) if photos.len() == size as usize => {
            Some(Cursor { sort_at_ms: last.sort_at.timestamp_millis(), id: last.id.clone() })
        }
        _ => None,
    };
    Page { photos, next }
}

/// The text search of a query, when it has one (blank is none).
pub(crate) fn search_text(q: &TimelineQuery) -> Option<&str> {
    q.q.as_deref().filter(|t| !t.trim().is_empty())
}

/// The page size a timeline query asks for, within 1..=500.
pub(crate) fn page_size(limit: u32) -> u32 {
    limit.clamp(1, PAGE_MAX)
}

/// `%text%` with the LIKE wildcards (and the escape character itself) taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The stored form of a hash: the u64's bits, as the signed integer both backends store.
pub(crate) fn phash_bits(phash: u64) -> i64 {
    i64::from_ne_bytes(phash.to_ne_bytes())
}

/// A pair's ids in stored order, or `None` for a photo paired with itself.
pub(crate) fn ordered<'a>(x: &'a str, y: &'a str) -> Option<(&'a str, &'a str)> {
    match x.cmp(y) {
        std::cmp::Ordering::Less => Some((x, y)),
        std::cmp::Ordering::Greater => Some((y, x)),
        std::cmp::Ordering::Equal => None,
    }
}

/// Where a new photo sits on the timeline: when it was taken, else now.
pub(crate) fn sort_at(photo: &NewPhoto, now: i64) -> i64 {
    photo.exif.taken_at.map_or(now, |t| t.timestamp_millis())
}

/// A fresh `pho_…` id.
pub(crate) fn photo_id() -> String {
    format!("pho_{}", uuid::Uuid::now_v7().simple())
}

/// A fresh `alb_…` id.
pub(crate) fn album_id() -> String {
    format!("alb_{}", uuid::Uuid::now_v7().simple())
}

/// Binds a new photo's values to [`INSERT_PHOTO`] (a macro: the two drivers' query types
/// differ, the order does not).
macro_rules! bind_new_photo {
    ($query:expr, $photo:expr, $id:expr, $now:expr) => {{
        let photo: &$crate::model::NewPhoto = $photo;
        let exif = &photo.exif;
        $query
            .bind($id)
            .bind(&photo.tenant)
            .bind(&photo.upload_id)
            .bind(&photo.sha256)
            .bind(&photo.file_name)
            .bind(&photo.content_type)
            .bind(tintype_db::rows::to_i64(photo.bytes, "photo size")?)
            .bind(&photo.format)
            .bind(i64::from(photo.width))
            .bind(i64::from(photo.height))
            .bind(exif.taken_at.map(|t| t.timestamp_millis()))
            .bind(exif.taken_offset_minutes.map(i64::from))
            .bind(&exif.make)
            .bind(&exif.model)
            .bind(&exif.lens)
            .bind(exif.exposure_time)
            .bind(exif.f_number)
            .bind(exif.iso.map(i64::from))
            .bind(exif.focal_length_mm)
            .bind(exif.gps_latitude)
            .bind(exif.gps_longitude)
            .bind(exif.gps_altitude)
            .bind(exif.orientation.map(i64::from))
            .bind(photo.phash.map($crate::sql::phash_bits))
            .bind(photo.phash.map(|h| $crate::near::quarters(h)[0]))
            .bind(photo.phash.map(|h| $crate::near::quarters(h)[1]))
            .bind(photo.phash.map(|h| $crate::near::quarters(h)[2]))
            .bind(photo.phash.map(|h| $crate::near::quarters(h)[3]))
            .bind(&photo.phash_params)
            .bind($crate::sql::sort_at(photo, $now))
            .bind($now)
    }};
}
pub(crate) use bind_new_photo;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_wildcards_literally() {
        for (text, pattern) in
            [("cat", "%cat%"), ("100%", "%100\\%%"), ("a_b", "%a\\_b%"), ("c:\\x", "%c:\\\\x%"), ("", "%%")]
        {
            assert_eq!(contains_pattern(text), pattern, "{text:?}");
        }
    }

    #[test]
    fn hashes_keep_their_bits_and_pairs_their_order() {
        for h in [0, 1, u64::MAX, 1 << 63, 0x0123_4567_89ab_cdef] {
            assert_eq!(phash_bits(h) as u64, h);
        }
        assert_eq!(ordered("pho_b", "pho_a"), Some(("pho_a", "pho_b")));
        assert_eq!(ordered("pho_a", "pho_b"), Some(("pho_a", "pho_b")));
        assert_eq!(ordered("pho_a", "pho_a"), None);
        assert_eq!((page_size(0), page_size(100), page_size(10_000)), (1, 100, 500));
    }
}
