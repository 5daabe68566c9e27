//! The conformance suite every [`BlobStore`] backend must pass: one `pub async fn` per
//! behaviour, each taking `&dyn BlobStore` and panicking on a violation, and
//! [`blob_conformance!`](crate::blob_conformance) to turn them all into `#[test]`s for one
//! backend. Each function works under its own random key prefix, so backends that share a
//! bucket between tests (S3) can run it too. A backend change that does not extend this
//! suite is unfinished.
//!
//! ```
//! # use std::{any::Any, sync::Arc};
//! # use tintype_blobs::{BlobStore, LocalStore};
//! async fn make() -> (Arc<dyn BlobStore>, Box<dyn Any + Send>) {
//!     let dir = tempfile::tempdir().unwrap();
//!     (Arc::new(LocalStore::open(dir.path()).unwrap()), Box::new(dir))
//! }
//! tintype_blobs::blob_conformance!(make);
//! # fn main() {}
//! ```

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{BlobError, BlobKey, BlobStore, ByteRange, ByteStream, PutOptions, bytes_stream, read_all};

/// Expands to one `#[test]` per conformance function. `$make` is an expression callable
/// with no arguments that returns a future of `(Arc<dyn BlobStore>, guard)`: the guard (a
/// temp dir, a bucket cleaner, `Box<dyn Any + Send>`) is kept alive until the test ends.
/// The tests run on their own tokio runtime, so the calling crate needs no tokio setup.
///
/// `skip = [name, …]` leaves named checks out (each still appears as a test that says
/// SKIPPED): only for a test server's known gap, with the reason written where it is used.
#[macro_export]
macro_rules! blob_conformance {
    ($make:expr $(, skip = [$($skip:ident),* $(,)?])?) => {
        $crate::blob_conformance!(@tests $make; [$($(stringify!($skip)),*)?];
            put_then_get_roundtrip, put_replaces_atomically, failed_body_leaves_nothing,
            ranged_get, empty_blob, head_and_etag_change_on_rewrite, delete_is_idempotent,
            list_by_prefix, delete_prefix_counts, rename_moves, concurrent_renames_from_one_folder,
            large_streamed_put,
            missing_is_not_found, directory_is_no_blob, cleanup_and_ping_keep_blobs);
    };
    (@tests $make:expr; $skip:tt; $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                let skip: &[&str] = &$skip;
                if skip.contains(&stringify!($name)) {
                    eprintln!("SKIPPED {}: excluded for this backend", stringify!($name));
                    return;
                }
                $crate::conformance::block_on(async {
                    let (store, _guard) = ($make)().await;
                    $crate::conformance::$name(&*store).await;
                });
            }
        )+
    };
}

/// Runs one test future on a fresh current-thread runtime (used by the macro).
#[doc(hidden)]
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(future)
}

/// A fresh key prefix, so concurrent runs against one bucket never meet.
fn base() -> String {
    format!("conformance/{}", uuid::Uuid::new_v4().simple())
}

fn key(s: &str) -> BlobKey {
    BlobKey::new(s).expect("valid test key")
}

async fn put(store: &dyn BlobStore, k: &BlobKey, data: impl Into<Bytes>) -> crate::BlobMeta {
    store.put(k, bytes_stream(data), PutOptions::default()).await.expect("put")
}

async fn read(store: &dyn BlobStore, k: &BlobKey) -> Vec<u8> {
    read_all(store, k).await.expect("read")
}

async fn keys(store: &dyn BlobStore, prefix: &str) -> Vec<String> {
    let metas = store.list(prefix).await.expect("list");
    metas.into_iter().map(|m| m.key.as_str().to_owned()).collect()
}

