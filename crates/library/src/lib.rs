//! The photo library: tenants' photos (one per tenant and content, with their EXIF and a
//! perceptual hash), their renditions, albums, and recorded near-duplicate pairs. A
//! component in the pattern every table set follows (ARCHITECTURE.md, "Adding a
//! table"): the model ([`model`]), a repo trait ([`Library`]), one driver per backend
//! ([`sqlite`], [`postgres`]) over the shared [`tintype_db::Db`], its migrations
//! ([`MIGRATIONS`]) and one conformance suite ([`conformance`]) that both drivers pass.
//!
//! Every call is scoped by tenant: another tenant's ids behave as ids that do not exist.
//! The library stores no blobs: renditions are rows the caller names its blobs from, and
//! [`Library::delete_photo`] returns what it removed so the caller can delete them.
//!
//! How the queries are served, per backend:
//! - **Timeline**: a keyset walk of the partial index `photos_timeline` (`tenant, sort_at
//!   DESC, id DESC WHERE state = 'ready'`), or, for one album, of `album_photos_timeline`
//!   (members carry their photo's `sort_at`, which never changes). Date filters are
//!   ranges of the walk; camera and text filters are checked along it.
//! - **Search (`q`)**: a substring of file name, make, model or lens, the user's `%`, `_`
//!   and `\` escaped. SQLite: `LIKE '%…%' ESCAPE '\'` (ASCII case folding) decides; for
//!   three characters or more an FTS5 trigram index (`photos_search`, external content
//!   kept by triggers, rows named by `seq`, an `INTEGER PRIMARY KEY` so `VACUUM` keeps
//!   it) first finds the candidate rows, and when it finds more than a thousand (across
//!   tenants) the query walks the timeline checking each photo instead, where matches are
//!   that common. PostgreSQL: `ILIKE` on the same columns, helped by a `pg_trgm` GIN index
//!   (`photos_search`) when the extension is installed in any schema or can be created in
//!   `public` at migration time; without it the migration says so (a notice) and search
//!   filters the timeline walk. The extension is never created in the component's own
//!   schema: dropping that schema (the tests' scratch schemas) would take the extension,
//!   and every index on it, with it. The index is made only by the migration: installing
//!   `pg_trgm` later needs the `CREATE INDEX` of `migrations/postgres/0001_init.sql` run
//!   by hand.
//! - **Similarity**: multi-index hashing on both (the `near` module): each hash is
//!   stored with its four 16-bit quarters, one index each; a search within `d` bits looks
//!   up the quarter values within `d / 4` bits of the hash's own (pigeonhole: a match
//!   agrees that closely on some quarter), checks the candidates' whole hashes in Rust and
//!   reads only the best rows. Searches wider than 15 bits scan instead: PostgreSQL with
//!   `bit_count(phash # $hash)` in SQL; SQLite (which has no popcount) by reading the
//!   tenant's `(id, phash)` from the covering index `photos_phash` into Rust.
//!
//! Errors are [`DbError`]s: this crate declares no error codes of its own (a missing
//! photo or album is `None` or `false`; the API layer names those).

pub mod conformance;
mod cursor;
pub mod model;
mod near;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use tintype_db::{Clock, Component, Db, DbError, Step};

pub use model::{
    Album, Cursor, Exif, NearPair, NewPhoto, Page, Photo, PhotoDetail, PhotoState, Renamed, Rendition, Similar,
    TimelineQuery,
};

tintype_codes::codes! {
    /// No such photo for this tenant (another tenant's is not found either).
    PHOTO_NOT_FOUND = ("photo_not_found", NotFound);
    /// No such album for this tenant.
    ALBUM_NOT_FOUND = ("album_not_found", NotFound);
}

/// Result of every library call.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// The library's tables on both backends.
pub static MIGRATIONS: Component = Component {
    name: "library",
    sqlite: &[Step {
        version: 1,
        name: "photos, renditions, albums, near-duplicates",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    }],
    postgres: &[Step {
        version: 1,
        name: "photos, renditions, albums, near-duplicates",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    }],
    // Release 0.1 had no library.
    legacy: &[],
};

