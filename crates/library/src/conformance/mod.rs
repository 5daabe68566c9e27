//! The one suite both library drivers pass. Each case is a `pub async fn` taking a
//! fresh, empty [`Fixture`] on a manual clock. A driver's test file runs every case with
//! [`library_conformance!`](crate::library_conformance) and an async factory returning
//! the fixture (or `None` to skip).
//!
//! The cases live by area: [`photos`] (recording, dedup, readiness, renditions,
//! deletion), [`timeline`] (order, paging, filters), [`similar`] (distances and
//! near-duplicate pairs), [`albums`], and [`tenancy`] (another tenant's ids find nothing
//! and change nothing).

pub mod albums;
pub mod photos;
pub mod similar;
pub mod tenancy;
pub mod timeline;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tintype_db::Clock;

use crate::Library;
use crate::model::{Exif, NewPhoto, Photo};

pub use albums::*;
pub use photos::*;
pub use similar::*;
pub use tenancy::*;
pub use timeline::*;

/// Runs every case as its own `#[tokio::test]`; `$factory` is an
/// `async fn(Clock) -> Option<Fixture>` (`None`: the backend is missing, skip).
#[macro_export]
macro_rules! library_conformance {
    ($factory:expr) => {
        $crate::library_conformance!(@cases $factory;
            begin_photo_dedups_per_tenant, set_ready_and_renditions, delete_photo_takes_its_rows,
            processing_photos_stay_off_the_timeline, timeline_orders_by_taken_then_created,
            keyset_pages_have_no_gaps_or_duplicates, timeline_filters_by_date_and_camera,
            timeline_search_takes_text_literally, timeline_filters_by_album,
            nearest_and_similar, near_duplicate_pairs,
            albums_names_and_renames, album_members_cover_and_count,
            other_tenants_ids_find_nothing);
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                if let Some(fixture) = ($factory)($crate::conformance::clock()).await {
                    $crate::conformance::$case(fixture).await;
                }
            }
        )+
    };
}

/// A fresh library for one case, on the manual clock it stamps rows with.
pub struct Fixture {
    /// The library under test.
    pub library: Arc<dyn Library>,
    clock: Clock,
    _guard: Box<dyn Any + Send + Sync>,
}

impl Fixture {
    /// Wraps a library; `guard` (a temp dir, a schema) is dropped when the case ends.
    pub fn new(library: Arc<dyn Library>, clock: Clock, guard: impl Any + Send + Sync) -> Self {
        Self { library, clock, _guard: Box::new(guard) }
    }

    /// The manual clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Records a photo and makes it ready, a second later on the clock than the last.
    pub async fn ready(&self, photo: NewPhoto) -> Photo {
        self.advance(Duration::from_secs(1));
        let (photo, created) = self.library.begin_photo(photo).await.unwrap();
        assert!(created, "{} is new", photo.sha256);
        assert!(self.library.set_ready(&photo.tenant, &photo.id).await.unwrap());
        self.library.get_photo(&photo.tenant, &photo.id).await.unwrap().expect("just made")
    }
}

/// The clock every case runs on: manual, at 2030-01-01T00:00:00Z.
pub fn clock() -> Clock {
    Clock::manual(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("valid start"))
}

/// Midnight UTC of a day.
pub fn day(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).single().expect("valid day")
}

/// The `n`th test photo of a tenant: a JPEG with no EXIF and no hash, content `n`.
pub fn photo(tenant: &str, n: u32) -> NewPhoto {
    NewPhoto {
        tenant: tenant.into(),
        upload_id: format!("upl_{n:032x}"),
        sha256: format!("{n:064x}"),
        file_name: Some(format!("IMG_{n:04}.JPG")),
        content_type: "image/jpeg".into(),
        bytes: 1_000 + u64::from(n),
        format: "jpeg".into(),
        width: 4000,
        height: 3000,
        exif: Exif::default(),
        phash: None,
        phash_params: None,
    }
}

/// The same photo, taken at `t`.
pub fn taken(mut photo: NewPhoto, t: DateTime<Utc>) -> NewPhoto {
    photo.exif.taken_at = Some(t);
    photo
}

/// The ids of some photos, in order.
pub fn ids(photos: &[Photo]) -> Vec<&str> {
    photos.iter().map(|p| p.id.as_str()).collect()
}
