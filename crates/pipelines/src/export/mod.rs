//! `export`: many uploads, library photos or URLs (or one album) into one ZIP behind a
//! 12 h link (SPEC §5, Web Gallery). The module's parts:
//!
//! - [`spec`]: the input and its submit-time checks (every source the tenant's).
//! - [`config`]: the `[export]` section.
//! - [`names`]: safe, unique names that follow the content.
//! - [`archive`]: the streaming ZIP writer (real CRC and sizes in every local header,
//!   ZIP64 only where needed).
//! - `spool`: an item held (memory or an unnamed temp file) until its turn, and the
//!   memory budget all items in flight share.
//!
//! Steps: `validating` (the input; an album becomes its photos), `fetching` (items
//! fetched `concurrency` at a time, each with a timeout and retries with backoff, and
//! written into the ZIP in item order as they arrive: the ZIP streams into the store
//! meanwhile, a multipart upload on S3), `zipping` (the report and the central
//! directory), `storing` (the store completes the upload). One item failing is listed
//! in `export_report.txt` and in the result (`partial: true`); the job fails
//! (`all_items_failed`) only when every item does, and then stores nothing. A cancel
//! stops the fetches and aborts the upload.

pub mod archive;
pub mod config;
pub mod names;
pub mod spec;
mod spool;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::StreamExt;
use serde_json::json;
use tintype_catalog::Catalog;
use tintype_library::{Library, PHOTO_NOT_FOUND, TimelineQuery};
use tintype_queue::JobOutput;
use tintype_worker::{JobContext, JobError, JobRunner, ResultExt};
use tokio::sync::{mpsc, oneshot};

use crate::sources::Sources;
use crate::zipstream::{self, ChannelWriter};
use archive::{EntryMeta, Method, ZipWriter};
use config::ExportSection;
use names::UniqueNames;
use spec::{ExportInput, ExportSpec, Item, ItemSource};
use spool::{Budget, Reservation, Spool, Spooled};

/// The kind name.
pub const KIND: &str = "export";

/// The steps, in order.
pub const STEPS: &[&str] = &["validating", "fetching", "zipping", "storing"];

/// What a URL item is counted as in the ZIP's size hint (its size is unknown until
/// fetched; the store's part size leaves room for bodies larger than their hint).
const URL_ESTIMATE: u64 = 32 << 20;

/// The report's name inside the ZIP (reserved: no item takes it).
pub const REPORT: &str = "export_report.txt";

tintype_codes::codes! {
    /// More items than an export may have (the message gives the limit).
    TOO_MANY_ITEMS = ("too_many_items", InvalidInput);
    /// Every item of the export failed; nothing was stored.
    ALL_ITEMS_FAILED = ("all_items_failed", InvalidInput);
    /// An item took longer than `export.item_timeout_secs` to fetch (after its retries).
    ITEM_TIMEOUT = ("item_timeout", Unavailable);
    /// The ZIP could not be written (local disk for a large item, or the store).
    EXPORT_WRITE_FAILED = ("export_write_failed", Unavailable);
}

/// `export` in [`crate::PIPELINES`].
pub const PIPELINE: crate::Pipeline = crate::Pipeline {
    kind: KIND,
    spec: |s| Arc::new(ExportSpec::new(s.export.max_items, s.export.ttl())),
    runner: |s, deps| {
        Ok(Arc::new(Export {
            section: s.export.clone(),
            sources: deps.sources.clone(),
            catalog: deps.catalog.clone(),
            library: deps.library.clone(),
        }))
    },
};

/// The runner.
struct Export {
    section: ExportSection,
    sources: Sources,
    catalog: Arc<dyn Catalog>,
    library: Arc<dyn Library>,
}

/// What the zipper thread is sent, in ZIP order.
enum Msg {
    /// One item, with its share of the memory budget (given back once written).
    Entry(EntryMeta, Spooled, Reservation),
    /// The end: the report, if any, then the central directory.
    Finish(Option<String>),
}

/// An item that did not make it.
#[derive(Debug, Clone, serde::Serialize)]
struct Failure {
    index: usize,
    item: String,
    code: &'static str,
    message: String,
}