/// A body of `chunks` chunks that fails with an I/O error instead of ending.
fn failing_body(chunks: usize) -> ByteStream {
    let ok = (0..chunks).map(|i| Ok(Bytes::from(vec![i as u8; 1000])));
    let err = std::iter::once(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away")));
    Box::pin(futures::stream::iter(ok.chain(err)))
}

/// What was put comes back, with the right metadata, from get, head and list.
pub async fn put_then_get_roundtrip(store: &dyn BlobStore) {
    let k = key(&format!("{}/t/acme/uploads/photo été.jpg", base()));
    let data = b"hello, blob".to_vec();
    let meta = put(store, &k, data.clone()).await;
    assert_eq!((&meta.key, meta.size), (&k, data.len() as u64));
    let got = store.get(&k, None).await.expect("get");
    assert_eq!(got.meta, meta);
    assert_eq!(got.range, ByteRange { start: 0, end: data.len() as u64 - 1 });
    assert_eq!(read(store, &k).await, data);
    assert_eq!(store.head(&k).await.expect("head"), meta);
    assert_eq!(store.list(k.as_str()).await.expect("list"), vec![meta]);
}

/// A put replaces the old blob whole: sequential puts, concurrent readers that only ever
/// see one complete version, and a read already open keeps its version.
pub async fn put_replaces_atomically(store: &dyn BlobStore) {
    let k = key(&format!("{}/replaced", base()));
    let (a, b) = (vec![b'a'; 1000], vec![b'b'; 300_000]);
    put(store, &k, a.clone()).await;
    put(store, &k, b.clone()).await;
    assert_eq!(read(store, &k).await, b);

    let writer = async {
        for i in 0..20 {
            put(store, &k, if i % 2 == 0 { a.clone() } else { b.clone() }).await;
        }
    };
    let reader = async {
        for _ in 0..40 {
            let got = read(store, &k).await;
            assert!(got == a || got == b, "torn read of {} bytes", got.len());
            tokio::task::yield_now().await;
        }
    };
    futures::join!(writer, reader);

    put(store, &k, a.clone()).await;
    let open = store.get(&k, None).await.expect("get");
    put(store, &k, b.clone()).await;
    let old: Vec<Bytes> = open.body.try_collect().await.expect("old body");
    assert_eq!(old.concat(), a, "an open read switched versions");
}

/// A body that fails mid-way is `BlobError::Body` and leaves nothing: no new blob, no
/// listing, and an existing blob under the key unchanged.
pub async fn failed_body_leaves_nothing(store: &dyn BlobStore) {
    let base = base();
    let fresh = key(&format!("{base}/fresh"));
    let err = store.put(&fresh, failing_body(3), PutOptions::default()).await.unwrap_err();
    assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    assert!(matches!(store.head(&fresh).await, Err(BlobError::NotFound)));
    assert!(matches!(store.get(&fresh, None).await, Err(BlobError::NotFound)));
    assert_eq!(keys(store, &format!("{base}/")).await, Vec::<String>::new());

    let existing = key(&format!("{base}/existing"));
    let before = put(store, &existing, "keep me").await;
    let err = store.put(&existing, failing_body(0), PutOptions::default()).await.unwrap_err();
    assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    let err = store.put(&existing, failing_body(100), PutOptions::default()).await.unwrap_err();
    assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    assert_eq!(read(store, &existing).await, b"keep me");
    assert_eq!(store.head(&existing).await.expect("head"), before);
    assert_eq!(keys(store, &format!("{base}/")).await, vec![existing.to_string()]);
}

/// Ranges: exact, open-ended, clamped end; a start past the end (or after `end`) is
/// `RangeNotSatisfiable`.
pub async fn ranged_get(store: &dyn BlobStore) {
    let k = key(&format!("{}/ranged", base()));
    let data: Vec<u8> = (0..100u8).collect();
    put(store, &k, data.clone()).await;
    // (requested range, the range served or `None` for RangeNotSatisfiable)
    type Case = ((u64, Option<u64>), Option<(u64, u64)>);
    let cases: &[Case] = &[
        ((0, Some(0)), Some((0, 0))),
        ((10, Some(19)), Some((10, 19))),
        ((0, Some(99)), Some((0, 99))),
        ((99, Some(99)), Some((99, 99))),
        ((0, None), Some((0, 99))),
        ((90, None), Some((90, 99))),
        ((50, Some(1000)), Some((50, 99))),
        ((50, Some(u64::MAX)), Some((50, 99))),
        ((100, None), None),
        ((100, Some(200)), None),
        ((u64::MAX, None), None),
        ((20, Some(10)), None),
    ];
    for &(requested, want) in cases {
        match (store.get(&k, Some(requested)).await, want) {
            (Ok(got), Some((start, end))) => {
                assert_eq!(got.range, ByteRange { start, end }, "{requested:?}");
                assert_eq!(got.meta.size, 100, "{requested:?}");
                let body: Vec<Bytes> = got.body.try_collect().await.expect("body");
                assert_eq!(body.concat(), &data[start as usize..=end as usize], "{requested:?}");
            }
            (Err(BlobError::RangeNotSatisfiable), None) => {}
            (got, want) => panic!("get {requested:?}: got {got:?}, want {want:?}"),
        }
    }
}

/// An empty blob: size 0, range `0..=0` with an empty body when no range is asked, and
/// every range unsatisfiable.
pub async fn empty_blob(store: &dyn BlobStore) {
    let k = key(&format!("{}/empty", base()));
    let meta = put(store, &k, Bytes::new()).await;
    assert_eq!(meta.size, 0);
    let got = store.get(&k, None).await.expect("get");
    assert_eq!((got.meta.size, got.range), (0, ByteRange { start: 0, end: 0 }));
    let body: Vec<Bytes> = got.body.try_collect().await.expect("body");
    assert!(body.concat().is_empty());
    assert!(matches!(store.get(&k, Some((0, None))).await, Err(BlobError::RangeNotSatisfiable)));
    assert_eq!(store.head(&k).await.expect("head").size, 0);
}

/// ETags are quoted, stable while the content is, and change on every rewrite (even to the
/// same size, immediately).
pub async fn head_and_etag_change_on_rewrite(store: &dyn BlobStore) {
    let k = key(&format!("{}/etag", base()));
    let first = put(store, &k, "version 1").await;
    assert!(first.etag.len() > 2 && first.etag.starts_with('"') && first.etag.ends_with('"'), "{}", first.etag);
    let head = store.head(&k).await.expect("head");
    assert_eq!(head, first);
    assert_eq!(store.head(&k).await.expect("head").etag, first.etag);
    assert_eq!(store.get(&k, Some((1, Some(2)))).await.expect("get").meta.etag, first.etag);
    assert_eq!(store.list(k.as_str()).await.expect("list")[0].etag, first.etag);

    let mut seen = vec![first.etag];
    for i in 2..6 {
        let meta = put(store, &k, format!("version {i}")).await;
        assert_eq!(store.head(&k).await.expect("head"), meta);
        assert!(!seen.contains(&meta.etag), "etag {} reused after a rewrite", meta.etag);
        seen.push(meta.etag);
    }
}

/// Deleting removes the blob; deleting a missing one (twice) is fine.
pub async fn delete_is_idempotent(store: &dyn BlobStore) {
    let base = base();
    let k = key(&format!("{base}/a/b/c"));
    store.delete(&k).await.expect("delete missing");
    put(store, &k, "x").await;
    store.delete(&k).await.expect("delete");
    assert!(matches!(store.head(&k).await, Err(BlobError::NotFound)));
    store.delete(&k).await.expect("delete again");
    assert_eq!(keys(store, &format!("{base}/")).await, Vec::<String>::new());
    put(store, &k, "again").await;
    assert_eq!(read(store, &k).await, b"again");
}

/// `list` is by key prefix, sorted by key, with sizes: `t/a/` excludes `t/a2/…`, `t/a`
/// includes it.
pub async fn list_by_prefix(store: &dyn BlobStore) {
    let base = base();
    let names = ["t/a/1", "t/a/sub/2", "t/a2/3", "t/b", "t/a/0 last"];
    for (i, name) in names.iter().enumerate() {
        put(store, &key(&format!("{base}/{name}")), vec![0u8; i]).await;
    }
    let cases: &[(&str, &[&str])] = &[
        ("t/a/", &["t/a/0 last", "t/a/1", "t/a/sub/2"]),
        ("t/a", &["t/a/0 last", "t/a/1", "t/a/sub/2", "t/a2/3"]),
        ("t/a/s", &["t/a/sub/2"]),
        ("t/a/sub/2", &["t/a/sub/2"]),
        ("t/", &["t/a/0 last", "t/a/1", "t/a/sub/2", "t/a2/3", "t/b"]),
        ("t/c/", &[]),
        ("nothing/", &[]),
    ];
    for (prefix, want) in cases {
        let want: Vec<String> = want.iter().map(|w| format!("{base}/{w}")).collect();
        assert_eq!(keys(store, &format!("{base}/{prefix}")).await, want, "prefix {prefix:?}");
    }
    let metas = store.list(&format!("{base}/t/a2/")).await.expect("list");
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0], store.head(&metas[0].key).await.expect("head"));
    assert_eq!(metas[0].size, 2);
    assert!(matches!(store.list("../").await, Err(BlobError::InvalidKey(_))));
}

