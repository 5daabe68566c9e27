//! The S3-compatible backend, [`S3Store`] (AWS, Cloudflare R2, Backblaze B2, MinIO), on
//! the `object_store` crate's S3 client.
//!
//! - **Writes** stream: a body that fits in one part is a single `PutObject`; a larger one
//!   is a multipart upload cut into equal [`PART_SIZE`] parts (R2 requires equal parts),
//!   at most [`PART_CONCURRENCY`] in flight, completed only when the body ends. Any failure,
//!   and a put future dropped half-way, aborts the upload, so nothing partial is stored.
//! - **Reads** are ranged `GetObject`s; metadata comes from `HeadObject` (times are cut to
//!   whole seconds, which is all `Last-Modified` carries, so list and head agree).
//! - **Links** are SigV4 presigned URLs made from the same credentials: GET with a signed
//!   `response-content-disposition`, PUT with the content type and `x-amz-checksum-sha256`
//!   bound to the signature.
//! - **Leftovers**: `put` aborts every upload it starts; uploads orphaned by a killed
//!   process are the bucket's `AbortIncompleteMultipartUpload` lifecycle rule's to remove
//!   (see docs/OPERATIONS.md): `object_store` cannot list multipart uploads.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::BytesMut;
use futures::stream::FuturesOrdered;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutPayload, RetryConfig,
};

use crate::key::validate_prefix;
use crate::{BlobError, BlobKey, BlobMeta, BlobStore, ByteRange, ByteStream, GetResult, Presigned, PutOptions};

/// Size of every multipart part but the last (S3's minimum is 5 MiB), unless a size hint
/// asks for larger ones.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded at once by one put (so one put holds at most this many parts in memory),
/// fewer when parts are larger than [`PART_SIZE`] (the bytes in flight stay under
/// `PART_CONCURRENCY * PART_SIZE`, at least one part).
pub const PART_CONCURRENCY: usize = 4;
/// The protocol's limit on parts in one multipart upload.
pub const MAX_PARTS: usize = 10_000;
/// Parts a size hint is divided into: headroom below [`MAX_PARTS`] for a body somewhat
/// larger than its hint.
const HINT_PARTS: u64 = 8_000;

/// The part size for a body of about `hint` bytes: [`PART_SIZE`], or larger (whole MiB)
/// so that the body fits in [`HINT_PARTS`] parts.
pub fn part_size_for(hint: Option<u64>) -> usize {
    let needed = hint.unwrap_or(0).div_ceil(HINT_PARTS).div_ceil(1 << 20) << 20;
    (needed as usize).max(PART_SIZE)
}
/// Longest presigned URL lifetime SigV4 allows.
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where and how to reach a bucket, exactly as given: the store reads no environment (the
/// binary fills unset credentials from the usual `AWS_*` variables). Without credentials
/// the client asks the instance metadata service, as on EC2.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Custom endpoint (`http://127.0.0.1:9000`, `https://<account>.r2.cloudflarestorage.com`).
    pub endpoint: Option<String>,
    /// Region to sign for (`auto` for R2).
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token, for temporary credentials.
    pub session_token: Option<String>,
    /// Virtual-hosted-style addressing (`bucket.host/key`) instead of path style
    /// (`host/bucket/key`). Off by default: path style works with every S3-compatible
    /// server; AWS itself accepts both.
    pub virtual_hosted: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("virtual_hosted", &self.virtual_hosted)
            .finish()
    }
}

impl S3Config {
    /// Parses `s3://bucket?endpoint=http://127.0.0.1:9000&region=auto&virtual_hosted=false`
    /// (every query parameter optional). Credentials are not taken from the URL: they go
    /// in the `AWS_*` variables or the config file.
    pub fn from_url(url: &str) -> Result<S3Config, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if parsed.scheme() != "s3" {
            return Err(format!("scheme must be s3://, got {}://", parsed.scheme()));
        }
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        if bucket.is_empty() {
            return Err("no bucket name (s3://<bucket>)".into());
        }
        if !matches!(parsed.path(), "" | "/") {
            return Err(format!("a key prefix ({}) is not supported: use a bucket of its own", parsed.path()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into());
        }
        let mut config = S3Config { bucket, ..S3Config::default() };
        for (name, value) in parsed.query_pairs() {
            match &*name {
                "endpoint" => config.endpoint = Some(value.into_owned()),
                "region" => config.region = Some(value.into_owned()),
                "virtual_hosted" => {
                    config.virtual_hosted = value.parse().map_err(|_| format!("virtual_hosted={value}: not a bool"))?
                }
                other => return Err(format!("unknown parameter {other:?} (endpoint, region, virtual_hosted)")),
            }
        }
        Ok(config)
    }
}

