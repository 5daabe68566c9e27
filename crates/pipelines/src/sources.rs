//! A job's source, read for any pipeline: an upload of the job's tenant (streamed from
//! the blob store) or an http(s) URL (through the shared SSRF-guarded [`Fetcher`]); a
//! library photo will be a third kind. The size cap holds while reading, so an oversized
//! source never sits in memory whole.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tintype_blobs::BlobKey;
use tintype_catalog::{Catalog, UPLOAD_NOT_FOUND, Upload};
use tintype_fetch::{FetchError, Fetcher};
use tintype_imaging::error::FILE_TOO_LARGE;
use tintype_worker::{JobContext, JobError, ResultExt};

/// Where a job's input bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An upload of the job's tenant.
    Upload(String),
    /// An http(s) URL, fetched with SSRF checks, a time limit and a size cap.
    Url(String),
}

/// Reads sources: the catalog for uploads, the fetcher for URLs.
#[derive(Clone)]
pub struct Sources {
    catalog: Arc<dyn Catalog>,
    fetcher: Fetcher,
}

impl Sources {
    /// Sources resolved through `catalog` and `fetcher`.
    pub fn new(catalog: Arc<dyn Catalog>, fetcher: Fetcher) -> Self {
        Self { catalog, fetcher }
    }

    /// The whole source, at most `max` bytes (more is `file_too_large`, permanent; a URL
    /// is also held to the fetch policy's own cap).
    pub async fn read(&self, ctx: &JobContext, source: &Source, max: u64) -> Result<Bytes, JobError> {
        match source {
            Source::Url(url) => Ok(self.fetch_url(url, max).await?.bytes),
            Source::Upload(id) => {
                let (upload, mut body) = self.open_upload(ctx, id, max).await?;
                let mut buf = Vec::with_capacity(upload.bytes.min(max) as usize);
                while let Some(chunk) = body.next().await {
                    buf.extend_from_slice(&chunk?);
                }
                Ok(Bytes::from(buf))
            }
        }
    }
}

impl Sources {
    /// One of the job tenant's uploads and a stream of its bytes, held to `max` bytes
    /// (its recorded size, and again as the bytes pass: more is `file_too_large`,
    /// permanent; a storage failure mid-stream is `storage_error`, transient).
    pub async fn open_upload(
        &self,
        ctx: &JobContext,
        id: &str,
        max: u64,
    ) -> Result<(Upload, BoxStream<'static, Result<Bytes, JobError>>), JobError> {
        let too_large = move |bytes: u64| {
            JobError::permanent(FILE_TOO_LARGE, format!("the source has {bytes} bytes or more; the limit is {max}"))
        };
        let upload = self
            .catalog
            .get_upload(&ctx.job().tenant, id)
            .await
            .retryable()?
            .ok_or_else(|| JobError::permanent(UPLOAD_NOT_FOUND, format!("no upload {id}")))?;
        if upload.bytes > max {
            return Err(too_large(upload.bytes));
        }
        let key = BlobKey::new(upload.blob_key.clone()).permanent()?;
        let body = ctx.blobs().get(&key, None).await.retryable()?.body;
        let mut seen = 0u64;
        let body = body.map(move |chunk| {
            let chunk = chunk.map_err(|e| JobError::transient(tintype_blobs::STORAGE_ERROR, e.to_string()))?;
            seen += chunk.len() as u64;
            if seen > max { Err(too_large(seen)) } else { Ok(chunk) }
        });
        Ok((upload, body.boxed()))
    }

    /// A URL's body with its type and final address, at most `max` bytes (and the fetch
    /// policy's own cap).
    pub async fn fetch_url(&self, url: &str, max: u64) -> Result<tintype_fetch::Fetched, JobError> {
        let fetched = self.fetcher.fetch(url).await.map_err(|e| fetch_error(&e))?;
        let len = fetched.bytes.len() as u64;
        if len > max {
            return Err(JobError::permanent(
                FILE_TOO_LARGE,
                format!("the source has {len} bytes or more; the limit is {max}"),
            ));
        }
        Ok(fetched)
    }
}

/// A fetch failure as a job error: retried when the fetch says it may pass. The tenant
/// chose the URL, so a failure of it is the input's, not the server's (no quota is given
/// back for it).
fn fetch_error(e: &FetchError) -> JobError {
    let error = if e.is_retryable() {
        JobError::transient(tintype_codes::Coded::code(e), e.to_string())
    } else {
        JobError::permanent(tintype_codes::Coded::code(e), e.to_string())
    };
    error.blame_input()
}
