//! Similarity cases: Hamming distances over 64-bit hashes (top bit included), closest
//! first then by id, within one tenant; and near-duplicate pairs recorded once, ordered,
//! and paged.

use super::{Fixture, photo};
use crate::model::{NearPair, Photo, Similar};

const BASE: u64 = 0xF0F0_F0F0_F0F0_F0F0;

/// A ready photo of `tenant` with hash `phash`.
async fn hashed(f: &Fixture, tenant: &str, n: u32, phash: u64) -> Photo {
    let mut p = photo(tenant, n);
    p.phash = Some(phash);
    p.phash_params = Some("dct-8x8".into());
    f.ready(p).await
}

/// `(id, distance)` of each answer.
fn pairs(found: &[Similar]) -> Vec<(&str, u32)> {
    found.iter().map(|s| (s.photo.id.as_str(), s.distance)).collect()
}

/// `nearest` finds the tenant's hashed photos (processing ones too) within the distance,
/// closest first and by id among equals; `similar` excludes the photo itself and is
/// `None` for a photo that is not the tenant's.
pub async fn nearest_and_similar(f: Fixture) {
    let l = &f.library;
    let exact = hashed(&f, "t1", 1, BASE).await;
    let one = hashed(&f, "t1", 2, BASE ^ (1 << 63)).await;
    let three = hashed(&f, "t1", 3, BASE ^ 0b111).await;
    let three_too = hashed(&f, "t1", 4, BASE ^ (0b111 << 30)).await;
    let ten = hashed(&f, "t1", 5, BASE ^ 0x3FF).await;
    // Ten bits apart, spread over every quarter (3, 3, 2, 2).
    let spread = hashed(&f, "t1", 9, BASE ^ (0b111 | 0b111 << 16 | 0b11 << 32 | 0b11 << 48)).await;
    let opposite = hashed(&f, "t1", 6, !BASE).await;
    let unhashed = f.ready(photo("t1", 7)).await;
    let mut waiting = photo("t1", 8);
    waiting.phash = Some(BASE ^ 0b11);
    let (waiting, _) = l.begin_photo(waiting).await.unwrap();
    let elsewhere = hashed(&f, "t2", 1, BASE).await;

    let mut threes = [(three.id.as_str(), 3), (three_too.id.as_str(), 3)];
    threes.sort();
    let near = l.nearest("t1", BASE, 3, None, 10).await.unwrap();
    let expected = [(exact.id.as_str(), 0), (one.id.as_str(), 1), (waiting.id.as_str(), 2), threes[0], threes[1]];
    assert_eq!(pairs(&near), expected, "closest first, id among equals, processing included");
    assert_eq!(near[0].photo, exact);
    let cut = l.nearest("t1", BASE, 3, Some(&exact.id), 3).await.unwrap();
    assert_eq!(pairs(&cut), expected[1..4]);
    assert_eq!(pairs(&l.nearest("t1", BASE, 0, None, 10).await.unwrap()), [(exact.id.as_str(), 0)]);
    assert_eq!(pairs(&l.nearest("t1", !BASE, 0, None, 10).await.unwrap()), [(opposite.id.as_str(), 0)]);
    assert_eq!(l.nearest("t1", BASE, 64, None, 100).await.unwrap().len(), 8, "every hashed photo");
    assert!(l.nearest("t1", BASE, 64, None, 0).await.unwrap().is_empty(), "limit 0: none");
    let mut tens = [(ten.id.as_str(), 10), (spread.id.as_str(), 10)];
    tens.sort();
    for max_distance in [10, 11, 12, 15, 16, 40] {
        let far = l.nearest("t1", BASE, max_distance, None, 100).await.unwrap();
        assert_eq!(pairs(&far)[expected.len()..], tens, "within {max_distance}");
    }
    assert_eq!(pairs(&l.nearest("t1", BASE, 9, None, 100).await.unwrap()), expected, "none at 4 to 9");
    assert_eq!(pairs(&l.nearest("t2", BASE, 64, None, 10).await.unwrap()), [(elsewhere.id.as_str(), 0)]);
    assert!(l.nearest("t3", BASE, 64, None, 10).await.unwrap().is_empty());

    let like_one = l.similar("t1", &one.id, 2, 10).await.unwrap().expect("t1's photo");
    assert_eq!(pairs(&like_one), [(exact.id.as_str(), 1)], "itself excluded");
    let like_opposite = l.similar("t1", &opposite.id, 63, 10).await.unwrap().unwrap();
    assert_eq!(like_opposite.len(), 6, "everything but itself and the exact opposite (64)");
    assert!(like_opposite.windows(2).all(|w| w[0].distance <= w[1].distance));
    assert_eq!(l.similar("t1", &unhashed.id, 64, 10).await.unwrap(), Some(Vec::new()), "no hash: nothing");
    assert_eq!(l.similar("t1", &elsewhere.id, 64, 10).await.unwrap(), None, "another tenant's");
    assert_eq!(l.similar("t1", "pho_missing", 64, 10).await.unwrap(), None);
}

/// Pairs are stored once, smaller id first, only between the tenant's own photos, and
/// listed by `(a, b)` in keyset pages.
pub async fn near_duplicate_pairs(f: Fixture) {
    let l = &f.library;
    let mut mine = Vec::new();
    for n in 0..4 {
        mine.push(hashed(&f, "t1", n, BASE ^ u64::from(n)).await.id);
    }
    let theirs = hashed(&f, "t2", 0, BASE).await.id;
    let others = [
        (mine[1].clone(), 1),
        (mine[3].clone(), 2),
        (mine[0].clone(), 0),
        (theirs.clone(), 0),
        ("pho_missing".to_owned(), 1),
    ];
    assert_eq!(l.record_near_duplicates("t1", &mine[0], &others).await.unwrap(), 2, "itself and strangers skipped");
    assert_eq!(l.record_near_duplicates("t1", &mine[0], &others).await.unwrap(), 0, "already recorded");
    assert_eq!(l.record_near_duplicates("t1", &mine[1], &[(mine[0].clone(), 1)]).await.unwrap(), 0, "either way round");
    let more = [(mine[1].clone(), 3), (mine[0].clone(), 2)];
    assert_eq!(l.record_near_duplicates("t1", &mine[2], &more).await.unwrap(), 2);
    assert_eq!(l.record_near_duplicates("t1", "pho_missing", &[(mine[0].clone(), 1)]).await.unwrap(), 0);
    assert_eq!(l.record_near_duplicates("t2", &theirs, &[(mine[0].clone(), 0)]).await.unwrap(), 0);

    let pair = |x: &String, y: &String, distance| {
        let (a, b) = if x < y { (x.clone(), y.clone()) } else { (y.clone(), x.clone()) };
        NearPair { a, b, distance }
    };
    let mut expected = vec![
        pair(&mine[0], &mine[1], 1),
        pair(&mine[0], &mine[3], 2),
        pair(&mine[2], &mine[1], 3),
        pair(&mine[2], &mine[0], 2),
    ];
    expected.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    assert_eq!(l.near_duplicates("t1", None, 100).await.unwrap(), expected);

    let mut paged = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = l.near_duplicates("t1", after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some((last.a.clone(), last.b.clone()));
        paged.extend(page);
    }
    assert_eq!(paged, expected, "pages in order, no repeats");
    assert_eq!(l.near_duplicates("t1", None, 0).await.unwrap().len(), 1, "limit 0 means 1");
    assert!(l.near_duplicates("t2", None, 100).await.unwrap().is_empty());
}
