//! Cases on one photo's life: recording (deduplicated per tenant by content), every field
//! stored as given, readiness, renditions (replaced by size and format) and deletion with
//! everything that hangs off the photo.

use std::time::Duration;

use super::{Fixture, day, photo, taken};
use crate::model::{Exif, PhotoState, Rendition, TimelineQuery};

/// A rendition of `size` in `format` with a distinguishing etag.
fn rendition(size: u32, format: &str, etag: &str) -> Rendition {
    Rendition {
        size,
        format: format.into(),
        width: size,
        height: size * 3 / 4,
        bytes: u64::from(size) * 100,
        etag: etag.into(),
    }
}

/// The same content recorded twice by a tenant is one photo; another tenant's copy is
/// its own. Every field comes back as stored, EXIF and a hash with its top bit set
/// included; `sort_at` is `taken_at`, else the time of recording.
pub async fn begin_photo_dedups_per_tenant(f: Fixture) {
    let l = &f.library;
    let exif = Exif {
        taken_at: Some(day(2024, 7, 14) + chrono::Duration::milliseconds(12_345)),
        taken_offset_minutes: Some(-330),
        make: Some("FUJIFILM".into()),
        model: Some("X-T5".into()),
        lens: Some("XF23mmF1.4 R LM WR".into()),
        exposure_time: Some(1.0 / 250.0),
        f_number: Some(2.8),
        iso: Some(3200),
        focal_length_mm: Some(23.0),
        gps_latitude: Some(48.858_37),
        gps_longitude: Some(-2.294_481),
        gps_altitude: Some(-12.5),
        orientation: Some(6),
    };
    let mut new = photo("t1", 1);
    new.exif = exif.clone();
    new.phash = Some(0x8000_0000_0000_0001);
    new.phash_params = Some("dct-8x8".into());
    new.bytes = 5_000_000_000;
    let (first, created) = l.begin_photo(new.clone()).await.unwrap();
    assert!(created);
    assert!(first.id.starts_with("pho_"), "id {}", first.id);
    assert_eq!(
        (first.tenant.as_str(), first.upload_id.as_str(), first.sha256.as_str()),
        ("t1", &*new.upload_id, &*new.sha256)
    );
    assert_eq!((first.file_name.as_deref(), first.content_type.as_str()), (Some("IMG_0001.JPG"), "image/jpeg"));
    assert_eq!((first.bytes, first.format.as_str(), first.width, first.height), (5_000_000_000, "jpeg", 4000, 3000));
    assert_eq!(first.exif, exif);
    assert_eq!((first.phash, first.phash_params.as_deref()), (Some(0x8000_0000_0000_0001), Some("dct-8x8")));
    assert_eq!(first.state, PhotoState::Processing);
    assert_eq!(
        (first.sort_at, first.created_at, first.updated_at),
        (exif.taken_at.unwrap(), f.clock().now(), f.clock().now())
    );

    f.advance(Duration::from_secs(1));
    let mut again = photo("t1", 1);
    again.file_name = Some("copy.jpg".into());
    let (same, created) = l.begin_photo(again).await.unwrap();
    assert!(!created, "same content, same tenant");
    assert_eq!(same, first, "the existing photo, unchanged");

    let (other, created) = l.begin_photo(photo("t2", 1)).await.unwrap();
    assert!(created, "another tenant's copy is its own");
    assert_ne!(other.id, first.id);
    assert_eq!((other.sort_at, other.exif.clone()), (f.clock().now(), Exif::default()), "no EXIF: sorted by recording");
    assert_eq!((other.phash, other.file_name.as_deref()), (None, Some("IMG_0001.JPG")));

    assert_eq!(l.get_photo("t1", &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(l.find_by_sha256("t1", &new.sha256).await.unwrap(), Some(first.clone()));
    assert_eq!(l.find_by_sha256("t2", &new.sha256).await.unwrap(), Some(other.clone()));
    assert_eq!(l.find_by_sha256("t3", &new.sha256).await.unwrap(), None);
    assert_eq!(l.get_photo("t1", "pho_missing").await.unwrap(), None);
    l.begin_photo(photo("t1", 2)).await.unwrap();
    assert_eq!((l.count_photos("t1").await.unwrap(), l.count_photos("t2").await.unwrap()), (2, 1));
    assert_eq!(l.count_photos("t3").await.unwrap(), 0);
}

/// `set_ready` moves a photo onto the timeline once (a second call changes nothing);
/// renditions are stored all at once, listed by size then format, and replaced by size
/// and format.
pub async fn set_ready_and_renditions(f: Fixture) {
    let l = &f.library;
    let (p, _) = l.begin_photo(photo("t1", 1)).await.unwrap();
    f.advance(Duration::from_secs(5));
    assert!(l.set_ready("t1", &p.id).await.unwrap());
    let ready = l.get_photo("t1", &p.id).await.unwrap().unwrap();
    assert_eq!((ready.state, ready.updated_at, ready.created_at), (PhotoState::Ready, f.clock().now(), p.created_at));
    f.advance(Duration::from_secs(5));
    assert!(l.set_ready("t1", &p.id).await.unwrap(), "already ready is still found");
    assert_eq!(l.get_photo("t1", &p.id).await.unwrap(), Some(ready.clone()), "nothing changed");
    assert!(!l.set_ready("t1", "pho_missing").await.unwrap());

    assert!(l.renditions("t1", &p.id).await.unwrap().is_empty());
    let set = [rendition(1024, "webp", "w1024"), rendition(256, "jpeg", "j256"), rendition(256, "avif", "a256")];
    assert!(l.put_renditions("t1", &p.id, &set).await.unwrap());
    let listed = l.renditions("t1", &p.id).await.unwrap();
    assert_eq!(listed, vec![set[2].clone(), set[1].clone(), set[0].clone()], "by size, then format");

    let replaced = rendition(256, "jpeg", "j256-v2");
    assert!(l.put_renditions("t1", &p.id, &[replaced.clone(), rendition(512, "jpeg", "j512")]).await.unwrap());
    let etags: Vec<String> = l.renditions("t1", &p.id).await.unwrap().into_iter().map(|r| r.etag).collect();
    assert_eq!(etags, ["a256", "j256-v2", "j512", "w1024"]);
    assert!(l.put_renditions("t1", &p.id, &[]).await.unwrap(), "nothing to store, photo found");
    assert!(!l.put_renditions("t1", "pho_missing", &[rendition(256, "jpeg", "x")]).await.unwrap());

    let detail = l.get("t1", &p.id).await.unwrap().unwrap();
    assert_eq!(detail.photo, ready);
    assert_eq!(detail.renditions.len(), 4);
    assert!(detail.albums.is_empty());
    assert_eq!(l.get("t1", "pho_missing").await.unwrap(), None);
}

/// Deleting a photo returns it with its renditions and albums and removes them, its
/// memberships and its pairs; its albums keep working, and its content can be recorded
/// again as a new photo.
pub async fn delete_photo_takes_its_rows(f: Fixture) {
    let l = &f.library;
    let old = f.ready(taken(photo("t1", 1), day(2020, 1, 1))).await;
    let newest = f.ready(taken(photo("t1", 2), day(2021, 1, 1))).await;
    let other = f.ready(photo("t1", 3)).await;
    assert!(
        l.put_renditions("t1", &newest.id, &[rendition(256, "jpeg", "e1"), rendition(512, "jpeg", "e2")])
            .await
            .unwrap()
    );
    let album = l.create_album("t1", "Trips").await.unwrap().unwrap();
    let second = l.create_album("t1", "Best").await.unwrap().unwrap();
    assert_eq!(l.add_to_album("t1", &album.id, &[old.id.clone(), newest.id.clone()]).await.unwrap(), Some(2));
    assert_eq!(l.add_to_album("t1", &second.id, std::slice::from_ref(&newest.id)).await.unwrap(), Some(1));
    assert_eq!(l.get_album("t1", &album.id).await.unwrap().unwrap().cover_photo_id.as_deref(), Some(&*newest.id));
    let pairs = [(old.id.clone(), 4), (other.id.clone(), 9)];
    assert_eq!(l.record_near_duplicates("t1", &newest.id, &pairs).await.unwrap(), 2);
    assert_eq!(l.record_near_duplicates("t1", &old.id, &[(other.id.clone(), 7)]).await.unwrap(), 1);

    f.advance(Duration::from_secs(1));
    let gone = l.delete_photo("t1", &newest.id).await.unwrap().expect("deleted");
    assert_eq!(gone.photo, newest);
    let etags: Vec<&str> = gone.renditions.iter().map(|r| r.etag.as_str()).collect();
    assert_eq!(etags, ["e1", "e2"]);
    let mut albums = vec![album.id.clone(), second.id.clone()];
    albums.sort();
    assert_eq!(gone.albums, albums);

    assert_eq!(l.get("t1", &newest.id).await.unwrap(), None);
    assert!(l.renditions("t1", &newest.id).await.unwrap().is_empty());
    assert_eq!(l.delete_photo("t1", &newest.id).await.unwrap(), None, "already gone");
    let left = l.near_duplicates("t1", None, 100).await.unwrap();
    assert_eq!(left.len(), 1, "only the pair without it: {left:?}");
    assert_eq!(left[0].distance, 7);
    let trips = l.get_album("t1", &album.id).await.unwrap().unwrap();
    assert_eq!((trips.photo_count, trips.cover_photo_id.as_deref()), (1, Some(&*old.id)), "the cover moved on");
    let best = l.get_album("t1", &second.id).await.unwrap().unwrap();
    assert_eq!((best.photo_count, best.cover_photo_id), (0, None));
    assert_eq!(l.add_to_album("t1", &second.id, std::slice::from_ref(&other.id)).await.unwrap(), Some(1));
    let in_album = TimelineQuery { album: Some(second.id.clone()), ..Default::default() };
    assert_eq!(super::ids(&l.timeline("t1", &in_album).await.unwrap().photos), [other.id.as_str()]);
    assert_eq!(l.get("t1", &old.id).await.unwrap().unwrap().albums, [album.id.as_str()]);

    let search = |text: &str| TimelineQuery { q: Some(text.into()), ..Default::default() };
    assert!(l.timeline("t1", &search("IMG_0002")).await.unwrap().photos.is_empty(), "not found by name");
    assert_eq!(super::ids(&l.timeline("t1", &search("IMG_0001")).await.unwrap().photos), [old.id.as_str()]);
    let (again, created) = l.begin_photo(photo("t1", 2)).await.unwrap();
    assert!(created, "the content is free again");
    assert_ne!(again.id, newest.id);
    assert_eq!(l.count_photos("t1").await.unwrap(), 3);
    assert!(l.set_ready("t1", &again.id).await.unwrap());
    assert_eq!(super::ids(&l.timeline("t1", &search("img_0002")).await.unwrap().photos), [again.id.as_str()]);
}
