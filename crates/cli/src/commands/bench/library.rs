//! `tintype bench library`: the photo library at size. Inserts `--photos` photos into one
//! tenant through the [`Library`] repo (not the pipeline: no images are made), then times
//! the queries a library screen makes: a timeline page of 100 (the first page, and pages
//! deep in the timeline through the keyset cursor), the similar-photo lookup and the `?q=`
//! search, each `--queries` times, and prints p50, p99 and max.
//!
//! The data is deterministic (a fixed-seed generator): ten years of photos from twenty
//! cameras, file names `IMG_nnnnnn.JPG`, and one photo in twenty a near copy (3 bits away)
//! of the one before, so that similar lookups find something as in a real library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use tintype_library::{Exif, Library, NewPhoto, TimelineQuery};

/// Tenant the photos go to; a second tenant holds a tenth as many (so every query also
/// has to leave someone else's rows out).
const TENANT: &str = "bench";
const OTHER: &str = "bench-other";

const CAMERAS: [(&str, &str); 20] = [
    ("Apple", "iPhone 15 Pro"),
    ("Apple", "iPhone 13"),
    ("Apple", "iPhone 11"),
    ("Apple", "iPhone SE"),
    ("samsung", "SM-S918B"),
    ("samsung", "SM-G991B"),
    ("Google", "Pixel 8"),
    ("Google", "Pixel 6a"),
    ("Canon", "Canon EOS R6"),
    ("Canon", "Canon EOS 80D"),
    ("NIKON CORPORATION", "NIKON Z 6_2"),
    ("NIKON CORPORATION", "NIKON D750"),
    ("SONY", "ILCE-7M3"),
    ("SONY", "ILCE-6400"),
    ("FUJIFILM", "X-T4"),
    ("FUJIFILM", "X100V"),
    ("OLYMPUS CORPORATION", "E-M10MarkIII"),
    ("Panasonic", "DC-G9"),
    ("Xiaomi", "2201123G"),
    ("OnePlus", "CPH2449"),
];

/// splitmix64: a small, fixed-seed generator, so that two runs insert the same library.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The `n`th photo of a tenant; `prev` is the hash of the one before (one in twenty is a
/// near copy of it).
fn photo(tenant: &str, n: u64, g: &mut Gen, prev: u64) -> NewPhoto {
    let start = Utc.with_ymd_and_hms(2016, 1, 1, 0, 0, 0).single().expect("a date");
    let taken = start + chrono::Duration::seconds(g.below(10 * 365 * 86_400) as i64);
    let (make, model) = CAMERAS[g.below(CAMERAS.len() as u64) as usize];
    let phash = if n > 0 && n.is_multiple_of(20) {
        let mut h = prev;
        for _ in 0..3 {
            h ^= 1 << g.below(64);
        }
        h
    } else {
        g.next()
    };
    // One photo in fifty has no EXIF date: it sorts by upload time.
    let taken_at: Option<DateTime<Utc>> = (n % 50 != 7).then_some(taken);
    NewPhoto {
        tenant: tenant.to_owned(),
        upload_id: format!("upl_bench{n:08}"),
        sha256: format!("{:016x}{:016x}{:016x}{:016x}", g.next(), g.next(), g.next(), n),
        file_name: Some(format!("IMG_{n:06}.JPG")),
        content_type: "image/jpeg".into(),
        bytes: 2_000_000 + g.below(6_000_000),
        format: "jpeg".into(),
        width: 4032,
        height: 3024,
        exif: Exif {
            taken_at,
            taken_offset_minutes: taken_at.map(|_| 60),
            make: Some(make.into()),
            model: Some(model.into()),
            lens: Some(format!("{model} back camera 6.86mm f/1.78")),
            iso: Some(50 + g.below(3200) as u32),
            ..Exif::default()
        },
        phash: Some(phash),
        phash_params: Some("bench".into()),
    }
}