/// `delete_prefix` removes exactly the blobs `list` returns for that prefix.
pub async fn delete_prefix_counts(store: &dyn BlobStore) {
    let base = base();
    for name in ["j/1/a", "j/1/b/c", "j/10/a"] {
        put(store, &key(&format!("{base}/{name}")), "x").await;
    }
    assert_eq!(store.delete_prefix(&format!("{base}/j/1/")).await.expect("delete_prefix"), 2);
    assert_eq!(keys(store, &format!("{base}/")).await, vec![format!("{base}/j/10/a")]);
    assert_eq!(store.delete_prefix(&format!("{base}/j/1/")).await.expect("delete_prefix"), 0);
}

/// `rename` moves content to a new key (into new directories, over an existing blob);
/// renaming a missing blob is `NotFound`.
pub async fn rename_moves(store: &dyn BlobStore) {
    let base = base();
    let (a, b, c) = (key(&format!("{base}/a")), key(&format!("{base}/x/y/b")), key(&format!("{base}/c")));
    put(store, &a, "content a").await;
    store.rename(&a, &b).await.expect("rename");
    assert!(matches!(store.head(&a).await, Err(BlobError::NotFound)));
    assert_eq!(read(store, &b).await, b"content a");

    put(store, &c, "content c").await;
    store.rename(&c, &b).await.expect("rename over");
    assert_eq!(read(store, &b).await, b"content c");
    assert_eq!(keys(store, &format!("{base}/")).await, vec![b.to_string()]);
    assert!(matches!(store.rename(&a, &c).await, Err(BlobError::NotFound)));
}