/// An item fetched, before its name is chosen.
struct Fetched {
    spooled: Spooled,
    wanted: String,
    content_type: String,
    modified: NaiveDateTime,
}

#[async_trait]
impl JobRunner for Export {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        ctx.step("validating").await?;
        let input = ExportInput::parse(&ctx.job().input, self.section.max_items)
            .map_err(|e| JobError::permanent(e.code, e.message))?;
        let zip_name = input.zip_name();
        let items = match &input.album_id {
            Some(album) => self.album_items(&ctx, album).await?,
            None => input.items.clone(),
        };
        if items.is_empty() {
            return Err(JobError::permanent(ALL_ITEMS_FAILED, "the album has no photos"));
        }
        let sizes = self.sizes(&ctx, &items).await?;
        let size_hint = sizes
            .iter()
            .map(|s| s.unwrap_or(URL_ESTIMATE).min(self.section.max_item_bytes).saturating_add(512))
            .fold(0u64, u64::saturating_add);

        ctx.step("fetching").await?;
        let (writer, stream) = zipstream::channel();
        let (tx, rx) = mpsc::channel::<Msg>(1);
        let (done_tx, done_rx) = oneshot::channel();
        // The zipper mostly waits on the channel and the store: a plain blocking thread,
        // not one of the worker's CPU slots (which the feed's deflating needs).
        let zipper = tokio::task::spawn_blocking(move || {
            let written = write_zip(writer, rx);
            let _ = done_tx.send(());
            written
        });
        // The store (its SHA-256 and the writes) runs as its own task, beside the feed
        // (reading, CRC-32), so that the two use both cores.
        let store = {
            let ctx = ctx.clone();
            let task = tokio::spawn(async move {
                ctx.put_artifact_sized(&zip_name, "application/zip", stream, Some(size_hint)).await
            });
            let task = tokio_util::task::AbortOnDropHandle::new(task);
            async move { task.await.map_err(|e| JobError::permanent(tintype_worker::error::PANIC, e.to_string()))? }
        };
        let (ctx, items) = (&ctx, &items);
        // `work` owns `tx`: when it ends without the finish message (an error, a cancel),
        // the channel closes, which aborts the ZIP (no central directory, the stream
        // errors, the store keeps nothing).
        let work = async move {
            let fed = self.feed(ctx, items, &sizes, &tx).await?;
            ctx.step("zipping").await?;
            let report = (!fed.failures.is_empty()).then(|| report(items, &fed.failures));
            tx.send(Msg::Finish(report)).await.map_err(|_| write_failed("the ZIP writer stopped"))?;
            let _ = done_rx.await;
            ctx.step("storing").await?;
            Ok::<Fed, JobError>(fed)
        };
        let (fed, zipped, stored) = tokio::join!(work, zipper, store);
        let fed = fed?;
        zipped
            .map_err(|e| JobError::permanent(tintype_worker::error::PANIC, e.to_string()))?
            .map_err(|e| write_failed(&e.to_string()))?;
        let artifact = stored?;
        let partial = !fed.failures.is_empty();
        let result = json!({
            "zip": { "name": artifact.name, "bytes": artifact.bytes, "sha256": artifact.sha256 },
            "items": items.len(),
            "written": fed.written,
            "bytes": fed.bytes,
            "partial": partial,
            "failed": fed.failures,
        });
        Ok(JobOutput { artifacts: vec![artifact], result })
    }
}

/// What the feed did.
struct Fed {
    written: usize,
    bytes: u64,
    failures: Vec<Failure>,
}

