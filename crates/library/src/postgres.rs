//! The library on PostgreSQL: single statements on the shared pool, short transactions
//! where a call writes several rows. Similarity looks candidates up through the
//! hash-quarter indexes; a search too wide for them is computed in the database
//! (`bit_count` over the XOR of the hashes, PostgreSQL 14 and later).

use async_trait::async_trait;
use sqlx::postgres::PgConnection;
use tintype_db::rows::{ms, to_i64};
use tintype_db::{Clock, DbError, PgDb};

use crate::model::{Album, NearPair, NewPhoto, Page, Photo, PhotoDetail, Renamed, Rendition, Similar, TimelineQuery};
use crate::sql::{self, Like, Membership, bind_new_photo};
use crate::{Library, Result, is_unique_violation, near, rows as row};

/// One photo of a tenant, locked until the transaction ends (so no rendition or
/// membership is added while it is being deleted): tenant, id.
const LOCK_PHOTO: &str = "SELECT * FROM photos WHERE tenant = $1 AND id = $2 FOR UPDATE";
/// The tenant's photos within a distance of a hash, closest first then by id, for a
/// search too wide for the quarter indexes: tenant, hash, excluded id ('' for none), max
/// distance, limit. Only the best matches are joined to their rows.
const NEAREST: &str = "SELECT p.*, n.distance FROM (
        SELECT id, bit_count((phash # $2)::bit(64)) AS distance FROM photos
         WHERE tenant = $1 AND phash IS NOT NULL AND id <> $3 AND bit_count((phash # $2)::bit(64)) <= $4
         ORDER BY distance, id LIMIT $5
     ) n JOIN photos p ON p.id = n.id
     ORDER BY n.distance, n.id";
/// The widest quarter radius looked up (up to 11 bits): at 100,000 photos (2 cores)
/// radius 2 took ~6 ms, radius 3 ~55–115 ms, and the `bit_count` scan ~45–55 ms.
const PROBE_RADIUS: u32 = 2;
/// The tenant's hashes with a quarter among the probed values (one array per quarter,
/// a bitmap of index lookups): tenant, four arrays.
const CANDIDATES: &str = "SELECT id, phash FROM photos WHERE tenant = $1
       AND (phash_q0 = ANY($2) OR phash_q1 = ANY($3) OR phash_q2 = ANY($4) OR phash_q3 = ANY($5))";
/// The tenant's photos among some ids: tenant, ids.
const PHOTOS_IN: &str = "SELECT * FROM photos WHERE tenant = $1 AND id = ANY($2)";
/// How many times `begin_photo` retries an insert whose conflicting photo was deleted
/// before it could be read.
const INSERT_TRIES: usize = 3;

/// The PostgreSQL driver.
#[derive(Debug, Clone)]
pub struct PgLibrary {
    db: PgDb,
    clock: Clock,
}

impl PgLibrary {
    /// The library in `db` (its migrations applied), stamping rows with `clock`.
    pub fn new(db: PgDb, clock: Clock) -> Self {
        Self { db, clock }
    }

    fn now(&self) -> i64 {
        ms(self.clock.now())
    }

    /// Adds or removes each photo in one transaction, marking the album changed when any
    /// membership was.
    async fn members(&self, tenant: &str, album: &str, photos: &[String], change: Membership) -> Result<Option<u64>> {
        let now = self.now();
        let mut tx = self.db.pool().begin().await?;
        let exists: bool = sqlx::query_scalar(sql::ALBUM_EXISTS).bind(tenant).bind(album).fetch_one(&mut *tx).await?;
        if !exists {
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

/// A photo's renditions and albums, read on one connection.
async fn detail(conn: &mut PgConnection, photo: Photo) -> Result<PhotoDetail> {
    let (tenant, id) = (photo.tenant.as_str(), photo.id.as_str());
    let renditions = sqlx::query(sql::RENDITIONS).bind(tenant).bind(id).fetch_all(&mut *conn).await?;
    let albums = sqlx::query_scalar(sql::PHOTO_ALBUMS).bind(tenant).bind(id).fetch_all(&mut *conn).await?;
    let renditions = renditions.iter().map(row::rendition).collect::<Result<_>>()?;
    Ok(PhotoDetail { photo, renditions, albums })
}

#[async_trait]
impl Library for PgLibrary {
    async fn begin_photo(&self, photo: NewPhoto) -> Result<(Photo, bool)> {
        let now = self.now();
        for _ in 0..INSERT_TRIES {
            let inserted = bind_new_photo!(sqlx::query(sql::INSERT_PHOTO), &photo, sql::photo_id(), now)
                .fetch_optional(self.db.pool())
                .await?;
            if let Some(inserted) = inserted {
                return Ok((row::photo(&inserted)?, true));
            }
            // The conflicting row committed before ours looked; it can only be gone if it
            // was deleted since, and then the insert is tried again.
            if let Some(existing) = self.find_by_sha256(&photo.tenant, &photo.sha256).await? {
                return Ok((existing, false));
            }
        }
        Err(DbError::Corrupt("a photo kept vanishing after conflicting inserts".into()))
    }

    async fn set_ready(&self, tenant: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(sql::SET_READY).bind(tenant).bind(id).bind(self.now()).execute(self.db.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_photo(&self, tenant: &str, id: &str) -> Result<Option<Photo>> {
        let found = sqlx::query(sql::GET_PHOTO).bind(tenant).bind(id).fetch_optional(self.db.pool()).await?;
        found.as_ref().map(row::photo).transpose()
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<PhotoDetail>> {
        let mut conn = self.db.pool().acquire().await?;
        let found = sqlx::query(sql::GET_PHOTO).bind(tenant).bind(id).fetch_optional(&mut *conn).await?;
        let Some(photo) = found.as_ref().map(row::photo).transpose()? else { return Ok(None) };
        detail(&mut conn, photo).await.map(Some)
    }

    async fn find_by_sha256(&self, tenant: &str, sha256: &str) -> Result<Option<Photo>> {
        let found = sqlx::query(sql::FIND_PHOTO).bind(tenant).bind(sha256).fetch_optional(self.db.pool()).await?;
        found.as_ref().map(row::photo).transpose()
    }

    async fn count_photos(&self, tenant: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(sql::COUNT_PHOTOS).bind(tenant).fetch_one(self.db.pool()).await?;
        tintype_db::rows::to_u64(n, "photo count")
    }

    async fn put_renditions(&self, tenant: &str, photo_id: &str, renditions: &[Rendition]) -> Result<bool> {
        let now = self.now();
        let mut tx = self.db.pool().begin().await?;
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
        let rows = sqlx::query(sql::RENDITIONS).bind(tenant).bind(photo_id).fetch_all(self.db.pool()).await?;
        rows.iter().map(row::rendition).collect()
    }

    async fn delete_photo(&self, tenant: &str, id: &str) -> Result<Option<PhotoDetail>> {
        let mut tx = self.db.pool().begin().await?;
        let found = sqlx::query(LOCK_PHOTO).bind(tenant).bind(id).fetch_optional(&mut *tx).await?;
        let Some(photo) = found.as_ref().map(row::photo).transpose()? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let gone = detail(&mut tx, photo).await?;
        sqlx::query(sql::DELETE_PHOTO).bind(tenant).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(gone))
    }

    async fn timeline(&self, tenant: &str, query: &TimelineQuery) -> Result<Page> {
        let size = sql::page_size(query.limit);
        let rows = sql::timeline(tenant, query, size, Like::Postgres, None).build().fetch_all(self.db.pool()).await?;
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
        let limit = limit.min(sql::PAGE_MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Some([q0, q1, q2, q3]) = near::probes(phash, max_distance, PROBE_RADIUS) {
            let mut conn = self.db.pool().acquire().await?;
            let candidates: Vec<(String, i64)> = sqlx::query_as(CANDIDATES)
                .bind(tenant)
                .bind(q0)
                .bind(q1)
                .bind(q2)
                .bind(q3)
                .fetch_all(&mut *conn)
                .await?;
            let best = near::best(candidates, phash, max_distance, exclude_id, limit as usize);
            if best.is_empty() {
                return Ok(Vec::new());
            }
            let rows = sqlx::query(PHOTOS_IN).bind(tenant).bind(best).fetch_all(&mut *conn).await?;
            let photos = rows.iter().map(row::photo).collect::<Result<Vec<_>>>()?;
            return Ok(near::answers(photos, phash, max_distance));
        }
        let rows = sqlx::query(NEAREST)
            .bind(tenant)
            .bind(sql::phash_bits(phash))
            .bind(exclude_id.unwrap_or(""))
            .bind(i64::from(max_distance))
            .bind(i64::from(limit))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let d: i64 = sqlx::Row::try_get(r, "distance")?;
                let distance = u32::try_from(d).map_err(|_| DbError::Corrupt(format!("distance {d}")))?;
                Ok(Similar { photo: row::photo(r)?, distance })
            })
            .collect()
    }

    async fn record_near_duplicates(&self, tenant: &str, photo_id: &str, others: &[(String, u32)]) -> Result<u64> {
        let now = self.now();
        let mut tx = self.db.pool().begin().await?;
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
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(row::pair).collect()
    }

    async fn create_album(&self, tenant: &str, name: &str) -> Result<Option<Album>> {
        let created = sqlx::query(sql::INSERT_ALBUM)
            .bind(sql::album_id())
            .bind(tenant)
            .bind(name)
            .bind(self.now())
            .fetch_optional(self.db.pool())
            .await?;
        created.as_ref().map(row::album).transpose()
    }

    async fn get_album(&self, tenant: &str, id: &str) -> Result<Option<Album>> {
        let found = sqlx::query(sql::GET_ALBUM).bind(tenant).bind(id).fetch_optional(self.db.pool()).await?;
        found.as_ref().map(row::album).transpose()
    }

    async fn album_by_name(&self, tenant: &str, name: &str) -> Result<Option<Album>> {
        let found = sqlx::query(sql::ALBUM_BY_NAME).bind(tenant).bind(name).fetch_optional(self.db.pool()).await?;
        found.as_ref().map(row::album).transpose()
    }

    async fn list_albums(&self, tenant: &str) -> Result<Vec<Album>> {
        let rows = sqlx::query(sql::LIST_ALBUMS).bind(tenant).fetch_all(self.db.pool()).await?;
        rows.iter().map(row::album).collect()
    }

    async fn rename_album(&self, tenant: &str, id: &str, name: &str) -> Result<Renamed> {
        let renamed = sqlx::query(sql::RENAME_ALBUM)
            .bind(tenant)
            .bind(id)
            .bind(name)
            .bind(self.now())
            .execute(self.db.pool())
            .await;
        match renamed {
            Ok(done) if done.rows_affected() > 0 => Ok(Renamed::Done),
            Ok(_) => Ok(Renamed::NotFound),
            Err(e) if is_unique_violation(&e) => Ok(Renamed::NameTaken),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_album(&self, tenant: &str, id: &str) -> Result<bool> {
        let done = sqlx::query(sql::DELETE_ALBUM).bind(tenant).bind(id).execute(self.db.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_to_album(&self, tenant: &str, album_id: &str, photo_ids: &[String]) -> Result<Option<u64>> {
        self.members(tenant, album_id, photo_ids, Membership::Add).await
    }

    async fn remove_from_album(&self, tenant: &str, album_id: &str, photo_ids: &[String]) -> Result<Option<u64>> {
        self.members(tenant, album_id, photo_ids, Membership::Remove).await
    }
}
