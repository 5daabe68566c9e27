//! Timeline cases: only ready photos, newest `sort_at` first (when taken, else when
//! recorded), keyset pages without gaps or repeats across equal times, and the date,
//! camera, text and album filters.

use std::time::Duration;

use super::{Fixture, day, ids, photo, taken};
use crate::model::{Cursor, Photo, TimelineQuery};

/// Every page of a query, following `next` until it is unset.
async fn all_pages(f: &Fixture, tenant: &str, mut query: TimelineQuery) -> (Vec<Photo>, usize) {
    let (mut photos, mut pages) = (Vec::new(), 0);
    loop {
        let page = f.library.timeline(tenant, &query).await.unwrap();
        pages += 1;
        assert!(page.photos.len() <= query.limit.max(1) as usize);
        photos.extend(page.photos);
        match page.next {
            Some(next) => {
                let token = next.encode();
                query.after = Some(Cursor::decode(&token).expect("a cursor we made"));
            }
            None => return (photos, pages),
        }
        assert!(pages < 1_000, "paging ends");
    }
}

/// The ids of the tenant's photos a query finds (one page of up to 500).
async fn found(f: &Fixture, tenant: &str, query: TimelineQuery) -> Vec<String> {
    let page = f.library.timeline(tenant, &TimelineQuery { limit: 500, ..query }).await.unwrap();
    page.photos.into_iter().map(|p| p.id).collect()
}

/// A photo stays off the timeline until it is ready.
pub async fn processing_photos_stay_off_the_timeline(f: Fixture) {
    let l = &f.library;
    let shown = f.ready(photo("t1", 1)).await;
    let (hidden, _) = l.begin_photo(photo("t1", 2)).await.unwrap();
    assert_eq!(found(&f, "t1", TimelineQuery::default()).await, [shown.id.as_str()]);
    assert!(l.set_ready("t1", &hidden.id).await.unwrap());
    assert_eq!(found(&f, "t1", TimelineQuery::default()).await, [hidden.id.as_str(), shown.id.as_str()]);
    assert!(found(&f, "t2", TimelineQuery::default()).await.is_empty());
    let page = l.timeline("t1", &TimelineQuery::default()).await.unwrap();
    assert_eq!(page.next, None, "not a full page");
}

/// When a photo was taken decides its place, not when it was uploaded; a photo without
/// a time sits where it was recorded.
pub async fn timeline_orders_by_taken_then_created(f: Fixture) {
    let oldest = f.ready(taken(photo("t1", 1), day(2020, 5, 1))).await;
    let undated = f.ready(photo("t1", 2)).await;
    let middle = f.ready(taken(photo("t1", 3), day(2025, 5, 1))).await;
    f.advance(Duration::from_secs(3600));
    let future = f.ready(taken(photo("t1", 4), day(2031, 1, 1))).await;
    assert_eq!(undated.sort_at, undated.created_at);
    assert_eq!(
        found(&f, "t1", TimelineQuery::default()).await,
        [future.id.as_str(), undated.id.as_str(), middle.id.as_str(), oldest.id.as_str()]
    );
}

/// Pages of any size walk the timeline exactly once, photos with equal times included
/// (ordered by id among themselves); a last full page is followed by an empty one.
pub async fn keyset_pages_have_no_gaps_or_duplicates(f: Fixture) {
    let l = &f.library;
    let mut made = Vec::new();
    for n in 0..25 {
        // Five photos share each time: the id decides among them.
        made.push(f.ready(taken(photo("t1", n), day(2024, 1, 1 + n / 5))).await);
    }
    made.sort_by(|a, b| (b.sort_at, &b.id).cmp(&(a.sort_at, &a.id)));
    for size in [1, 3, 4, 5, 7, 25, 100] {
        let (photos, pages) = all_pages(&f, "t1", TimelineQuery { limit: size, ..Default::default() }).await;
        assert_eq!(ids(&photos), ids(&made), "page size {size}");
        let full = (25 / size + 1) as usize;
        assert_eq!(pages, full, "page size {size}: pages");
    }
    let first = l.timeline("t1", &TimelineQuery { limit: 0, ..Default::default() }).await.unwrap();
    assert_eq!(ids(&first.photos), [made[0].id.as_str()], "limit 0 means 1");
    let next = first.next.expect("a full page");
    assert_eq!((next.sort_at_ms, next.id.as_str()), (made[0].sort_at.timestamp_millis(), made[0].id.as_str()));
    let rest = TimelineQuery { limit: 10_000, after: Some(next), ..Default::default() };
    assert_eq!(ids(&l.timeline("t1", &rest).await.unwrap().photos), ids(&made[1..]));
    let past_the_end = Cursor { sort_at_ms: i64::MIN, id: String::new() };
    let none = l.timeline("t1", &TimelineQuery { after: Some(past_the_end), ..Default::default() }).await.unwrap();
    assert!(none.photos.is_empty() && none.next.is_none());
}

