//! The local directory backend, [`LocalStore`]: one file per blob at `root/<key>`. Writes
//! stream into `root/.tmp/<uuid>`, are fsynced, renamed into place and the directory
//! fsynced, so a reader sees the old blob or the new one, never part of one. Deletes and
//! renames prune directories they leave empty, so the tree does not grow without bound,
//! except the layout's fixed levels (`t/<tenant>/<area>`, see [`crate::layout`]): those
//! are made once and kept, so writers in one area never race a prune of it (fifty
//! concurrent uploads of one tenant used to fail that way).
//!
//! Everything is private to the server's user: directories 0700, files 0600.
//!
//! A put streams its chunks to one blocking writer thread (a plain file, no async file's
//! copy and thread hop per write), which fsyncs at the end.
//!
//! ETags are `"<size>-<mtime ns>-<inode>"` in hex, from metadata alone (nothing re-hashed,
//! no sidecar to get out of step). A put stamps its file's mtime from the precise clock
//! (the kernel's is coarse) and writes a new inode, so a rewrite changes the ETag even at
//! the same size a moment later.

use std::io::{self, ErrorKind, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::key::validate_prefix;
use crate::{BlobError, BlobKey, BlobMeta, BlobStore, ByteRange, ByteStream, GetResult, PutOptions};

/// Read and write buffer size.
const CHUNK: usize = 256 * 1024;
/// Chunks queued for a put's writer thread.
const WRITE_QUEUE: usize = 4;
/// Directory levels below the root that are never pruned: `t/<tenant>/<area>`.
const KEPT_LEVELS: usize = 3;
/// Mode of directories the store makes.
const DIR_MODE: u32 = 0o700;
/// Mode of files the store makes.
const FILE_MODE: u32 = 0o600;
/// Name of the temp directory under the root (keys cannot start a segment with `.`).
const TMP_DIR: &str = ".tmp";
/// How often a move into place is retried when a concurrent delete prunes its parent.
const MOVE_ATTEMPTS: u32 = 5;

/// Blobs as files under one root directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalStore {
    /// Opens (creating if needed) a store rooted at `root`, with its `root/.tmp`.
    pub fn open(root: impl AsRef<Path>) -> Result<LocalStore, BlobError> {
        let root = root.as_ref().to_path_buf();
        let tmp = root.join(TMP_DIR);
        private_dirs().create(&tmp)?;
        Ok(LocalStore { root, tmp })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `key` lives. Key validation guarantees this stays under the root.
    pub fn path_of(&self, key: &BlobKey) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(key.segments());
        debug_assert!(path.starts_with(&self.root) && path != self.root, "{key} escapes the root");
        path
    }

    /// Renames `from` to `to`, creating `to`'s parents, retrying when a concurrent delete
    /// prunes them in between, then fsyncs the parent.
    async fn move_into_place(&self, from: &Path, to: &Path) -> io::Result<()> {
        let parent = to.parent().expect("blob paths lie below the root");
        let mut attempt = 1;
        loop {
            let moved = match private_dirs_async().create(parent).await {
                Ok(()) => fs::rename(from, to).await,
                Err(e) => Err(e),
            };
            match moved {
                Err(e) if e.kind() == ErrorKind::NotFound && attempt < MOVE_ATTEMPTS => {
                    if fs::symlink_metadata(from).await.is_err() {
                        return Err(e);
                    }
                    attempt += 1;
                }
                other => break other?,
            }
        }
        sync_dir(parent).await
    }

    /// Removes the directories above `path` that are now empty, up to the root (best effort:
    /// stops at the first that is not empty or cannot be removed).
    async fn prune_empty_parents(&self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if self.is_kept(d) || fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    /// The root, anything outside it, and the layout's fixed levels under `t/`.
    fn is_kept(&self, dir: &Path) -> bool {
        let Ok(rel) = dir.strip_prefix(&self.root) else { return true };
        match rel.components().next() {
            None => true,
            Some(first) => first.as_os_str() == "t" && rel.components().count() <= KEPT_LEVELS,
        }
    }
}

#[async_trait]
impl BlobStore for LocalStore {
    async fn put(&self, key: &BlobKey, mut body: ByteStream, _opts: PutOptions) -> Result<BlobMeta, BlobError> {
        let temp = TempFile(Some(self.tmp.join(uuid::Uuid::new_v4().simple().to_string())));
        let temp_path = temp.path();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE);
        let abort = Arc::new(AtomicBool::new(false));
        let aborted = abort.clone();
        let file = fs::OpenOptions::from(private_file()).open(temp_path).await?.into_std().await;
        let writer = tokio::task::spawn_blocking(move || -> io::Result<Option<std::fs::Metadata>> {
            let mut out = io::BufWriter::with_capacity(CHUNK, file);
            while let Some(chunk) = rx.blocking_recv() {
                out.write_all(&chunk)?;
            }
            if aborted.load(Ordering::Acquire) {
                return Ok(None);
            }
            let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
            // The kernel stamps mtime from a coarse clock; a precise one keeps ETags apart.
            file.set_modified(SystemTime::now())?;
            file.sync_all()?;
            file.metadata().map(Some)
        });
        // Dropped before the end (an error, or this future cancelled): the writer skips
        // the fsync of what will be deleted.
        let abort_on_drop = AbortOnDrop(Some(abort));
        let mut failed = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                // A send fails only when the writer stopped: its error says why.
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(BlobError::Body(e));
                    break;
                }
            }
        }
        match failed {
            None => abort_on_drop.disarm(),
            Some(_) => drop(abort_on_drop),
        }
        drop(tx);
        let written = writer.await.map_err(io::Error::other)?;
        if let Some(e) = failed {
            return Err(e);
        }
        let written = written?.ok_or_else(|| io::Error::other("the put was aborted"))?;
        self.move_into_place(temp_path, &self.path_of(key)).await?;
        temp.disarm();
        Ok(meta_of(key.clone(), &written))
    }

    async fn get(&self, key: &BlobKey, range: Option<(u64, Option<u64>)>) -> Result<GetResult, BlobError> {
        let mut file = fs::File::open(self.path_of(key)).await.map_err(missing)?;
        let md = file.metadata().await?;
        if !md.is_file() {
            return Err(BlobError::NotFound);
        }
        let range = ByteRange::resolve(range, md.len())?;
        let len = if md.len() == 0 { 0 } else { range.len() };
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start)).await?;
        }
        let body: ByteStream = Box::pin(ReaderStream::with_capacity(file.take(len), CHUNK));
        Ok(GetResult { meta: meta_of(key.clone(), &md), range, body })
    }

    async fn head(&self, key: &BlobKey) -> Result<BlobMeta, BlobError> {
        let md = fs::metadata(self.path_of(key)).await.map_err(missing)?;
        if !md.is_file() {
            return Err(BlobError::NotFound);
        }
        Ok(meta_of(key.clone(), &md))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let path = self.path_of(key);
        match fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if is_missing(&e) || e.kind() == ErrorKind::IsADirectory => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.prune_empty_parents(&path).await;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        validate_prefix(prefix)?;
        let mut start = self.root.clone();
        if let Some((dir, _)) = prefix.rsplit_once('/') {
            start.extend(dir.split('/'));
        }
        let (root, prefix) = (self.root.clone(), prefix.to_owned());
        tokio::task::spawn_blocking(move || walk(&root, &start, &prefix)).await.map_err(io::Error::other)?
    }

    async fn rename(&self, from: &BlobKey, to: &BlobKey) -> Result<(), BlobError> {
        let (src, dst) = (self.path_of(from), self.path_of(to));
        if !fs::symlink_metadata(&src).await.map_err(missing)?.is_file() {
            return Err(BlobError::NotFound);
        }
        if src == dst {
            return Ok(());
        }
        self.move_into_place(&src, &dst).await.map_err(missing)?;
        // A concurrent rename out of the same folder may have pruned it already: then
        // there is no entry left to make durable.
        match sync_dir(src.parent().expect("blob paths lie below the root")).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => other?,
        }
        self.prune_empty_parents(&src).await;
        Ok(())
    }

    async fn cleanup_incomplete(&self, older_than: Duration) -> Result<u64, BlobError> {
        let tmp = self.tmp.clone();
        let cutoff = SystemTime::now().checked_sub(older_than).unwrap_or(UNIX_EPOCH);
        tokio::task::spawn_blocking(move || remove_older(&tmp, cutoff)).await.map_err(io::Error::other)?
    }

    async fn ping(&self) -> Result<(), BlobError> {
        for dir in [&self.root, &self.tmp] {
            if !fs::metadata(dir).await?.is_dir() {
                let msg = format!("{} is not a directory", dir.display());
                return Err(io::Error::new(ErrorKind::NotADirectory, msg).into());
            }
        }
        Ok(())
    }
}