/// Many writers putting into one folder and renaming out of it at once (uploads: a temp
/// key, then the content key) all succeed, though each rename may empty the folder.
pub async fn concurrent_renames_from_one_folder(store: &dyn BlobStore) {
    let base = base();
    let moves = (0..24).map(|i| {
        let (tmp, done) = (key(&format!("{base}/tmp/{i}")), key(&format!("{base}/done/{i}")));
        async move {
            put(store, &tmp, format!("content {i}")).await;
            store.rename(&tmp, &done).await.map(|()| done)
        }
    });
    for (i, moved) in futures::future::join_all(moves).await.into_iter().enumerate() {
        let done = moved.unwrap_or_else(|e| panic!("rename {i}: {e}"));
        assert_eq!(read(store, &done).await, format!("content {i}").into_bytes());
    }
    assert!(keys(store, &format!("{base}/tmp/")).await.is_empty());
}

/// 20 MiB streamed in 64 KiB chunks generated on the fly comes back byte for byte.
pub async fn large_streamed_put(store: &dyn BlobStore) {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 320;
    let chunk = |i: usize| -> Bytes {
        let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut buf = vec![0u8; CHUNK];
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        Bytes::from(buf)
    };
    let mut want = Sha256::new();
    (0..CHUNKS).for_each(|i| want.update(chunk(i)));
    let body: ByteStream = Box::pin(futures::stream::iter(0..CHUNKS).map(move |i| Ok(chunk(i))));

    let k = key(&format!("{}/large.bin", base()));
    let meta = store.put(&k, body, PutOptions::default()).await.expect("put");
    assert_eq!(meta.size, (CHUNK * CHUNKS) as u64);
    let got = store.get(&k, None).await.expect("get");
    let mut body = got.body;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    while let Some(part) = body.try_next().await.expect("read") {
        size += part.len() as u64;
        hash.update(&part);
    }
    assert_eq!(size, meta.size);
    assert_eq!(hash.finalize(), want.finalize());
}

/// Every read of a missing key is `NotFound`, including under a blob used as a directory.
pub async fn missing_is_not_found(store: &dyn BlobStore) {
    let base = base();
    let file = key(&format!("{base}/file"));
    put(store, &file, "x").await;
    for k in [format!("{base}/nope"), format!("{base}/dir/nope"), format!("{base}/file/below")] {
        let k = key(&k);
        assert!(matches!(store.get(&k, None).await, Err(BlobError::NotFound)), "get {k}");
        assert!(matches!(store.get(&k, Some((0, Some(1)))).await, Err(BlobError::NotFound)), "range {k}");
        assert!(matches!(store.head(&k).await, Err(BlobError::NotFound)), "head {k}");
        assert!(matches!(store.rename(&k, &key(&format!("{base}/to"))).await, Err(BlobError::NotFound)), "rename {k}");
        store.delete(&k).await.expect("delete missing");
    }
}

/// A key that is only a prefix of other keys (a "directory") is no blob.
pub async fn directory_is_no_blob(store: &dyn BlobStore) {
    let base = base();
    let dir_key = key(&format!("{base}/d/inner"));
    put(store, &dir_key, "y").await;
    let d = key(&format!("{base}/d"));
    assert!(matches!(store.head(&d).await, Err(BlobError::NotFound)), "a 'directory' is no blob");
    assert!(matches!(store.get(&d, None).await, Err(BlobError::NotFound)));
}

/// `ping` works, and `cleanup_incomplete` never touches committed blobs.
pub async fn cleanup_and_ping_keep_blobs(store: &dyn BlobStore) {
    store.ping().await.expect("ping");
    let k = key(&format!("{}/kept", base()));
    put(store, &k, "kept").await;
    // Never ZERO here: on a shared bucket that would abort other tests' uploads in flight.
    store.cleanup_incomplete(Duration::from_secs(3600)).await.expect("cleanup");
    assert_eq!(read(store, &k).await, b"kept");
}