/// `from` is inclusive, `to` exclusive; the camera matches make, model or "make model",
/// ignoring case.
pub async fn timeline_filters_by_date_and_camera(f: Fixture) {
    let mut canon = taken(photo("t1", 1), day(2024, 3, 1));
    canon.exif.make = Some("Canon".into());
    canon.exif.model = Some("EOS R5".into());
    let canon = f.ready(canon).await;
    let mut nikon = taken(photo("t1", 2), day(2024, 3, 2));
    nikon.exif.make = Some("NIKON CORPORATION".into());
    nikon.exif.model = Some("Z 6".into());
    let nikon = f.ready(nikon).await;
    let plain = f.ready(taken(photo("t1", 3), day(2024, 3, 3))).await;
    let later = f.ready(photo("t1", 4)).await;

    let between = |from, to| TimelineQuery { from, to, ..Default::default() };
    let march = found(&f, "t1", between(Some(day(2024, 3, 1)), Some(day(2024, 3, 3)))).await;
    assert_eq!(march, [nikon.id.as_str(), canon.id.as_str()], "from inclusive, to exclusive");
    assert_eq!(
        found(&f, "t1", between(Some(day(2024, 3, 2)), None)).await,
        [later.id.as_str(), plain.id.as_str(), nikon.id.as_str()]
    );
    assert_eq!(found(&f, "t1", between(None, Some(day(2024, 3, 2)))).await, [canon.id.as_str()]);
    assert!(found(&f, "t1", between(Some(day(2024, 3, 3)), Some(day(2024, 3, 3)))).await.is_empty());

    let camera = |c: &str| TimelineQuery { camera: Some(c.into()), ..Default::default() };
    for name in ["Canon", "canon", "EOS R5", "eos r5", "CANON EOS R5", " canon "] {
        assert_eq!(found(&f, "t1", camera(name)).await, [canon.id.as_str()], "camera {name:?}");
    }
    assert_eq!(found(&f, "t1", camera("nikon corporation z 6")).await, [nikon.id.as_str()]);
    for name in ["Nikon", "EOS", "Canon R5", "%"] {
        assert!(found(&f, "t1", camera(name)).await.is_empty(), "camera {name:?}");
    }
    assert_eq!(found(&f, "t1", camera("")).await.len(), 4, "empty: no filter");
    let both = TimelineQuery { camera: Some("z 6".into()), from: Some(day(2024, 3, 3)), ..Default::default() };
    assert!(found(&f, "t1", both).await.is_empty(), "filters combine");
}