/// Blobs as objects in one S3 bucket, keys used as object keys unchanged.
#[derive(Debug, Clone)]
pub struct S3Store {
    s3: Arc<AmazonS3>,
    bucket: String,
}

impl S3Store {
    /// Builds a client for `config` (no request is made: see [`BlobStore::ping`]).
    pub fn open(config: &S3Config) -> Result<S3Store, BlobError> {
        let mut builder = AmazonS3Builder::new().with_bucket_name(&config.bucket);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..RetryConfig::default() };
        let s3 = builder
            .with_config(AmazonS3ConfigKey::VirtualHostedStyleRequest, config.virtual_hosted.to_string())
            .with_retry(retry)
            // One DeleteObject per key: idempotent on every server (bulk deletes of a
            // missing key fail on some), and Tintype deletes few keys at a time.
            .with_disable_bulk_delete(true)
            .build()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok(S3Store { s3: Arc::new(s3), bucket: config.bucket.clone() })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn head_path(&self, path: &Path) -> Result<BlobMeta, BlobError> {
        let got = self.s3.get_opts(path, GetOptions { head: true, ..GetOptions::default() }).await.map_err(error)?;
        meta_of(&got.meta, &got.attributes)
    }

    /// Uploads `buffer` (at least one full part) and the rest of `body` as a multipart
    /// upload of equal parts, aborted unless it completes.
    async fn put_multipart(
        &self,
        path: &Path,
        buffer: BytesMut,
        body: &mut ByteStream,
        attributes: Attributes,
        part_size: usize,
    ) -> Result<(), BlobError> {
        let opts = PutMultipartOptions { attributes, ..PutMultipartOptions::default() };
        let id = self.s3.create_multipart_opts(path, opts).await.map_err(error)?;
        let mut guard = AbortOnDrop { s3: Some(self.s3.clone()), path: path.clone(), id: id.clone() };
        let uploaded = match self.put_parts(path, &id, buffer, body, part_size).await {
            Ok(parts) => self.s3.complete_multipart(path, &id, parts).await.map_err(error),
            Err(e) => Err(e),
        };
        guard.s3 = None;
        match uploaded {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Err(abort) = self.s3.abort_multipart(path, &id).await {
                    tracing::warn!(key = %path, error = %abort, "could not abort a multipart upload; the bucket's lifecycle rule will");
                }
                Err(e)
            }
        }
    }

    /// Cuts `buffer` + `body` into equal parts and uploads them, a few at a time.
    async fn put_parts(
        &self,
        path: &Path,
        id: &str,
        mut buffer: BytesMut,
        body: &mut ByteStream,
        part_size: usize,
    ) -> Result<Vec<PartId>, BlobError> {
        let concurrency = (PART_CONCURRENCY * PART_SIZE / part_size).max(1);
        type Upload = futures::future::BoxFuture<'static, object_store::Result<PartId>>;
        let mut in_flight: FuturesOrdered<Upload> = FuturesOrdered::new();
        let mut parts: Vec<PartId> = Vec::new();
        let mut ended = false;
        for index in 0.. {
            while !ended && buffer.len() < part_size {
                match body.next().await {
                    Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                    Some(Err(e)) => return Err(BlobError::Body(e)),
                    None => ended = true,
                }
            }
            if buffer.is_empty() {
                break;
            }
            if index >= MAX_PARTS {
                let message = format!("the body needs more than {MAX_PARTS} parts of {part_size} bytes");
                return Err(BlobError::Body(std::io::Error::other(message)));
            }
            let part = buffer.split_to(buffer.len().min(part_size)).freeze();
            while in_flight.len() >= concurrency {
                parts.push(in_flight.next().await.expect("in flight").map_err(error)?);
            }
            let (s3, path, id) = (self.s3.clone(), path.clone(), id.to_owned());
            in_flight.push_back(Box::pin(async move { s3.put_part(&path, &id, index, PutPayload::from(part)).await }));
        }
        while let Some(done) = in_flight.next().await {
            parts.push(done.map_err(error)?);
        }
        Ok(parts)
    }
}

