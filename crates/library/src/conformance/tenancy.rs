//! The tenancy case: every call made with another tenant's ids finds nothing and changes
//! nothing, as if the ids did not exist.

use super::{Fixture, photo};
use crate::model::{Renamed, Rendition, TimelineQuery};

/// Tenant t2 calls everything with t1's photo, album and hash; t1's rows are untouched.
pub async fn other_tenants_ids_find_nothing(f: Fixture) {
    let l = &f.library;
    let mut hashed = photo("t1", 1);
    hashed.phash = Some(42);
    let shown = f.ready(hashed).await;
    let (waiting, _) = l.begin_photo(photo("t1", 2)).await.unwrap();
    let rendition = Rendition { size: 256, format: "jpeg".into(), width: 256, height: 192, bytes: 9, etag: "e".into() };
    assert!(l.put_renditions("t1", &shown.id, std::slice::from_ref(&rendition)).await.unwrap());
    let album = l.create_album("t1", "Mine").await.unwrap().unwrap();
    let both = [shown.id.clone(), waiting.id.clone()];
    assert_eq!(l.add_to_album("t1", &album.id, &both).await.unwrap(), Some(2));
    assert_eq!(l.record_near_duplicates("t1", &shown.id, &[(waiting.id.clone(), 3)]).await.unwrap(), 1);
    let before = (l.get("t1", &shown.id).await.unwrap(), l.get("t1", &waiting.id).await.unwrap());
    let album_before = l.get_album("t1", &album.id).await.unwrap();
    let own = l.create_album("t2", "Theirs").await.unwrap().unwrap();

    assert_eq!(l.get_photo("t2", &shown.id).await.unwrap(), None);
    assert_eq!(l.get("t2", &shown.id).await.unwrap(), None);
    assert_eq!(l.find_by_sha256("t2", &shown.sha256).await.unwrap(), None);
    assert!(!l.set_ready("t2", &waiting.id).await.unwrap());
    assert!(!l.put_renditions("t2", &shown.id, &[Rendition { etag: "x".into(), ..rendition }]).await.unwrap());
    assert!(l.renditions("t2", &shown.id).await.unwrap().is_empty());
    assert_eq!(l.delete_photo("t2", &shown.id).await.unwrap(), None);
    assert_eq!(l.count_photos("t2").await.unwrap(), 0);
    assert!(l.timeline("t2", &TimelineQuery::default()).await.unwrap().photos.is_empty());
    let in_album = TimelineQuery { album: Some(album.id.clone()), ..Default::default() };
    assert!(l.timeline("t2", &in_album).await.unwrap().photos.is_empty());
    assert!(l.nearest("t2", 42, 64, None, 10).await.unwrap().is_empty());
    assert_eq!(l.similar("t2", &shown.id, 64, 10).await.unwrap(), None);
    assert_eq!(l.record_near_duplicates("t2", &shown.id, &[(waiting.id.clone(), 1)]).await.unwrap(), 0);
    assert!(l.near_duplicates("t2", None, 10).await.unwrap().is_empty());

    assert_eq!(l.get_album("t2", &album.id).await.unwrap(), None);
    assert_eq!(l.album_by_name("t2", "Mine").await.unwrap(), None);
    assert_eq!(l.list_albums("t2").await.unwrap(), std::slice::from_ref(&own));
    assert_eq!(l.rename_album("t2", &album.id, "Stolen").await.unwrap(), Renamed::NotFound);
    assert_eq!(l.add_to_album("t2", &album.id, std::slice::from_ref(&shown.id)).await.unwrap(), None);
    assert_eq!(l.remove_from_album("t2", &album.id, std::slice::from_ref(&shown.id)).await.unwrap(), None);
    assert_eq!(l.add_to_album("t2", &own.id, &both).await.unwrap(), Some(0), "not t2's photos");
    assert!(!l.delete_album("t2", &album.id).await.unwrap());
    assert_eq!(l.get_album("t2", &own.id).await.unwrap().map(|a| a.photo_count), Some(0));

    let after = (l.get("t1", &shown.id).await.unwrap(), l.get("t1", &waiting.id).await.unwrap());
    assert_eq!(after, before, "t1's photos unchanged");
    assert_eq!(l.get_album("t1", &album.id).await.unwrap(), album_before, "t1's album unchanged");
    assert_eq!(l.near_duplicates("t1", None, 10).await.unwrap().len(), 1);
    assert_eq!(l.nearest("t1", 42, 0, None, 10).await.unwrap().len(), 1);
}