/// Tenants' photos, renditions, albums and near-duplicates.
#[async_trait]
pub trait Library: Send + Sync + 'static {
    /// Records a photo in [`PhotoState::Processing`], or returns the tenant's existing
    /// photo with the same sha256, whatever its state (`false` = duplicate). Another
    /// tenant's copy of the same content is a photo of its own.
    async fn begin_photo(&self, photo: NewPhoto) -> Result<(Photo, bool)>;
    /// Makes a photo ready (on the timeline); true when it is the tenant's (already ready
    /// included: nothing changes then).
    async fn set_ready(&self, tenant: &str, id: &str) -> Result<bool>;
    /// One of the tenant's photos, in any state.
    async fn get_photo(&self, tenant: &str, id: &str) -> Result<Option<Photo>>;
    /// One of the tenant's photos with its renditions and albums.
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<PhotoDetail>>;
    /// The tenant's photo of this content.
    async fn find_by_sha256(&self, tenant: &str, sha256: &str) -> Result<Option<Photo>>;
    /// How many photos the tenant has, in any state.
    async fn count_photos(&self, tenant: &str) -> Result<u64>;

    /// Stores renditions of the tenant's photo, replacing any of the same size and
    /// format, all or none; false (nothing stored) when the photo is not the tenant's.
    async fn put_renditions(&self, tenant: &str, photo_id: &str, renditions: &[Rendition]) -> Result<bool>;
    /// A photo's renditions by size then format (none for another tenant's photo).
    async fn renditions(&self, tenant: &str, photo_id: &str) -> Result<Vec<Rendition>>;
    /// Deletes the tenant's photo with its renditions, album memberships and pairs, in
    /// one transaction, and returns what was deleted (the caller deletes the blobs).
    async fn delete_photo(&self, tenant: &str, id: &str) -> Result<Option<PhotoDetail>>;

    /// One page of the tenant's ready photos matching the query, by `sort_at` then id,
    /// newest first, strictly after `query.after`. `next` is set when the page is full.
    async fn timeline(&self, tenant: &str, query: &TimelineQuery) -> Result<Page>;
    /// The tenant's photos (any state, not `exclude_id`) whose hash is within
    /// `max_distance` bits of `phash`, closest first then by id, at most `limit` (up to
    /// 500; 0 gives none).
    async fn nearest(
        &self,
        tenant: &str,
        phash: u64,
        max_distance: u32,
        exclude_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Similar>>;
    /// The photos nearest to one of the tenant's photos (itself excluded): `None` when it
    /// is not the tenant's, empty when it has no hash.
    async fn similar(&self, tenant: &str, id: &str, max_distance: u32, limit: u32) -> Result<Option<Vec<Similar>>> {
        let Some(photo) = self.get_photo(tenant, id).await? else { return Ok(None) };
        let Some(phash) = photo.phash else { return Ok(Some(Vec::new())) };
        self.nearest(tenant, phash, max_distance, Some(id), limit).await.map(Some)
    }
    /// Records `photo_id` as a near-duplicate of each `(other id, distance)`, as ordered
    /// pairs; pairs already recorded, a photo with itself and photos that are not the
    /// tenant's are skipped. Returns how many pairs were new.
    async fn record_near_duplicates(&self, tenant: &str, photo_id: &str, others: &[(String, u32)]) -> Result<u64>;
    /// A page of the tenant's recorded pairs by `(a, b)`, strictly after `after`, at most
    /// `limit` (clamped to 1..=500).
    async fn near_duplicates(&self, tenant: &str, after: Option<(&str, &str)>, limit: u32) -> Result<Vec<NearPair>>;

    /// Creates an album; `None` when the tenant has one of that name (names are exact:
    /// the caller trims or validates them).
    async fn create_album(&self, tenant: &str, name: &str) -> Result<Option<Album>>;
    /// One of the tenant's albums.
    async fn get_album(&self, tenant: &str, id: &str) -> Result<Option<Album>>;
    /// The tenant's album of exactly this name.
    async fn album_by_name(&self, tenant: &str, name: &str) -> Result<Option<Album>>;
    /// The tenant's albums by name, case folded first (ASCII only on SQLite).
    async fn list_albums(&self, tenant: &str) -> Result<Vec<Album>>;
    /// Renames one of the tenant's albums.
    async fn rename_album(&self, tenant: &str, id: &str, name: &str) -> Result<Renamed>;
    /// Deletes one of the tenant's albums (its photos stay); false when there was none.
    async fn delete_album(&self, tenant: &str, id: &str) -> Result<bool>;
    /// Adds the tenant's photos among `photo_ids` to the album (others and members are
    /// skipped) and returns how many were added; `None` when the album is not the tenant's.
    async fn add_to_album(&self, tenant: &str, album_id: &str, photo_ids: &[String]) -> Result<Option<u64>>;
    /// Takes photos out of the album and returns how many were in it; `None` when the
    /// album is not the tenant's.
    async fn remove_from_album(&self, tenant: &str, album_id: &str, photo_ids: &[String]) -> Result<Option<u64>>;
}

/// The library on an open database (migrations applied by the caller).
pub fn open(db: &Db, clock: Clock) -> Arc<dyn Library> {
    match db {
        Db::Sqlite(db) => Arc::new(sqlite::SqliteLibrary::new(db.clone(), clock)),
        Db::Postgres(db) => Arc::new(postgres::PgLibrary::new(db.clone(), clock)),
    }
}

/// Whether a statement failed on a unique constraint (an album name taken).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