/// `q` finds a substring of the file name, make, model or lens, ignoring case, with
/// `%`, `_` and `\` taken as plain characters.
pub async fn timeline_search_takes_text_literally(f: Fixture) {
    let named = |n: u32, name: &str| {
        let mut p = photo("t1", n);
        p.file_name = Some(name.into());
        p
    };
    let percent = f.ready(named(1, "100%_real.jpg")).await;
    let lookalike = f.ready(named(2, "100xxreal.jpg")).await;
    let backslash = f.ready(named(3, "C:\\Photos\\beach.JPG")).await;
    let mut lens = named(4, "DSC0001.ARW");
    lens.exif.lens = Some("FE 24-70mm F2.8 GM".into());
    lens.exif.make = Some("SONY".into());
    let lens = f.ready(lens).await;
    let mut unnamed = photo("t1", 5);
    unnamed.file_name = None;
    unnamed.exif.model = Some("Pixel 8 Pro".into());
    let unnamed = f.ready(unnamed).await;
    let quoted = f.ready(named(6, "say \"cheese\" 2.png")).await;

    let q = |text: &str| TimelineQuery { q: Some(text.into()), ..Default::default() };
    for (text, expected) in [
        ("100%_", vec![percent.id.as_str()]),
        ("%", vec![percent.id.as_str()]),
        ("_", vec![percent.id.as_str()]),
        ("100", vec![lookalike.id.as_str(), percent.id.as_str()]),
        ("\\photos\\", vec![backslash.id.as_str()]),
        ("BEACH", vec![backslash.id.as_str()]),
        ("24-70", vec![lens.id.as_str()]),
        ("sony", vec![lens.id.as_str()]),
        ("pixel 8", vec![unnamed.id.as_str()]),
        (".jpg", vec![backslash.id.as_str(), lookalike.id.as_str(), percent.id.as_str()]),
        ("\"cheese\"", vec![quoted.id.as_str()]),
        ("cheese\" 2", vec![quoted.id.as_str()]),
        ("nothing like it", vec![]),
    ] {
        assert_eq!(found(&f, "t1", q(text)).await, expected, "q {text:?}");
    }
    assert_eq!(found(&f, "t1", q("  ")).await.len(), 6, "blank: no filter");
    assert!(found(&f, "t2", q("100")).await.is_empty());
}

/// An album's timeline is its ready members in timeline order, paged and filtered like
/// the whole; another tenant's album (or none) shows nothing.
pub async fn timeline_filters_by_album(f: Fixture) {
    let l = &f.library;
    let album = l.create_album("t1", "Kids").await.unwrap().unwrap();
    let mut members = Vec::new();
    for n in 0..12 {
        let p = f.ready(taken(photo("t1", n), day(2023, 6, 1 + n % 4))).await;
        if n % 2 == 0 {
            members.push(p);
        }
    }
    let (waiting, _) = l.begin_photo(photo("t1", 99)).await.unwrap();
    let mut add: Vec<String> = members.iter().map(|p| p.id.clone()).collect();
    add.push(waiting.id.clone());
    assert_eq!(l.add_to_album("t1", &album.id, &add).await.unwrap(), Some(7));
    members.sort_by(|a, b| (b.sort_at, &b.id).cmp(&(a.sort_at, &a.id)));

    let in_album = TimelineQuery { album: Some(album.id.clone()), limit: 2, ..Default::default() };
    let (photos, pages) = all_pages(&f, "t1", in_album.clone()).await;
    assert_eq!(ids(&photos), ids(&members), "ready members only, in order");
    assert_eq!(pages, 4);
    let dated = TimelineQuery { from: Some(day(2023, 6, 3)), limit: 100, ..in_album.clone() };
    let expected: Vec<&str> = members.iter().filter(|p| p.sort_at >= day(2023, 6, 3)).map(|p| p.id.as_str()).collect();
    assert_eq!(ids(&l.timeline("t1", &dated).await.unwrap().photos), expected);
    let searched = TimelineQuery { q: Some("IMG_0004".into()), ..in_album.clone() };
    let four = members_id(&members, 4);
    assert_eq!(ids(&l.timeline("t1", &searched).await.unwrap().photos), [four.as_str()]);

    assert!(found(&f, "t2", in_album.clone()).await.is_empty(), "another tenant's album");
    let missing = TimelineQuery { album: Some("alb_missing".into()), ..Default::default() };
    assert!(found(&f, "t1", missing).await.is_empty());
    assert!(l.set_ready("t1", &waiting.id).await.unwrap());
    assert_eq!(found(&f, "t1", in_album).await.len(), 7, "ready now");
}

/// The id of the member made as photo `n`.
fn members_id(members: &[Photo], n: u32) -> String {
    let sha = format!("{n:064x}");
    members.iter().find(|p| p.sha256 == sha).map(|p| p.id.clone()).expect("a member")
}