/// Aborts a multipart upload when a put future is dropped half-way (cancelled), unless
/// disarmed.
struct AbortOnDrop {
    s3: Option<Arc<AmazonS3>>,
    path: Path,
    id: String,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(s3) = self.s3.take() else { return };
        let (path, id) = (std::mem::take(&mut self.path), std::mem::take(&mut self.id));
        let key = path.to_string();
        let abort = async move {
            if let Err(e) = s3.abort_multipart(&path, &id).await {
                tracing::warn!(key = %path, error = %e, "could not abort a multipart upload; the bucket's lifecycle rule will");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(abort);
            }
            Err(_) => tracing::warn!(%key, "no runtime to abort a multipart upload on"),
        }
    }
}

fn path_of(key: &BlobKey) -> Result<Path, BlobError> {
    Path::parse(key.as_str()).map_err(|e| BlobError::InvalidKey(e.to_string()))
}

fn error(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Io(std::io::Error::other(other.to_string())),
    }
}

/// Whole seconds: all that `Last-Modified` carries, so head and list agree.
fn whole_seconds(t: chrono::DateTime<chrono::Utc>) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.timestamp().max(0) as u64)
}

fn quoted(etag: Option<&str>) -> String {
    match etag {
        Some(e) if e.starts_with('"') || e.starts_with("W/") => e.to_owned(),
        Some(e) => format!("\"{e}\""),
        None => "\"\"".to_owned(),
    }
}

/// The object's metadata; an object whose name is no valid key (written by something
/// else into the bucket) is `InvalidKey`, never a panic.
fn meta_of(meta: &ObjectMeta, attributes: &Attributes) -> Result<BlobMeta, BlobError> {
    Ok(BlobMeta {
        key: BlobKey::new(meta.location.as_ref())?,
        size: meta.size,
        etag: quoted(meta.e_tag.as_deref()),
        last_modified: whole_seconds(meta.last_modified),
        content_type: attributes.get(&Attribute::ContentType).map(|v| v.to_string()),
    })
}

fn put_attributes(opts: &PutOptions) -> Attributes {
    let mut attributes = Attributes::new();
    if let Some(ct) = &opts.content_type {
        attributes.insert(Attribute::ContentType, ct.clone().into());
    }
    attributes
}

