//! [`LocalStore`] against the shared conformance suite, plus what only a directory backend
//! can get wrong: keys escaping the root, leftovers of interrupted writes in `.tmp`, stale
//! temp file cleanup, empty directory pruning and the on-disk layout.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use futures::future::Either;
use tintype_blobs::{BlobError, BlobKey, BlobStore, ByteStream, LocalStore, PutOptions, bytes_stream, read_all};

async fn make() -> (Arc<dyn BlobStore>, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path()).expect("open");
    (Arc::new(store), Box::new(dir))
}

mod conformance {
    tintype_blobs::blob_conformance!(super::make);
}

/// A store at `<tempdir>/store`, so the test can watch the directory around it.
fn nested_store() -> (tempfile::TempDir, LocalStore) {
    let outer = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(outer.path().join("store")).expect("open");
    (outer, store)
}

/// Every path under `dir`, relative and sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
        }
    }
    out.sort();
    out
}

fn tmp_files(store: &LocalStore) -> Vec<PathBuf> {
    tree(&store.root().join(".tmp"))
}

fn key(s: &str) -> BlobKey {
    BlobKey::new(s).expect("valid key")
}

#[tokio::test]
async fn escaping_keys_are_refused_before_touching_disk() {
    let (outer, store) = nested_store();
    let before = tree(outer.path());
    let escapes = ["../x", "/etc/passwd", "a/../../x", "..", "../store2/x", "a\0b", ".tmp/x", "a\\..\\..\\x"];
    for input in escapes {
        // put, get, head, delete and rename all take a `BlobKey`: an escaping one cannot exist.
        assert!(matches!(BlobKey::new(input), Err(BlobError::InvalidKey(_))), "{input:?}");
        let prefix = format!("{input}/");
        assert!(matches!(store.list(&prefix).await, Err(BlobError::InvalidKey(_))), "list {prefix:?}");
    }
    for prefix in ["../", "/", "/etc", "a/../../", "a//"] {
        assert!(matches!(store.list(prefix).await, Err(BlobError::InvalidKey(_))), "list {prefix:?}");
    }
    assert!(matches!(store.delete_prefix("../").await, Err(BlobError::InvalidKey(_))));
    assert_eq!(tree(outer.path()), before, "something was created around the root");
}

#[tokio::test]
async fn keys_map_to_files_under_the_root() {
    let (outer, store) = nested_store();
    let k = key("t/acme/uploads/abc");
    store.put(&k, bytes_stream("data"), PutOptions::default()).await.expect("put");
    let path = store.root().join("t").join("acme").join("uploads").join("abc");
    assert_eq!(std::fs::read(&path).expect("file"), b"data");
    let around: Vec<PathBuf> = tree(outer.path()).into_iter().filter(|p| !p.starts_with("store")).collect();
    assert!(around.is_empty(), "{around:?}");
}

/// A body that yields one chunk, then `tail` (an error, or never anything).
fn body_then(tail: impl futures::Future<Output = std::io::Result<Bytes>> + Send + 'static) -> ByteStream {
    let first = futures::stream::once(async { Ok(Bytes::from(vec![7u8; 100_000])) });
    Box::pin(first.chain(futures::stream::once(tail)))
}

#[tokio::test]
async fn interrupted_write_leaves_no_file_and_no_temp_file() {
    let (outer, store) = nested_store();
    let before = tree(outer.path());
    let k = key("t/acme/jobs/job_1/out.zip");
    let failing = body_then(async { Err(std::io::Error::other("disk on the client side caught fire")) });
    let err = store.put(&k, failing, PutOptions::default()).await.unwrap_err();
    assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    assert_eq!(tree(outer.path()), before, "a failed put left something behind");

    // A put dropped mid-stream (client disconnect, timeout) cleans up too.
    let (started, waiting) = futures::channel::oneshot::channel();
    let stalled = body_then(async move {
        let _ = started.send(());
        futures::future::pending().await
    });
    let put = Box::pin(store.put(&k, stalled, PutOptions::default()));
    let Either::Right((_, put)) = futures::future::select(put, waiting).await else {
        panic!("a stalled put finished");
    };
    assert_eq!(tmp_files(&store).len(), 1, "the put writes to a temp file");
    drop(put);
    assert_eq!(tree(outer.path()), before, "a cancelled put left something behind");
    assert!(matches!(store.head(&k).await, Err(BlobError::NotFound)));
}

