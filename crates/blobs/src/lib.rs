//! Tintype's blob store: one trait ([`BlobStore`]) over object storage, a local directory
//! backend that writes atomically, validated keys, and HMAC-signed URLs for backends that
//! cannot presign their own (the local one).
//!
//! - [`key`]: [`BlobKey`], the only way to name a blob (never a path outside the root).
//! - [`layout`]: where uploads, artifacts and photo renditions live, defined once.
//! - [`local`]: the local directory backend (temp file, fsync, rename).
//! - [`s3`]: the S3-compatible backend (feature `s3`): multipart puts aborted on failure,
//!   SigV4 presigned GET and PUT URLs.
//! - [`signing`]: [`UrlSigner`], HMAC-SHA256 over method, key, expiry, content-disposition.
//! - [`conformance`]: the suite every backend must pass.

pub mod conformance;
pub mod key;
pub mod layout;
pub mod local;
#[cfg(feature = "s3")]
pub mod s3;
pub mod signing;

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
pub use tintype_codes::{Code, Coded};

pub use key::BlobKey;
pub use local::LocalStore;
#[cfg(feature = "s3")]
pub use s3::{S3Config, S3Store};
pub use signing::{SignedQuery, UrlSigner};

/// A stream of body chunks, as read from a request or written by a pipeline.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// Everything a blob operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key is not acceptable (empty, `..`, absolute, control characters, too long).
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    /// No blob under that key.
    #[error("blob not found")]
    NotFound,
    /// The requested byte range lies outside the blob.
    #[error("range not satisfiable")]
    RangeNotSatisfiable,
    /// The body stream failed while being written (the write left nothing behind).
    #[error("body stream failed: {0}")]
    Body(std::io::Error),
    /// The storage itself failed (disk, network, S3 5xx).
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
}

tintype_codes::codes! {
    /// A key that could leave the store's root, or is otherwise malformed.
    INVALID_BLOB_KEY = ("invalid_blob_key", BadRequest);
    /// No blob under that key.
    BLOB_NOT_FOUND = ("blob_not_found", NotFound);
    /// The requested byte range lies outside the blob.
    RANGE_NOT_SATISFIABLE = ("range_not_satisfiable", RangeNotSatisfiable);
    /// The body being stored failed mid-stream (a client went away).
    BODY_STREAM_FAILED = ("body_stream_failed", BadRequest);
    /// The store failed (disk, network, S3 5xx); retrying may help.
    STORAGE_ERROR = ("storage_error", Unavailable);
    /// A signed link whose expiry has passed.
    SIGNATURE_EXPIRED = ("signature_expired", Forbidden);
    /// A signed link whose signature does not match.
    SIGNATURE_INVALID = ("signature_invalid", Forbidden);
    /// Content whose SHA-256 (or size) is not the one declared for it: nothing is stored.
    CHECKSUM_MISMATCH = ("checksum_mismatch", InvalidInput);
}

impl Coded for BlobError {
    fn code(&self) -> Code {
        match self {
            BlobError::InvalidKey(_) => INVALID_BLOB_KEY,
            BlobError::NotFound => BLOB_NOT_FOUND,
            BlobError::RangeNotSatisfiable => RANGE_NOT_SATISFIABLE,
            BlobError::Body(_) => BODY_STREAM_FAILED,
            BlobError::Io(_) => STORAGE_ERROR,
        }
    }
}

impl BlobError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BlobError::Io(_))
    }
}

/// What a store knows about one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The key.
    pub key: BlobKey,
    /// Size in bytes.
    pub size: u64,
    /// Strong validator, stable while the content is unchanged (quoted, as in HTTP).
    pub etag: String,
    /// Last write.
    pub last_modified: SystemTime,
    /// Content type recorded at put, when the backend keeps one.
    pub content_type: Option<String>,
}

/// Options for [`BlobStore::put`].
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// Content type to record (S3 keeps it; the local backend ignores it).
    pub content_type: Option<String>,
    /// About how large the body will be, when the writer knows (an export: the sum of
    /// its items). S3 picks its equal part size from it so that a multipart upload never
    /// needs more than the protocol's 10,000 parts; without it parts are
    /// [`s3::PART_SIZE`]-sized, which serves bodies up to about 78 GiB.
    pub size_hint: Option<u64>,
}

/// An inclusive byte range already resolved against a blob's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Always false: a range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Resolves a requested range (as [`BlobStore::get`] takes it) against a blob of `size`
    /// bytes: no request means the whole blob, an `end` past the blob is clamped, a `start`
    /// past it (or after `end`) is `RangeNotSatisfiable`. An empty blob resolves to `0..=0`
    /// when no range is asked (its body is empty: callers check `meta.size`), and any range
    /// on it is not satisfiable, as in HTTP.
    pub fn resolve(requested: Option<(u64, Option<u64>)>, size: u64) -> Result<ByteRange, BlobError> {
        let last = size.saturating_sub(1);
        match requested {
            None => Ok(ByteRange { start: 0, end: last }),
            Some((start, end)) if start >= size || end.is_some_and(|end| end < start) => {
                Err(BlobError::RangeNotSatisfiable)
            }
            Some((start, end)) => Ok(ByteRange { start, end: end.map_or(last, |end| end.min(last)) }),
        }
    }
}

