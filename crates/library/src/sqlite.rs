//! The library on SQLite: writes go through the database's one writer (a multi-statement
//! write holds it in one transaction), lookups through the read pool. Similarity reads
//! candidates' `(id, phash)` through the hash-quarter indexes (or, for a wide search, all
//! of the tenant's from a covering index) and measures distances in Rust: SQLite has no
//! popcount.

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tintype_db::rows::{ms, to_i64, to_json};
use tintype_db::{Clock, SqliteDb};

use crate::model::{Album, NearPair, NewPhoto, Page, Photo, PhotoDetail, Renamed, Rendition, Similar, TimelineQuery};
use crate::sql::{self, Like, Membership, bind_new_photo};
use crate::{Library, Result, is_unique_violation, near, rows as row};

/// The rows (of every tenant) whose searched columns contain a phrase, from the trigram
/// index: phrase, limit.
const SEARCH: &str = "SELECT rowid FROM photos_search WHERE photos_search MATCH $1 LIMIT $2";
/// The most search matches a timeline query looks at row by row; past this, it walks the
/// timeline checking each photo instead.
const SEARCH_ROWS: i64 = 1000;
/// The widest quarter radius looked up (up to 15 bits): at 100,000 photos (debug build,
/// 2 cores) radius 3 took ~45 ms, radius 2 ~10 ms, and the scan ~170–450 ms.
const PROBE_RADIUS: u32 = near::MAX_RADIUS;
/// The tenant's hashes, from the covering index `photos_phash`: tenant.
const HASHES: &str = "SELECT id, phash FROM photos WHERE tenant = $1 AND phash IS NOT NULL";
/// The tenant's hashes with a quarter among the probed values (JSON arrays, one per
/// quarter): tenant, four arrays. A UNION of one indexed lookup per quarter: written as
/// one `OR`, SQLite (without statistics) scans every row of the tenant instead, 140 ms at
/// 100,000 photos (docs/BENCHMARKS.md).
const CANDIDATES: &str =
    "SELECT id, phash FROM photos WHERE tenant = $1 AND phash_q0 IN (SELECT value FROM json_each($2))
        UNION SELECT id, phash FROM photos WHERE tenant = $1 AND phash_q1 IN (SELECT value FROM json_each($3))
        UNION SELECT id, phash FROM photos WHERE tenant = $1 AND phash_q2 IN (SELECT value FROM json_each($4))
        UNION SELECT id, phash FROM photos WHERE tenant = $1 AND phash_q3 IN (SELECT value FROM json_each($5))";
/// The tenant's photos among a JSON array of ids: tenant, ids. (`+tenant`: a lookup by
/// primary key per id; with a plain `tenant =` SQLite scans the tenant's rows instead.)
const PHOTOS_IN: &str = "SELECT * FROM photos WHERE +tenant = $1 AND id IN (SELECT value FROM json_each($2))";

/// The SQLite driver.
#[derive(Debug, Clone)]
pub struct SqliteLibrary {
    db: SqliteDb,
    clock: Clock,
}

impl SqliteLibrary {
    /// The library in `db` (its migrations applied), stamping rows with `clock`.
    pub fn new(db: SqliteDb, clock: Clock) -> Self {
        Self { db, clock }
    }

    fn now(&self) -> i64 {
        ms(self.clock.now())
    }
}

/// A photo with its renditions and albums, read on one connection.
async fn detail(conn: &mut SqliteConnection, tenant: &str, id: &str) -> Result<Option<PhotoDetail>> {
    let Some(found) = sqlx::query(sql::GET_PHOTO).bind(tenant).bind(id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let renditions = sqlx::query(sql::RENDITIONS).bind(tenant).bind(id).fetch_all(&mut *conn).await?;
    let albums = sqlx::query_scalar(sql::PHOTO_ALBUMS).bind(tenant).bind(id).fetch_all(&mut *conn).await?;
    Ok(Some(PhotoDetail {
        photo: row::photo(&found)?,
        renditions: renditions.iter().map(row::rendition).collect::<Result<_>>()?,
        albums,
    }))
}

async fn album_exists(conn: &mut SqliteConnection, tenant: &str, id: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(sql::ALBUM_EXISTS).bind(tenant).bind(id).fetch_one(conn).await?)
}

#[async_trait]
impl Library for SqliteLibrary {
    async fn begin_photo(&self, photo: NewPhoto) -> Result<(Photo, bool)> {
        let now = self.now();
        // The insert and the read of a conflicting row share the writer: no gap between.
        let mut conn = self.db.writer().await?;
        let inserted = bind_new_photo!(sqlx::query(sql::INSERT_PHOTO), &photo, sql::photo_id(), now)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(inserted) = inserted {
            return Ok((row::photo(&inserted)?, true));
        }
        let existing =
            sqlx::query(sql::FIND_PHOTO).bind(&photo.tenant).bind(&photo.sha256).fetch_one(&mut *conn).await?;
        Ok((row::photo(&existing)?, false))
    }