/// Inserts `count` photos into `tenant` (`begin_photo` then `set_ready`, `parallel` at a
/// time) and returns their ids and hashes.
async fn fill(
    library: &Arc<dyn Library>,
    tenant: &str,
    count: u64,
    parallel: usize,
    seed: u64,
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut g = Gen(seed);
    let mut prev = 0;
    let photos: Vec<NewPhoto> = (0..count)
        .map(|n| {
            let p = photo(tenant, n, &mut g, prev);
            prev = p.phash.unwrap_or(0);
            p
        })
        .collect();
    let inserted: Vec<anyhow::Result<(String, u64)>> = futures::stream::iter(photos)
        .map(|p| {
            let library = library.clone();
            async move {
                let hash = p.phash.unwrap_or(0);
                let tenant = p.tenant.clone();
                let (photo, _) = library.begin_photo(p).await?;
                library.set_ready(&tenant, &photo.id).await?;
                Ok((photo.id, hash))
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    inserted.into_iter().collect()
}

/// Timings of one query, in milliseconds.
struct Timings(Vec<Duration>);

impl Timings {
    fn report(mut self, name: &str, note: &str) {
        self.0.sort();
        let pct = |p: f64| {
            self.0.get(((self.0.len() as f64 - 1.0) * p).round() as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "{name}: {} queries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({note})",
            self.0.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
}

async fn time<T>(t: &mut Timings, f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let start = Instant::now();
    let out = f.await?;
    t.0.push(start.elapsed());
    Ok(out)
}

/// Fills the library and times the queries; `analyze` (PostgreSQL: the scratch schema's
/// URL) refreshes the planner's statistics after the inserts, as autovacuum soon would.
pub(super) async fn run(
    library: Arc<dyn Library>,
    photos: u64,
    queries: usize,
    parallel: usize,
    analyze: Option<String>,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let ids = fill(&library, TENANT, photos, parallel, 1).await?;
    fill(&library, OTHER, photos / 10, parallel, 2).await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "insert: {} photos in {secs:.1} s ({:.0} photos/s)",
        photos + photos / 10,
        (photos + photos / 10) as f64 / secs
    );
    anyhow::ensure!(!ids.is_empty(), "--photos must be at least 1");
    if let Some(url) = analyze {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
    }
    let mut g = Gen(3);

    // Timeline, first page.
    let mut first = Timings(Vec::new());
    for _ in 0..queries {
        let page = time(&mut first, async { Ok(library.timeline(TENANT, &TimelineQuery::default()).await?) }).await?;
        anyhow::ensure!(page.photos.len() == 100.min(ids.len()), "a first page of {}", page.photos.len());
    }
    first.report("timeline first page", "limit 100");

    // Timeline deep: walk pages through the cursor, restarting at the top at the end.
    let mut deep = Timings(Vec::new());
    let mut after = None;
    for _ in 0..queries {
        let q = TimelineQuery { after: after.take(), ..TimelineQuery::default() };
        let page = time(&mut deep, async { Ok(library.timeline(TENANT, &q).await?) }).await?;
        after = page.next;
    }
    deep.report("timeline next pages", "keyset cursor, walking the whole timeline");

    // A month of photos (a date filter) and one camera.
    let mut filtered = Timings(Vec::new());
    for i in 0..queries {
        let from = Utc.with_ymd_and_hms(2016 + (i % 10) as i32, 1 + (i % 12) as u32, 1, 0, 0, 0).single();
        let to = from.map(|f| f + chrono::Duration::days(31));
        let camera = (i % 2 == 0).then(|| CAMERAS[i % CAMERAS.len()].1.to_owned());
        let q = TimelineQuery { from, to, camera, ..TimelineQuery::default() };
        time(&mut filtered, async { Ok(library.timeline(TENANT, &q).await?) }).await?;
    }
    filtered.report("timeline filtered", "a month, and a camera every other query");

    // Similar photos of a random photo, within 10 bits.
    let mut similar = Timings(Vec::new());
    let mut found = 0usize;
    for _ in 0..queries {
        let (id, _) = &ids[g.below(ids.len() as u64) as usize];
        let near = time(&mut similar, async { Ok(library.similar(TENANT, id, 10, 100).await?) }).await?;
        found += near.map_or(0, |n| n.len());
    }
    similar.report("similar", &format!("max_distance 10, limit 100; {found} found in all"));

    // Search: a file name fragment, a model, a lens word.
    let mut search = Timings(Vec::new());
    let mut hits = 0usize;
    for i in 0..queries {
        let term = match i % 3 {
            0 => format!("IMG_{:04}", g.below(photos.div_ceil(100).max(1))),
            1 => CAMERAS[i % CAMERAS.len()].1.to_owned(),
            _ => "back camera".to_owned(),
        };
        let q = TimelineQuery { q: Some(term), ..TimelineQuery::default() };
        let page = time(&mut search, async { Ok(library.timeline(TENANT, &q).await?) }).await?;
        hits += page.photos.len();
    }
    search.report("search ?q=", &format!("a file name fragment, a model, a lens word; {hits} hits in all"));
    Ok(())
}