/// An open read: metadata, the range served, and the bytes.
pub struct GetResult {
    /// The blob's metadata (size is the whole blob's).
    pub meta: BlobMeta,
    /// The range being streamed (the whole blob when none was asked). An empty blob has
    /// `meta.size == 0`, range `0..=0` and an empty body (see [`ByteRange::resolve`]).
    pub range: ByteRange,
    /// The bytes of `range`.
    pub body: ByteStream,
}

impl std::fmt::Debug for GetResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetResult").field("meta", &self.meta).field("range", &self.range).finish()
    }
}

/// A presigned request a client can make directly against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// Absolute URL.
    pub url: String,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// Headers the client must send exactly as given (bound into the signature: a
    /// presigned PUT's content type and checksum).
    pub headers: Vec<(String, String)>,
}

/// Object storage as Tintype uses it. Implementations: [`LocalStore`] and, with the `s3`
/// feature, `S3Store`.
///
/// Writes are all-or-nothing: until `put` returns `Ok`, no reader sees the new content
/// (local: temp file, fsync, rename; S3: multipart upload completed only at the end, aborted
/// on failure).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Streams `body` into `key`, replacing any previous blob atomically. Never buffers the
    /// whole body. If the stream yields an error, nothing is left behind and
    /// `BlobError::Body` is returned.
    async fn put(&self, key: &BlobKey, body: ByteStream, opts: PutOptions) -> Result<BlobMeta, BlobError>;

    /// Opens a blob for reading, optionally a range `(start, end_inclusive)` of it; an
    /// `end` past the blob is clamped, a `start` past it is `RangeNotSatisfiable`.
    async fn get(&self, key: &BlobKey, range: Option<(u64, Option<u64>)>) -> Result<GetResult, BlobError>;

    /// Metadata only.
    async fn head(&self, key: &BlobKey) -> Result<BlobMeta, BlobError>;

    /// Deletes a blob; deleting a missing blob is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// Every blob whose key starts with `prefix` (a key prefix, e.g. `t/acme/jobs/job_1/`).
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError>;

    /// Moves a blob to a new key (atomic on the local backend; copy + delete on S3).
    async fn rename(&self, from: &BlobKey, to: &BlobKey) -> Result<(), BlobError>;

    /// A URL the client can GET directly, when the backend presigns (S3); a given
    /// `content_disposition` is what the response will carry. `None` means the API must
    /// serve the blob itself behind a [`UrlSigner`] link (local backend).
    async fn presign_get(
        &self,
        _key: &BlobKey,
        _expires_in: Duration,
        _content_disposition: Option<&str>,
    ) -> Result<Option<Presigned>, BlobError> {
        Ok(None)
    }

    /// A URL the client can PUT the blob's bytes to directly, when the backend presigns
    /// (S3). A given content type and SHA-256 are bound into the signature: the client
    /// must send them as [`Presigned::headers`] and the store rejects a body whose
    /// checksum differs. `None`: this backend takes uploads through the API only.
    async fn presign_put(
        &self,
        _key: &BlobKey,
        _expires_in: Duration,
        _content_type: Option<&str>,
        _sha256: Option<[u8; 32]>,
    ) -> Result<Option<Presigned>, BlobError> {
        Ok(None)
    }

    /// Removes leftovers of interrupted writes older than `older_than` (temp files,
    /// incomplete multipart uploads). Returns how many were removed.
    async fn cleanup_incomplete(&self, older_than: Duration) -> Result<u64, BlobError>;

    /// Cheap reachability probe (for `/readyz`).
    async fn ping(&self) -> Result<(), BlobError>;

    /// Deletes every blob under `prefix`; returns how many.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let mut n = 0;
        for meta in self.list(prefix).await? {
            self.delete(&meta.key).await?;
            n += 1;
        }
        Ok(n)
    }
}

/// A [`ByteStream`] over one in-memory buffer (for small bodies and tests).
pub fn bytes_stream(data: impl Into<Bytes>) -> ByteStream {
    let data = data.into();
    Box::pin(futures::stream::once(async move { Ok(data) }))
}

/// Reads a whole blob into memory (for small blobs and tests only).
pub async fn read_all(store: &dyn BlobStore, key: &BlobKey) -> Result<Vec<u8>, BlobError> {
    use futures::TryStreamExt;
    let got = store.get(key, None).await?;
    let mut out = Vec::with_capacity(got.range.len() as usize);
    let mut body = got.body;
    while let Some(chunk) = body.try_next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