/// Options that create a new private file (fails if it exists).
fn private_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// A recursive builder of private directories.
fn private_dirs() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder
}

/// [`private_dirs`] for async code.
fn private_dirs_async() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder
}

/// Sets its flag when dropped, unless disarmed.
struct AbortOnDrop(Option<Arc<AtomicBool>>);

impl AbortOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, Ordering::Release);
        }
    }
}

/// A temp file removed on drop (error, or the put future cancelled) unless disarmed.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("armed")
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove temp blob file");
        }
    }
}

/// Metadata as the trait reports it; see the module docs for the ETag.
fn meta_of(key: BlobKey, md: &std::fs::Metadata) -> BlobMeta {
    let last_modified = md.modified().unwrap_or(UNIX_EPOCH);
    let nanos = last_modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{:x}{}\"", md.len(), nanos, file_id(md));
    BlobMeta { key, size: md.len(), etag, last_modified, content_type: None }
}

#[cfg(unix)]
fn file_id(md: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("-{:x}", md.ino())
}

#[cfg(not(unix))]
fn file_id(_md: &std::fs::Metadata) -> String {
    String::new()
}

/// Errors that mean "no blob there" (a missing file, or a file where a directory would be).
fn is_missing(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn missing(e: io::Error) -> BlobError {
    if is_missing(&e) { BlobError::NotFound } else { BlobError::Io(e) }
}

/// Makes a rename in `dir` durable.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all()).await.map_err(io::Error::other)??;
    }
    Ok(())
}