#[async_trait]
impl BlobStore for S3Store {
    async fn put(&self, key: &BlobKey, mut body: ByteStream, opts: PutOptions) -> Result<BlobMeta, BlobError> {
        let path = path_of(key)?;
        let attributes = put_attributes(&opts);
        let part_size = part_size_for(opts.size_hint);
        let mut first = BytesMut::new();
        let mut ended = false;
        while first.len() < part_size {
            match body.next().await {
                Some(Ok(chunk)) => first.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(BlobError::Body(e)),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            let opts = object_store::PutOptions { attributes, ..object_store::PutOptions::default() };
            self.s3.put_opts(&path, PutPayload::from(first.freeze()), opts).await.map_err(error)?;
        } else {
            self.put_multipart(&path, first, &mut body, attributes, part_size).await?;
        }
        self.head_path(&path).await
    }

    async fn get(&self, key: &BlobKey, range: Option<(u64, Option<u64>)>) -> Result<GetResult, BlobError> {
        let path = path_of(key)?;
        let get_range = match range {
            None => None,
            Some((start, Some(end))) if end < start => return Err(BlobError::RangeNotSatisfiable),
            // Servers parse the range as a signed 64-bit number: an open end is an offset.
            Some((start, Some(end))) if end < i64::MAX as u64 => Some(GetRange::Bounded(start..end + 1)),
            Some((start, _)) => Some(GetRange::Offset(start)),
        };
        let got = match self.s3.get_opts(&path, GetOptions { range: get_range, ..GetOptions::default() }).await {
            Ok(got) => got,
            Err(e) => {
                let e = error(e);
                // S3 answers 416 for a start past the end; tell that apart from a real failure.
                if let (BlobError::Io(_), Some((start, _))) = (&e, range) {
                    let meta = self.head_path(&path).await?;
                    if start >= meta.size {
                        return Err(BlobError::RangeNotSatisfiable);
                    }
                }
                return Err(e);
            }
        };
        let meta = meta_of(&got.meta, &got.attributes)?;
        let served = if meta.size == 0 {
            ByteRange { start: 0, end: 0 }
        } else {
            ByteRange { start: got.range.start, end: got.range.end.saturating_sub(1) }
        };
        let body = got.into_stream().map_err(|e| std::io::Error::other(e.to_string()));
        Ok(GetResult { meta, range: served, body: Box::pin(body) })
    }

    async fn head(&self, key: &BlobKey) -> Result<BlobMeta, BlobError> {
        self.head_path(&path_of(key)?).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.s3.delete(&path_of(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        validate_prefix(prefix)?;
        // object_store lists "directories"; list the one holding the prefix, then filter.
        let dir = prefix.rfind('/').map(|i| &prefix[..i]).unwrap_or("");
        let dir = if dir.is_empty() {
            None
        } else {
            Some(Path::parse(dir).map_err(|e| BlobError::InvalidKey(e.to_string()))?)
        };
        let mut out: Vec<BlobMeta> = Vec::new();
        let mut listing = self.s3.list(dir.as_ref());
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(error)?;
            if meta.location.as_ref().starts_with(prefix) {
                out.push(match meta.e_tag {
                    Some(_) => meta_of(&meta, &Attributes::new())?,
                    // S3 lists ETags; a server that leaves them out costs a HEAD each.
                    None => self.head_path(&meta.location).await?,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn rename(&self, from: &BlobKey, to: &BlobKey) -> Result<(), BlobError> {
        self.s3.rename(&path_of(from)?, &path_of(to)?).await.map_err(error)
    }

    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
        content_disposition: Option<&str>,
    ) -> Result<Option<Presigned>, BlobError> {
        let expires_in = expires_in.min(MAX_PRESIGN);
        let mut options = SignedUrlOptions::new();
        if let Some(cd) = content_disposition {
            options = options.with_query([("response-content-disposition", cd)]);
        }
        let url = self.s3.signed_url_opts(Method::GET, &path_of(key)?, expires_in, &options).await.map_err(error)?;
        Ok(Some(Presigned { url: url.to_string(), expires_at: SystemTime::now() + expires_in, headers: Vec::new() }))
    }

    async fn presign_put(
        &self,
        key: &BlobKey,
        expires_in: Duration,
        content_type: Option<&str>,
        sha256: Option<[u8; 32]>,
    ) -> Result<Option<Presigned>, BlobError> {
        use base64::Engine;
        let expires_in = expires_in.min(MAX_PRESIGN);
        let mut headers = Vec::new();
        if let Some(ct) = content_type {
            headers.push(("content-type".to_owned(), ct.to_owned()));
        }
        if let Some(sum) = sha256 {
            headers.push(("x-amz-checksum-sha256".to_owned(), base64::engine::general_purpose::STANDARD.encode(sum)));
        }
        let mut options = SignedUrlOptions::new();
        for (name, value) in &headers {
            let value = HeaderValue::from_str(value).map_err(|_| BlobError::InvalidKey(format!("bad {name} value")))?;
            options =
                options.with_signed_header(HeaderName::from_bytes(name.as_bytes()).expect("valid header name"), value);
        }
        let url = self.s3.signed_url_opts(Method::PUT, &path_of(key)?, expires_in, &options).await.map_err(error)?;
        Ok(Some(Presigned { url: url.to_string(), expires_at: SystemTime::now() + expires_in, headers }))
    }

    async fn cleanup_incomplete(&self, _older_than: Duration) -> Result<u64, BlobError> {
        // Every upload `put` starts is completed or aborted by it; orphans of a killed
        // process are the bucket lifecycle rule's (object_store cannot list uploads).
        Ok(0)
    }

    async fn ping(&self) -> Result<(), BlobError> {
        let probe = Path::from("tintype-ping");
        match self.s3.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_with_the_hint_so_that_any_body_fits_the_part_limit() {
        assert_eq!(part_size_for(None), PART_SIZE);
        assert_eq!(part_size_for(Some(1 << 30)), PART_SIZE);
        for hint in [80u64 << 30, 1 << 40, 5 << 40] {
            let part = part_size_for(Some(hint)) as u64;
            assert_eq!(part % (1 << 20), 0, "whole MiB");
            // A body a quarter larger than its hint still fits.
            assert!((hint + hint / 4).div_ceil(part) <= MAX_PARTS as u64, "{hint}: {part}");
        }
    }
}