    async fn set_ready(&self, tenant: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(sql::SET_READY)
            .bind(tenant)
            .bind(id)
            .bind(self.now())
            .execute(&mut *self.db.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_photo(&self, tenant: &str, id: &str) -> Result<Option<Photo>> {
        let found = sqlx::query(sql::GET_PHOTO).bind(tenant).bind(id).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::photo).transpose()
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<PhotoDetail>> {
        detail(&mut *self.db.reader().acquire().await?, tenant, id).await
    }

    async fn find_by_sha256(&self, tenant: &str, sha256: &str) -> Result<Option<Photo>> {
        let found = sqlx::query(sql::FIND_PHOTO).bind(tenant).bind(sha256).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::photo).transpose()
    }

    async fn count_photos(&self, tenant: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(sql::COUNT_PHOTOS).bind(tenant).fetch_one(self.db.reader()).await?;
        tintype_db::rows::to_u64(n, "photo count")
    }

    async fn put_renditions(&self, tenant: &str, photo_id: &str, renditions: &[Rendition]) -> Result<bool> {
        let now = self.now();
        let mut conn = self.db.writer().await?;
        let mut tx = conn.begin().await?;
        let photo = sqlx::query(sql::GET_PHOTO).bind(tenant).bind(photo_id).fetch_optional(&mut *tx).await?;
        if photo.is_none() {
            // Said, not left to the drop: a dropped transaction rolls back only when its
            // connection is next used.
            tx.rollback().await?;
            return Ok(false);
        }
        for r in renditions {
            sqlx::query(sql::PUT_RENDITION)
                .bind(tenant)
                .bind(photo_id)
                .bind(i64::from(r.size))
                .bind(&r.format)
                .bind(i64::from(r.width))
                .bind(i64::from(r.height))
                .bind(to_i64(r.bytes, "rendition bytes")?)
                .bind(&r.etag)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn renditions(&self, tenant: &str, photo_id: &str) -> Result<Vec<Rendition>> {
        let rows = sqlx::query(sql::RENDITIONS).bind(tenant).bind(photo_id).fetch_all(self.db.reader()).await?;
        rows.iter().map(row::rendition).collect()
    }

    async fn delete_photo(&self, tenant: &str, id: &str) -> Result<Option<PhotoDetail>> {
        let mut conn = self.db.writer().await?;
        let mut tx = conn.begin().await?;
        let Some(gone) = detail(&mut tx, tenant, id).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query(sql::DELETE_PHOTO).bind(tenant).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(gone))
    }

    async fn timeline(&self, tenant: &str, query: &TimelineQuery) -> Result<Page> {
        let size = sql::page_size(query.limit);
        let mut conn = self.db.reader().acquire().await?;
        let within = match sql::search_text(query).filter(|t| t.chars().count() >= 3) {
            Some(text) => {
                let phrase = format!("\"{}\"", text.replace('"', "\"\""));
                let found: Vec<i64> =
                    sqlx::query_scalar(SEARCH).bind(phrase).bind(SEARCH_ROWS + 1).fetch_all(&mut *conn).await?;
                // Too common a text: the timeline walk meets matches soon enough.
                (found.len() <= SEARCH_ROWS as usize).then(|| to_json(&found)).transpose()?
            }
            None => None,
        };
        let rows =
            sql::timeline(tenant, query, size, Like::Sqlite, within.as_deref()).build().fetch_all(&mut *conn).await?;
        let photos = rows.iter().map(row::photo).collect::<Result<Vec<_>>>()?;
        Ok(sql::page(photos, size))
    }

    async fn nearest(
        &self,
        tenant: &str,
        phash: u64,
        max_distance: u32,
        exclude_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Similar>> {
        let limit = limit.min(sql::PAGE_MAX) as usize;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.db.reader().acquire().await?;
        let candidates: Vec<(String, i64)> = match near::probes(phash, max_distance, PROBE_RADIUS) {
            Some([q0, q1, q2, q3]) => {
                sqlx::query_as(CANDIDATES)
                    .bind(tenant)
                    .bind(to_json(&q0)?)
                    .bind(to_json(&q1)?)
                    .bind(to_json(&q2)?)
                    .bind(to_json(&q3)?)
                    .fetch_all(&mut *conn)
                    .await?
            }
            None => sqlx::query_as(HASHES).bind(tenant).fetch_all(&mut *conn).await?,
        };
        let best = near::best(candidates, phash, max_distance, exclude_id, limit);
        if best.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(PHOTOS_IN).bind(tenant).bind(to_json(&best)?).fetch_all(&mut *conn).await?;
        let photos = rows.iter().map(row::photo).collect::<Result<Vec<_>>>()?;
        Ok(near::answers(photos, phash, max_distance))
    }

    async fn record_near_duplicates(&self, tenant: &str, photo_id: &str, others: &[(String, u32)]) -> Result<u64> {
        let now = self.now();
        let mut conn = self.db.writer().await?;
        let mut tx = conn.begin().await?;
        let mut added = 0;
        for (other, d) in others {
            let Some((a, b)) = sql::ordered(photo_id, other) else { continue };
            let done = sqlx::query(sql::INSERT_PAIR)
                .bind(tenant)
                .bind(a)
                .bind(b)
                .bind(i64::from(*d))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            added += done.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn near_duplicates(&self, tenant: &str, after: Option<(&str, &str)>, limit: u32) -> Result<Vec<NearPair>> {
        let (a, b) = after.unwrap_or(("", ""));
        let rows = sqlx::query(sql::PAIRS)
            .bind(tenant)
            .bind(a)
            .bind(b)
            .bind(i64::from(sql::page_size(limit)))
            .fetch_all(self.db.reader())
            .await?;
        rows.iter().map(row::pair).collect()
    }

    async fn create_album(&self, tenant: &str, name: &str) -> Result<Option<Album>> {
        let created = sqlx::query(sql::INSERT_ALBUM)
            .bind(sql::album_id())
            .bind(tenant)
            .bind(name)
            .bind(self.now())
            .fetch_optional(&mut *self.db.writer().await?)
            .await?;
        created.as_ref().map(row::album).transpose()
    }

    async fn get_album(&self, tenant: &str, id: &str) -> Result<Option<Album>> {
        let found = sqlx::query(sql::GET_ALBUM).bind(tenant).bind(id).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::album).transpose()
    }

    async fn album_by_name(&self, tenant: &str, name: &str) -> Result<Option<Album>> {
        let found = sqlx::query(sql::ALBUM_BY_NAME).bind(tenant).bind(name).fetch_optional(self.db.reader()).await?;
        found.as_ref().map(row::album).transpose()
    }

    async fn list_albums(&self, tenant: &str) -> Result<Vec<Album>> {
        let rows = sqlx::query(sql::LIST_ALBUMS).bind(tenant).fetch_all(self.db.reader()).await?;
        rows.iter().map(row::album).collect()
    }

    async fn rename_album(&self, tenant: &str, id: &str, name: &str) -> Result<Renamed> {
        let renamed = sqlx::query(sql::RENAME_ALBUM)
            .bind(tenant)
            .bind(id)
            .bind(name)
            .bind(self.now())
            .execute(&mut *self.db.writer().await?)
            .await;
        match renamed {
            Ok(done) if done.rows_affected() > 0 => Ok(Renamed::Done),
            Ok(_) => Ok(Renamed::NotFound),
            Err(e) if is_unique_violation(&e) => Ok(Renamed::NameTaken),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_album(&self, tenant: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(sql::DELETE_ALBUM).bind(tenant).bind(id).execute(&mut *self.db.writer().await?).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_to_album(&self, tenant: &str, album_id: &str, photo_ids: &[String]) -> Result<Option<u64>> {
        self.members(tenant, album_id, photo_ids, Membership::Add).await
    }

    async fn remove_from_album(&self, tenant: &str, album_id: &str, photo_ids: &[String]) -> Result<Option<u64>> {
        self.members(tenant, album_id, photo_ids, Membership::Remove).await
    }
}

impl SqliteLibrary {
    /// Adds or removes each photo in one transaction, marking the album changed when any
    /// membership was.
    async fn members(&self, tenant: &str, album: &str, photos: &[String], change: Membership) -> Result<Option<u64>> {
        let now = self.now();
        let mut conn = self.db.writer().await?;
        let mut tx = conn.begin().await?;
        if !album_exists(&mut tx, tenant, album).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut changed = 0;
        for photo in photos {
            let mut statement = sqlx::query(change.statement()).bind(tenant).bind(album).bind(photo);
            if change == Membership::Add {
                statement = statement.bind(now);
            }
            changed += statement.execute(&mut *tx).await?.rows_affected();
        }
        if changed > 0 {
            sqlx::query(sql::TOUCH_ALBUM).bind(tenant).bind(album).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(changed))
    }
}