/// Every blob under `start` (a directory of `root`) whose key starts with `prefix`, sorted.
/// Descends only into directories whose keys could match; skips dot-entries (`.tmp`),
/// symlinks, non-UTF-8 names and anything that vanishes mid-walk.
fn walk(root: &Path, start: &Path, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
    let mut out = Vec::new();
    let mut dirs = vec![start.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if is_missing(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let Some(rel) = relative_key(root, &path) else { continue };
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                let dir_key = format!("{rel}/");
                if dir_key.starts_with(prefix) || prefix.starts_with(&dir_key) {
                    dirs.push(path);
                }
            } else if kind.is_file()
                && rel.starts_with(prefix)
                && let Ok(key) = BlobKey::new(rel)
            {
                match entry.metadata() {
                    Ok(md) => out.push(meta_of(key, &md)),
                    Err(e) if is_missing(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// `path` relative to `root` as a `/`-joined key, when every part is UTF-8 and not dot-led.
fn relative_key(root: &Path, path: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = path.strip_prefix(root).ok()?.iter().map(|p| p.to_str()).collect();
    let parts = parts?;
    if parts.is_empty() || parts.iter().any(|p| p.starts_with('.')) {
        return None;
    }
    Some(parts.join("/"))
}

/// Removes the regular files in `tmp` last modified at or before `cutoff`.
fn remove_older(tmp: &Path, cutoff: SystemTime) -> Result<u64, BlobError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(tmp)? {
        let entry = entry?;
        let Ok(md) = entry.metadata() else { continue };
        if !md.is_file() || md.modified()? > cutoff {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %tmp.display(), "removed stale temp blob files");
    }
    Ok(removed)
}
