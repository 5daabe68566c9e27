//! The one suite both catalog drivers pass: API keys (create, find, revoke, "any live
//! key") and uploads deduplicated per tenant by content hash. A driver's test file runs
//! every case with [`catalog_conformance!`](crate::catalog_conformance) and an async
//! factory returning a fresh, empty [`Fixture`] (or `None` to skip).

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tintype_db::Clock;

use crate::Catalog;
use crate::model::{NewApiKey, NewPendingUpload, NewUpload};

/// Runs every case as its own `#[tokio::test]`; `$factory` is an
/// `async fn(Clock) -> Option<Fixture>` (`None`: the backend is missing, skip).
#[macro_export]
macro_rules! catalog_conformance {
    ($factory:expr) => {
        $crate::catalog_conformance!(@cases $factory; api_keys, uploads_dedup_per_tenant, pending_uploads_and_deletes,
            rate_limits_hold_per_key_and_under_concurrency);
    };
    (@cases $factory:expr; $($case:ident),+) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(fixture) = ($factory)($crate::conformance::clock()).await {
                    $crate::conformance::$case(fixture).await;
                }
            }
        )+
    };
}

/// A fresh catalog for one case, on the manual clock it stamps rows with.
pub struct Fixture {
    /// The catalog under test.
    pub catalog: Arc<dyn Catalog>,
    clock: Clock,
    _guard: Box<dyn Any + Send + Sync>,
}

impl Fixture {
    /// Wraps a catalog; `guard` (a temp dir, a schema) is dropped when the case ends.
    pub fn new(catalog: Arc<dyn Catalog>, clock: Clock, guard: impl Any + Send + Sync) -> Self {
        Self { catalog, clock, _guard: Box::new(guard) }
    }

    /// The manual clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// The clock every case runs on: manual, at 2030-01-01T00:00:00Z.
pub fn clock() -> Clock {
    Clock::manual(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("valid start"))
}

fn key(tenant: &str, hash: &str) -> NewApiKey {
    NewApiKey {
        tenant: tenant.into(),
        plan: "free".into(),
        key_hash: hash.into(),
        label: Some(format!("{tenant} laptop")),
    }
}

/// Keys are found by hash while live; revoking hides them from lookups but not from
/// the list.
pub async fn api_keys(f: Fixture) {
    let c = &f.catalog;
    assert!(!c.has_api_keys().await.unwrap(), "no keys: open mode");
    let a = c.create_api_key(key("t1", &"a".repeat(64))).await.unwrap();
    assert!(a.id.starts_with("key_"), "id {}", a.id);
    assert_eq!((a.tenant.as_str(), a.plan.as_str()), ("t1", "free"));
    assert_eq!((a.label.as_deref(), a.created_at, a.revoked_at), (Some("t1 laptop"), f.clock().now(), None));
    f.advance(Duration::from_secs(1));
    let b = c.create_api_key(key("t2", &"b".repeat(64))).await.unwrap();
    assert!(c.has_api_keys().await.unwrap());

    assert_eq!(c.find_api_key(&a.key_hash).await.unwrap(), Some(a.clone()));
    assert_eq!(c.find_api_key(&"c".repeat(64)).await.unwrap(), None);
    assert!(c.create_api_key(key("t3", &a.key_hash)).await.is_err(), "hashes are unique");

    f.advance(Duration::from_secs(1));
    assert!(c.revoke_api_key(&a.id).await.unwrap());
    assert!(!c.revoke_api_key(&a.id).await.unwrap(), "already revoked");
    assert!(!c.revoke_api_key("key_missing").await.unwrap());
    assert_eq!(c.find_api_key(&a.key_hash).await.unwrap(), None);
    assert!(c.has_api_keys().await.unwrap(), "b is live");

    let listed = c.list_api_keys().await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), vec![a.id.as_str(), b.id.as_str()]);
    assert_eq!(listed[0].revoked_at, Some(f.clock().now()));
    assert!(c.revoke_api_key(&b.id).await.unwrap());
    assert!(c.has_api_keys().await.unwrap(), "only revoked keys left: still not open");
}

fn upload(tenant: &str, sha256: &str) -> NewUpload {
    NewUpload {
        id: None,
        tenant: tenant.into(),
        sha256: sha256.into(),
        bytes: 5_000_000_000,
        content_type: "image/jpeg".into(),
        filename: Some("IMG_0001.JPG".into()),
        blob_key: format!("uploads/{tenant}/{sha256}"),
    }
}