#[tokio::test]
async fn cleanup_incomplete_removes_only_old_temp_files() {
    let (_outer, store) = nested_store();
    let tmp = store.root().join(".tmp");
    let week = Duration::from_secs(7 * 24 * 3600);
    let cases = [("old", Some(week + Duration::from_secs(3600))), ("ancient", Some(week * 10)), ("fresh", None)];
    for (name, age) in cases {
        let file = std::fs::File::create(tmp.join(name)).expect("create");
        if let Some(age) = age {
            file.set_modified(SystemTime::now() - age).expect("set_modified");
        }
    }
    let k = key("t/a/blob");
    store.put(&k, bytes_stream("x"), PutOptions::default()).await.expect("put");

    assert_eq!(store.cleanup_incomplete(week).await.expect("cleanup"), 2);
    assert_eq!(tmp_files(&store), vec![PathBuf::from("fresh")]);
    assert_eq!(store.cleanup_incomplete(week).await.expect("cleanup"), 0);
    assert_eq!(store.cleanup_incomplete(Duration::ZERO).await.expect("cleanup"), 1);
    assert!(tmp_files(&store).is_empty());
    assert_eq!(read_all(&store, &k).await.expect("read"), b"x");
}

#[tokio::test]
async fn deletes_and_renames_prune_empty_directories() {
    let (_outer, store) = nested_store();
    let put = |k: &'static str| {
        let store = store.clone();
        async move { store.put(&key(k), bytes_stream(k), PutOptions::default()).await.expect("put") }
    };
    put("t/a/jobs/j1/c").await;
    put("t/a/uploads/d").await;
    store.delete(&key("t/a/jobs/j1/c")).await.expect("delete");
    assert!(!store.root().join("t/a/jobs/j1").exists(), "a job's folder goes");
    assert!(store.root().join("t/a/jobs").is_dir(), "the area stays: writers there never race a prune");
    assert!(store.root().join("t/a/uploads/d").is_file());
    store.rename(&key("t/a/uploads/d"), &key("x/y/z")).await.expect("rename");
    assert_eq!(
        tree(store.root()),
        [".tmp", "t", "t/a", "t/a/jobs", "t/a/uploads", "x", "x/y", "x/y/z"].map(PathBuf::from)
    );
    store.delete(&key("x/y/z")).await.expect("delete");
    assert_eq!(tree(store.root()), [".tmp", "t", "t/a", "t/a/jobs", "t/a/uploads"].map(PathBuf::from));
    store.ping().await.expect("the root and .tmp survive pruning");
}

#[cfg(unix)]
#[tokio::test]
async fn files_and_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_outer, store) = nested_store();
    store.put(&key("t/a/uploads/x"), bytes_stream("x"), PutOptions::default()).await.expect("put");
    let mode = |p: &str| std::fs::metadata(store.root().join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("t/a/uploads/x"), 0o600);
    for dir in [".tmp", "t", "t/a", "t/a/uploads"] {
        assert_eq!(mode(dir), 0o700, "{dir}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_puts_renames_and_deletes_in_one_area_all_succeed() {
    let (_outer, store) = nested_store();
    // The upload route's moves: into the tenant's tmp area, then to the final key or away
    // (a delete used to prune the area under a put racing it).
    let work = (0..400).map(|i| {
        let store = store.clone();
        async move {
            let tmp = key(&format!("t/a/tmp/{i}"));
            store.put(&tmp, bytes_stream("x"), PutOptions::default()).await?;
            if i % 2 == 0 {
                store.rename(&tmp, &key(&format!("t/a/uploads/{i}"))).await
            } else {
                store.delete(&tmp).await
            }
        }
    });
    let work: Vec<_> = work.map(tokio::spawn).collect();
    for result in futures::future::join_all(work).await {
        let result = result.expect("no panic");
        result.expect("no operation races another");
    }
    assert_eq!(store.list("t/a/uploads/").await.unwrap().len(), 200);
    assert!(store.list("t/a/tmp/").await.unwrap().is_empty());
}

#[tokio::test]
async fn list_ignores_temp_and_foreign_files() {
    let (_outer, store) = nested_store();
    store.put(&key("t/a"), bytes_stream("a"), PutOptions::default()).await.expect("put");
    std::fs::write(store.root().join(".tmp/partial"), "p").expect("write");
    std::fs::write(store.root().join("t/.hidden"), "h").expect("write");
    std::fs::create_dir_all(store.root().join("t/.git/objects")).expect("mkdir");
    std::fs::write(store.root().join("t/.git/objects/x"), "g").expect("write");
    let keys: Vec<String> = store.list("").await.expect("list").into_iter().map(|m| m.key.to_string()).collect();
    assert_eq!(keys, ["t/a"]);
}

#[tokio::test]
async fn ping_fails_when_the_root_is_gone() {
    let (outer, store) = nested_store();
    store.ping().await.expect("ping");
    std::fs::remove_dir_all(store.root()).expect("rm");
    assert!(matches!(store.ping().await, Err(BlobError::Io(_))));
    drop(outer);
}