impl Export {
    /// Every ready photo of the tenant's album, in timeline order.
    async fn album_items(&self, ctx: &JobContext, album: &str) -> Result<Vec<Item>, JobError> {
        let tenant = &ctx.job().tenant;
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let q = TimelineQuery { after, limit: 500, album: Some(album.to_owned()), ..TimelineQuery::default() };
            let page = self.library.timeline(tenant, &q).await.retryable()?;
            items.extend(page.photos.into_iter().map(|p| Item {
                photo_id: Some(p.id),
                upload_id: None,
                url: None,
                name: None,
            }));
            if items.len() > self.section.max_items {
                let m = format!("the album has more than {} photos", self.section.max_items);
                return Err(JobError::permanent(TOO_MANY_ITEMS, m));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// Each item's size as filed (an upload's or photo's; 0 when it is gone, which its
    /// fetch then reports), `None` for a URL. The store sizes its parts from their sum
    /// (a URL counted at [`URL_ESTIMATE`]), the memory budget its shares.
    async fn sizes(&self, ctx: &JobContext, items: &[Item]) -> Result<Vec<Option<u64>>, JobError> {
        let tenant = &ctx.job().tenant;
        let mut sizes = Vec::with_capacity(items.len());
        for item in items {
            sizes.push(match item.source() {
                Ok(ItemSource::Upload(id)) => {
                    Some(self.catalog.get_upload(tenant, id).await.retryable()?.map_or(0, |u| u.bytes))
                }
                Ok(ItemSource::Photo(id)) => {
                    Some(self.library.get_photo(tenant, id).await.retryable()?.map_or(0, |p| p.bytes))
                }
                _ => None,
            });
        }
        Ok(sizes)
    }

    /// Fetches the items `concurrency` at a time and hands them to the zipper in order.
    /// Each item first reserves its share of the memory budget (its size when it will be
    /// held in memory, nothing when it will go to a temp file, the in-memory limit for a
    /// URL), in item order, so a slow store holds back the fetches instead of filling
    /// memory.
    async fn feed(
        &self,
        ctx: &JobContext,
        items: &[Item],
        sizes: &[Option<u64>],
        tx: &mpsc::Sender<Msg>,
    ) -> Result<Fed, JobError> {
        let mut names = UniqueNames::new();
        names.reserve(REPORT);
        let started = Instant::now();
        let mut fed = Fed { written: 0, bytes: 0, failures: Vec::new() };
        let budget = Budget::new(self.section.memory_bytes);
        let in_memory = self.section.memory_item_limit();
        let fetches = futures::stream::iter(0..items.len())
            .then(|i| {
                let budget = budget.clone();
                let share = match sizes[i] {
                    Some(size) if size <= in_memory => size,
                    Some(_) => 0,
                    None => in_memory,
                };
                async move { (i, budget.reserve(share).await) }
            })
            .map(|(i, reservation)| {
                let item = items[i].clone();
                async move { (i, self.fetch_with_retries(ctx, &item, reservation.bytes()).await, reservation) }
            })
            .buffered(self.section.concurrency);
        let mut fetches = std::pin::pin!(fetches);
        while let Some((i, fetched, reservation)) = fetches.next().await {
            ctx.check_cancelled()?;
            match fetched {
                Ok(f) => {
                    let fallback = format!("item-{}", i + 1);
                    let name = names.name(&f.wanted, &fallback, &f.content_type);
                    let spooled = if stores_as_is(&f.content_type, &name) {
                        f.spooled
                    } else {
                        ctx.blocking(move || f.spooled.deflate()).await?.map_err(|e| write_failed(&e.to_string()))?
                    };
                    let meta = entry_of(&spooled, name, f.modified);
                    fed.written += 1;
                    fed.bytes += spooled.size;
                    tx.send(Msg::Entry(meta, spooled, reservation))
                        .await
                        .map_err(|_| write_failed("the ZIP writer stopped"))?;
                }
                Err(e) if e.is_cancelled() => return Err(e),
                Err(e) => {
                    let failure =
                        Failure { index: i, item: items[i].describe(), code: e.code.name(), message: e.message };
                    tracing::info!(job = %ctx.job().id, item = i, code = failure.code, "export item failed");
                    fed.failures.push(failure);
                }
            }
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let message = format!(
                "{} of {} items, {:.1} MB, {:.1} MB/s",
                i + 1,
                items.len(),
                fed.bytes as f64 / 1e6,
                fed.bytes as f64 / 1e6 / secs
            );
            ctx.progress((i + 1) as f64 / items.len() as f64, Some(message)).await?;
        }
        if fed.written == 0 {
            let first =
                fed.failures.first().map(|f| format!(" (the first: {}: {})", f.code, f.message)).unwrap_or_default();
            return Err(JobError::permanent(ALL_ITEMS_FAILED, format!("every item failed{first}")));
        }
        Ok(fed)
    }

    /// One item, retried with backoff (250 ms, 500 ms, 1 s, ...) when its failure may
    /// pass, each attempt within the item timeout; a cancel ends it at once. Up to
    /// `in_memory` bytes of it are held in memory, the rest in a temp file.
    async fn fetch_with_retries(&self, ctx: &JobContext, item: &Item, in_memory: u64) -> Result<Fetched, JobError> {
        let attempts = self.section.item_attempts.max(1);
        let mut backoff = Duration::from_millis(250);
        for attempt in 1..=attempts {
            let result = tokio::select! {
                r = tokio::time::timeout(self.section.item_timeout(), self.fetch(ctx, item, in_memory)) => r,
                _ = ctx.cancellation().cancelled() => return Err(JobError::cancelled()),
            };
            let err = match result {
                Ok(Ok(fetched)) => return Ok(fetched),
                Ok(Err(e)) if !e.retryable => return Err(e),
                Ok(Err(e)) => e,
                Err(_) => JobError::transient(
                    ITEM_TIMEOUT,
                    format!("not fetched within {} s", self.section.item_timeout_secs),
                ),
            };
            if attempt == attempts {
                return Err(err);
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = ctx.cancellation().cancelled() => return Err(JobError::cancelled()),
            }
            backoff *= 2;
        }
        unreachable!("the last attempt returns")
    }

    /// One attempt at one item: its bytes spooled, its default name, type and time.
    async fn fetch(&self, ctx: &JobContext, item: &Item, in_memory: u64) -> Result<Fetched, JobError> {
        let tenant = &ctx.job().tenant;
        let source = item.source().map_err(|e| JobError::permanent(tintype_codes::common::INVALID_INPUT, e))?;
        let max = self.section.max_item_bytes;
        let (upload_id, wanted, modified) = match source {
            ItemSource::Url(url) => {
                let fetched = self.sources.fetch_url(url, max).await?;
                let wanted = item.name.clone().unwrap_or_else(|| url_file_name(&fetched.final_url));
                let mut spool = Spool::new(in_memory);
                spool.push(fetched.bytes).await.map_err(|e| write_failed(&e.to_string()))?;
                let content_type = fetched.content_type.unwrap_or_else(|| "application/octet-stream".into());
                let spooled = spool.finish().await.map_err(|e| write_failed(&e.to_string()))?;
                return Ok(Fetched { spooled, wanted, content_type, modified: Utc::now().naive_utc() });
            }
            ItemSource::Upload(id) => (id.to_owned(), None, None),
            ItemSource::Photo(id) => {
                let photo = self
                    .library
                    .get_photo(tenant, id)
                    .await
                    .retryable()?
                    .ok_or_else(|| JobError::permanent(PHOTO_NOT_FOUND, format!("no photo {id}")))?;
                let taken = photo.exif.taken_at.map(|t| local_time(t, photo.exif.taken_offset_minutes));
                (photo.upload_id, photo.file_name, Some(taken.unwrap_or_else(|| photo.created_at.naive_utc())))
            }
        };
        let (upload, mut body) = self.sources.open_upload(ctx, &upload_id, max).await?;
        let mut spool = Spool::new(in_memory);
        while let Some(chunk) = body.next().await {
            spool.push(chunk?).await.map_err(|e| write_failed(&e.to_string()))?;
        }
        let spooled = spool.finish().await.map_err(|e| write_failed(&e.to_string()))?;
        let wanted = item.name.clone().or(wanted).or(upload.filename).unwrap_or_else(|| upload.id.clone());
        Ok(Fetched {
            spooled,
            wanted,
            content_type: upload.content_type,
            modified: modified.unwrap_or_else(|| upload.created_at.naive_utc()),
        })
    }
}

/// The zipper, on the blocking pool: entries in the order sent, then the report and the
/// directory on [`Msg::Finish`]. A channel closed before that is an abort: the writer is
/// dropped unfinished, so the store keeps nothing.
fn write_zip(writer: ChannelWriter, mut rx: mpsc::Receiver<Msg>) -> std::io::Result<usize> {
    let mut zip = ZipWriter::new(writer);
    loop {
        match rx.blocking_recv() {
            Some(Msg::Entry(meta, spooled, reservation)) => {
                add_spooled(&mut zip, meta, spooled)?;
                drop(reservation);
            }
            Some(Msg::Finish(report)) => {
                if let Some(text) = report {
                    let spooled = Spooled::text(text).deflate()?;
                    let meta = entry_of(&spooled, REPORT.into(), Utc::now().naive_utc());
                    add_spooled(&mut zip, meta, spooled)?;
                }
                let entries = zip.len();
                zip.finish()?.finish()?;
                return Ok(entries);
            }
            None => return Err(std::io::Error::other("the export stopped before its end")),
        }
    }
}

/// The headers' view of a spooled item.
fn entry_of(spooled: &Spooled, name: String, modified: NaiveDateTime) -> EntryMeta {
    EntryMeta {
        name,
        method: if spooled.is_deflated() { Method::Deflated } else { Method::Stored },
        crc32: spooled.crc32,
        compressed: spooled.stored_size(),
        size: spooled.size,
        modified,
    }
}

/// One entry into the ZIP: an item in memory as its chunks (handed to the store as they
/// are, not copied), one on file through a reader.
fn add_spooled(zip: &mut ZipWriter<ChannelWriter>, meta: EntryMeta, spooled: Spooled) -> std::io::Result<()> {
    match spooled.into_chunks() {
        Ok(chunks) => zip.add_chunks(meta, chunks),
        Err(mut reader) => zip.add(meta, &mut reader),
    }
}

/// `export_report.txt`: one line per failed item.
fn report(items: &[Item], failures: &[Failure]) -> String {
    let mut text = format!("Tintype export: {} of {} items could not be added.\n\n", failures.len(), items.len());
    for f in failures {
        let name = items[f.index].name.as_deref().map(|n| format!(" \"{}\"", n.escape_debug())).unwrap_or_default();
        text.push_str(&format!("item {} ({}{name}): {}: {}\n", f.index + 1, f.item, f.code, f.message));
    }
    text
}

/// Already-compressed content is stored; the rest is deflated.
fn stores_as_is(content_type: &str, name: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let compressed_type = ct.starts_with("image/")
        && !matches!(ct.as_str(), "image/bmp" | "image/svg+xml" | "image/tiff")
        || ct.starts_with("video/")
        || ct.starts_with("audio/")
        || matches!(
            ct.as_str(),
            "application/zip"
                | "application/gzip"
                | "application/x-7z-compressed"
                | "application/zstd"
                | "application/pdf"
        );
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    compressed_type
        || matches!(
            ext.as_str(),
            "jpg" | "jpeg" | "png" | "webp" | "avif" | "heic" | "heif" | "gif" | "mp4" | "mov" | "zip" | "gz" | "7z"
        )
}

/// The wall time a photo was taken, where it was taken (UTC when the offset is unknown).
fn local_time(at: DateTime<Utc>, offset_minutes: Option<i32>) -> NaiveDateTime {
    at.naive_utc() + chrono::Duration::minutes(i64::from(offset_minutes.unwrap_or(0)))
}

/// The last path segment of a URL (before any query), percent-decoding left alone.
fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    after_host.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("download").to_owned()
}

fn write_failed(m: &str) -> JobError {
    JobError::transient(EXPORT_WRITE_FAILED, m.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_content_is_stored() {
        assert!(stores_as_is("image/jpeg", "a.jpg"));
        assert!(stores_as_is("image/heic", "a.heic"));
        assert!(stores_as_is("video/mp4", "clip.mp4"));
        assert!(stores_as_is("application/octet-stream", "x.avif"));
        assert!(!stores_as_is("text/plain", "notes.txt"));
        assert!(!stores_as_is("image/tiff", "scan.tif"));
        assert!(!stores_as_is("application/octet-stream", "data.bin"));
    }

    #[test]
    fn url_names_and_local_times() {
        assert_eq!(url_file_name("https://example.com/a/b/photo.jpg?x=1"), "photo.jpg");
        assert_eq!(url_file_name("https://example.com/"), "download");
        assert_eq!(url_file_name("https://example.com"), "download");
        let at = DateTime::parse_from_rfc3339("2024-07-14T16:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(local_time(at, Some(120)).to_string(), "2024-07-14 18:30:00");
        assert_eq!(local_time(at, None).to_string(), "2024-07-14 16:30:00");
    }
}