/// The same content uploaded twice by a tenant is one upload; another tenant's copy is
/// its own.
pub async fn uploads_dedup_per_tenant(f: Fixture) {
    let c = &f.catalog;
    let sha = "d".repeat(64);
    let (first, created) = c.insert_upload(upload("t1", &sha)).await.unwrap();
    assert!(created);
    assert!(first.id.starts_with("upl_"), "id {}", first.id);
    assert_eq!((first.bytes, first.created_at), (5_000_000_000, f.clock().now()));
    assert_eq!(first.filename.as_deref(), Some("IMG_0001.JPG"));

    f.advance(Duration::from_secs(1));
    let (again, created) = c.insert_upload(upload("t1", &sha)).await.unwrap();
    assert!(!created);
    assert_eq!(again, first);

    let (other, created) = c.insert_upload(upload("t2", &sha)).await.unwrap();
    assert!(created);
    assert_ne!(other.id, first.id);

    assert_eq!(c.get_upload("t1", &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(c.get_upload("t2", &first.id).await.unwrap(), None, "tenant-scoped");
    assert_eq!(c.find_upload_by_sha256("t2", &sha).await.unwrap(), Some(other));
    assert_eq!(c.find_upload_by_sha256("t3", &sha).await.unwrap(), None);
    // What the storage quota counts: the tenant's uploads, each once.
    assert!(f.catalog.upload_bytes("nobody").await.unwrap() == 0);
    let before = f.catalog.upload_bytes("t1").await.unwrap();
    f.catalog.insert_upload(NewUpload { bytes: 7, ..upload("t1", &"e".repeat(64)) }).await.unwrap();
    f.catalog.insert_upload(NewUpload { bytes: 7, ..upload("t1", &"e".repeat(64)) }).await.unwrap();
    assert_eq!(f.catalog.upload_bytes("t1").await.unwrap(), before + 7, "a duplicate is not counted twice");
}

/// A presigned upload is pending until confirmed under its own id; pending rows expire;
/// an upload can be deleted by its tenant only.
pub async fn pending_uploads_and_deletes(f: Fixture) {
    let c = &f.catalog;
    let sha = "e".repeat(64);
    let expires_at = f.clock().now() + chrono::Duration::minutes(15);
    let new_pending = NewPendingUpload {
        tenant: "t1".into(),
        sha256: sha.clone(),
        bytes: 1234,
        content_type: "image/heic".into(),
        filename: Some("IMG_0002.HEIC".into()),
        blob_key: format!("t/t1/uploads/{sha}"),
        expires_at,
    };
    let pending = c.create_pending_upload(new_pending.clone()).await.unwrap();
    assert!(pending.id.starts_with("upl_"), "id {}", pending.id);
    assert_eq!((pending.bytes, pending.expires_at, pending.created_at), (1234, expires_at, f.clock().now()));
    assert_eq!(c.get_pending_upload(&pending.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(c.get_pending_upload("upl_missing").await.unwrap(), None);

    // Confirming files it under the same id.
    let mut new = upload("t1", &sha);
    new.id = Some(pending.id.clone());
    let (filed, created) = c.insert_upload(new).await.unwrap();
    assert!(created);
    assert_eq!(filed.id, pending.id);

    // Expiry: nothing purged before, the row returned and gone after, at most `limit` at a
    // time, oldest first.
    assert_eq!(c.purge_pending_uploads(f.clock().now(), 10).await.unwrap(), []);
    f.advance(Duration::from_secs(60));
    let later = c
        .create_pending_upload(NewPendingUpload {
            expires_at: f.clock().now() + chrono::Duration::minutes(15),
            ..new_pending
        })
        .await
        .unwrap();
    f.advance(Duration::from_secs(20 * 60));
    assert_eq!(c.purge_pending_uploads(f.clock().now(), 1).await.unwrap(), std::slice::from_ref(&pending));
    assert_eq!(c.get_pending_upload(&pending.id).await.unwrap(), None);
    assert_eq!(c.purge_pending_uploads(f.clock().now(), 10).await.unwrap(), [later]);
    assert_eq!(c.purge_pending_uploads(f.clock().now(), 10).await.unwrap(), []);

    // Deletes are tenant-scoped.
    assert_eq!(c.delete_upload("t2", &filed.id).await.unwrap(), None, "another tenant cannot delete it");
    assert_eq!(c.delete_upload("t1", &filed.id).await.unwrap(), Some(filed.clone()));
    assert_eq!(c.get_upload("t1", &filed.id).await.unwrap(), None);
    assert_eq!(c.delete_upload("t1", &filed.id).await.unwrap(), None, "already gone");
    // The content can be uploaded again afterwards, as a new upload.
    let (again, created) = c.insert_upload(upload("t1", &sha)).await.unwrap();
    assert!(created);
    assert_ne!(again.id, filed.id);
}

/// A rate limit lets its burst through, then one per interval by the clock; keys are
/// apart; concurrent requests of one key get exactly the burst between them.
pub async fn rate_limits_hold_per_key_and_under_concurrency(f: Fixture) {
    let rate = tintype_plans::Rate { requests: 3, per_secs: 60 };
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(f.catalog.take_rate("key_a:jobs", rate).await.unwrap());
    }
    assert_eq!(seen.iter().map(|d| d.allowed).collect::<Vec<_>>(), [true, true, true, false]);
    assert_eq!((seen[2].remaining, seen[3].retry_after_secs), (0, 20));
    assert!(f.catalog.take_rate("key_b:jobs", rate).await.unwrap().allowed, "another key has its own");
    assert!(f.catalog.take_rate("key_a:uploads", rate).await.unwrap().allowed, "another class too");
    f.advance(Duration::from_secs(20));
    assert!(f.catalog.take_rate("key_a:jobs", rate).await.unwrap().allowed, "one back after 20 s");
    assert!(!f.catalog.take_rate("key_a:jobs", rate).await.unwrap().allowed);

    let tries = (0..24).map(|_| {
        let catalog = f.catalog.clone();
        tokio::spawn(async move { catalog.take_rate("key_c:jobs", rate).await.unwrap().allowed })
    });
    let mut allowed = 0;
    for t in tries {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 3, "exactly the burst");
}
