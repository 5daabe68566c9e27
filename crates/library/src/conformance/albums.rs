//! Album cases: names unique per tenant (exactly), renames, listing order; members (only
//! the tenant's photos, each once), the count, the cover (newest ready member), and
//! deletion, which keeps the photos.

use std::time::Duration;

use super::{Fixture, day, photo, taken};
use crate::model::{Renamed, TimelineQuery};

/// Names are unique per tenant and exact; renames refuse a taken name and change
/// nothing then; albums list by name, case folded first.
pub async fn albums_names_and_renames(f: Fixture) {
    let l = &f.library;
    let trips = l.create_album("t1", "Trips").await.unwrap().expect("created");
    assert!(trips.id.starts_with("alb_"), "id {}", trips.id);
    assert_eq!((trips.tenant.as_str(), trips.name.as_str()), ("t1", "Trips"));
    assert_eq!((trips.photo_count, trips.cover_photo_id.clone()), (0, None));
    assert_eq!((trips.created_at, trips.updated_at), (f.clock().now(), f.clock().now()));
    assert_eq!(l.create_album("t1", "Trips").await.unwrap(), None, "name taken");
    let lower = l.create_album("t1", "trips").await.unwrap().expect("names are exact");
    let beach = l.create_album("t1", "beach").await.unwrap().unwrap();
    let theirs = l.create_album("t2", "Trips").await.unwrap().expect("per tenant");
    assert_ne!(theirs.id, trips.id);

    assert_eq!(l.get_album("t1", &trips.id).await.unwrap(), Some(trips.clone()));
    assert_eq!(l.album_by_name("t1", "Trips").await.unwrap(), Some(trips.clone()));
    assert_eq!(l.album_by_name("t1", "trips").await.unwrap(), Some(lower.clone()));
    assert_eq!(l.album_by_name("t1", "TRIPS").await.unwrap(), None);
    assert_eq!(l.album_by_name("t2", "Trips").await.unwrap(), Some(theirs.clone()));
    let names = |albums: Vec<crate::model::Album>| albums.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(names(l.list_albums("t1").await.unwrap()), ["beach", "Trips", "trips"]);

    f.advance(Duration::from_secs(1));
    assert_eq!(l.rename_album("t1", &beach.id, "Trips").await.unwrap(), Renamed::NameTaken);
    assert_eq!(l.get_album("t1", &beach.id).await.unwrap(), Some(beach.clone()), "unchanged");
    assert_eq!(l.rename_album("t1", &beach.id, "beach").await.unwrap(), Renamed::Done, "its own name");
    assert_eq!(l.rename_album("t1", &beach.id, "Alps 2024").await.unwrap(), Renamed::Done);
    let alps = l.get_album("t1", &beach.id).await.unwrap().unwrap();
    assert_eq!(
        (alps.name.as_str(), alps.created_at, alps.updated_at),
        ("Alps 2024", beach.created_at, f.clock().now())
    );
    assert!(l.create_album("t1", "beach").await.unwrap().is_some(), "the old name is free");
    assert_eq!(l.rename_album("t1", "alb_missing", "x").await.unwrap(), Renamed::NotFound);
    assert_eq!(names(l.list_albums("t1").await.unwrap()), ["Alps 2024", "beach", "Trips", "trips"]);
    assert_eq!(names(l.list_albums("t2").await.unwrap()), ["Trips"]);
    assert!(l.list_albums("t3").await.unwrap().is_empty());
}

/// Only the tenant's existing photos are added, each once; the count includes
/// processing members, the cover is the newest ready one; deleting the album keeps its
/// photos.
pub async fn album_members_cover_and_count(f: Fixture) {
    let l = &f.library;
    let album = l.create_album("t1", "Family").await.unwrap().unwrap();
    let old = f.ready(taken(photo("t1", 1), day(2019, 1, 1))).await;
    let new = f.ready(taken(photo("t1", 2), day(2022, 1, 1))).await;
    let (newest_waiting, _) = l.begin_photo(photo("t1", 3)).await.unwrap();
    let theirs = f.ready(photo("t2", 1)).await;
    let outside = f.ready(photo("t1", 4)).await;

    f.advance(Duration::from_secs(1));
    let add = [old.id.clone(), old.id.clone(), theirs.id.clone(), "pho_missing".into(), newest_waiting.id.clone()];
    assert_eq!(l.add_to_album("t1", &album.id, &add).await.unwrap(), Some(2), "own, existing, once");
    let after_add = l.get_album("t1", &album.id).await.unwrap().unwrap();
    assert_eq!((after_add.photo_count, after_add.cover_photo_id.as_deref()), (2, Some(&*old.id)));
    assert_eq!(after_add.updated_at, f.clock().now(), "membership changed");
    assert_eq!(l.add_to_album("t1", &album.id, std::slice::from_ref(&new.id)).await.unwrap(), Some(1));
    let cover = l.get_album("t1", &album.id).await.unwrap().unwrap().cover_photo_id;
    assert_eq!(cover.as_deref(), Some(&*new.id), "newest ready member by when it was taken");
    f.advance(Duration::from_secs(1));
    assert_eq!(l.add_to_album("t1", &album.id, &[new.id.clone(), old.id.clone()]).await.unwrap(), Some(0));
    assert_eq!(l.get_album("t1", &album.id).await.unwrap().unwrap().updated_at, after_add.updated_at, "no change");
    assert!(l.set_ready("t1", &newest_waiting.id).await.unwrap());
    let ready = l.get_album("t1", &album.id).await.unwrap().unwrap();
    assert_eq!((ready.photo_count, ready.cover_photo_id.as_deref()), (3, Some(&*newest_waiting.id)));
    assert_eq!(l.get("t1", &old.id).await.unwrap().unwrap().albums, [album.id.as_str()]);
    assert!(l.get("t1", &outside.id).await.unwrap().unwrap().albums.is_empty());
    assert_eq!(l.list_albums("t1").await.unwrap(), std::slice::from_ref(&ready));

    let remove = [newest_waiting.id.clone(), outside.id.clone(), theirs.id.clone()];
    assert_eq!(l.remove_from_album("t1", &album.id, &remove).await.unwrap(), Some(1), "members only");
    let after_remove = l.get_album("t1", &album.id).await.unwrap().unwrap();
    assert_eq!((after_remove.photo_count, after_remove.cover_photo_id.as_deref()), (2, Some(&*new.id)));
    assert_eq!(l.add_to_album("t1", "alb_missing", std::slice::from_ref(&old.id)).await.unwrap(), None);
    assert_eq!(l.remove_from_album("t1", "alb_missing", std::slice::from_ref(&old.id)).await.unwrap(), None);
    assert_eq!(l.add_to_album("t1", &album.id, &[]).await.unwrap(), Some(0));

    assert!(l.delete_album("t1", &album.id).await.unwrap());
    assert!(!l.delete_album("t1", &album.id).await.unwrap(), "already gone");
    assert_eq!(l.get_album("t1", &album.id).await.unwrap(), None);
    assert!(l.get("t1", &old.id).await.unwrap().unwrap().albums.is_empty(), "memberships went with it");
    assert_eq!(l.count_photos("t1").await.unwrap(), 4, "photos stay");
    let in_album = TimelineQuery { album: Some(album.id.clone()), ..Default::default() };
    assert!(l.timeline("t1", &in_album).await.unwrap().photos.is_empty());
    assert_eq!(l.add_to_album("t1", &album.id, std::slice::from_ref(&old.id)).await.unwrap(), None);
}
