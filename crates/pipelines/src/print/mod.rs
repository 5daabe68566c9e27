//! The `print` job kind (SPEC §5, SnapToSize): one artwork in, print-ready ZIP packs out
//! (one per ratio group, each under `max_zip_bytes`), or one JPEG at one size.
//!
//! - [`config`]: the `[print]` section and the runner's settings.
//! - [`input`]: the input document, validated at submit and at run time.
//! - [`plan`]: choosing qualities and parts so each ZIP fits (pure arithmetic).
//! - [`render`]: the synchronous work of one group: estimate, encode in bands, verify.
//! - [`spec`]: the submit side ([`PrintSpec`]): schema, validation, the plan's watermark.
//! - this module: the job: fetching the source, decoding, rendering group by group on the
//!   blocking pool, streaming each ZIP into the store, and the report in the job output.
//!
//! Steps: `fetching`, `decoding`, then for each group `resizing` (size estimate),
//! `encoding` (progress per file, over the whole job) and `zipping` (the ZIP streams into
//! the store), and `storing` at the end.

pub mod config;
pub mod input;
pub mod plan;
pub mod render;
pub mod spec;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use tintype_codes::common::INVALID_INPUT;
use tintype_imaging::catalog::{self, Orientation, PrintSize, orientation_of};
use tintype_imaging::decode::{Decoded, decode_with};
use tintype_imaging::geometry::Fit;
use tintype_imaging::watermark::Watermark;
use tintype_queue::{Artifact, JobOutput};
use tintype_worker::{JobContext, JobError, JobRunner};
use tokio::sync::mpsc;

use crate::imaging::{interrupt, job_error};
use crate::sources::Sources;
use crate::zipstream;
use input::{FitMode, Mode, PrintInput, WantOrientation};
use render::{FileReport, GroupPack, Observer, RenderError, Settings, Target, render_group};

/// The kind name.
pub const KIND: &str = "print";

tintype_codes::codes! {
    /// No output of the pack fits `max_zip_bytes`, even alone at quality 60.
    OUTPUT_TOO_LARGE = ("output_too_large", TooLarge);
    /// One output too big for any ZIP on its own (listed in `skipped`; the job goes on).
    TOO_LARGE_FOR_ZIP = ("too_large_for_zip", TooLarge);
    /// The local temp disk failed: transient when it may pass (full, an I/O error),
    /// permanent otherwise (it would fail the same way again).
    SPOOL_FAILED = ("spool_failed", Unavailable);
    /// Writing a ZIP failed; transient.
    ZIP_FAILED = ("zip_failed", Unavailable);
}

/// Steps, in order (a pack repeats resizing, encoding and zipping for each group).
pub const STEPS: &[&str] = &["fetching", "decoding", "resizing", "encoding", "zipping", "storing"];

pub use config::{PrintConfig, PrintSection};
pub use spec::PrintSpec;

/// `print` in [`crate::PIPELINES`].
pub const PIPELINE: crate::Pipeline = crate::Pipeline {
    kind: KIND,
    spec: |s| Arc::new(PrintSpec::new(s.print.limits())),
    runner: |s, deps| Ok(Arc::new(Print::new(deps.sources.clone(), s.print.runner_config(&s.fetch)))),
};

/// The `print` runner.
#[derive(Clone)]
pub struct Print {
    sources: Sources,
    config: PrintConfig,
}

impl Print {
    /// A runner reading its sources through `sources`.
    pub fn new(sources: Sources, config: PrintConfig) -> Self {
        Print { sources, config }
    }
}

/// The input document as the runner reads it (the spec validates it at submit too).
pub fn parse(doc: &serde_json::Value) -> Result<PrintInput, String> {
    PrintInput::parse(doc, catalog::groups(), |label| catalog::find(label).is_some())
}

#[async_trait]
impl JobRunner for Print {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        let input = parse(&ctx.job().input).map_err(|e| JobError::permanent(INVALID_INPUT, e))?;
        ctx.step("fetching").await?;
        let bytes = self.sources.read(&ctx, &input.source, self.config.limits.max_bytes).await?;
        ctx.step("decoding").await?;
        let limits = self.config.limits;
        let started = std::time::Instant::now();
        let stop = interrupt(&ctx, self.config.decode_timeout);
        let decoded = ctx
            .blocking(move || decode_with(&bytes, &limits, u32::MAX, &stop))
            .await?
            .map_err(|e| job_error(&ctx, e))?;
        tracing::debug!(elapsed = ?started.elapsed(), "decoded");
        let decoded = Arc::new(decoded);
        let settings = Settings {
            dpi: input.dpi,
            fit: match input.fit {
                FitMode::Stretch => Fit::Stretch,
                FitMode::Crop => Fit::Crop { focal: input.focal },
            },
            icc: decoded.icc.clone(),
            watermark: input.watermark.then(Watermark::preview),
            threads: self.config.threads,
            interrupt: interrupt(&ctx, self.config.encode_timeout),
        };
        let mut output = match input.mode {
            Mode::Pack => pack(&ctx, &input, decoded.clone(), settings).await?,
            Mode::Single => single(&ctx, &input, decoded.clone(), settings).await?,
        };
        let (w, h) = decoded.pixels.dimensions();
        output.result["source"] = json!({
            "format": decoded.info.format.name(),
            "width": w,
            "height": h,
            "orientation": orientation_name(orientation_of(w, h)),
            "icc_profile": decoded.icc.is_some(),
        });
        Ok(output)
    }
}

/// Every group: render on the blocking pool, then stream its ZIPs into the store.
async fn pack(
    ctx: &JobContext,
    input: &PrintInput,
    decoded: Arc<Decoded>,
    settings: Settings,
) -> Result<JobOutput, JobError> {
    let (w, h) = decoded.pixels.dimensions();
    let orientation = orientation_of(w, h);
    let mut plan = Vec::new();
    for group in &input.groups {
        let sizes = catalog::sizes(group).unwrap_or_default();
        let targets: Vec<Target> = sizes
            .iter()
            .map(|s| Target::new(s, orientation, (w, h), &settings))
            .collect::<Result<_, _>>()
            .map_err(|e| job_error(ctx, e))?;
        plan.push((group.clone(), targets));
    }
    let total_files: usize = plan.iter().map(|(_, t)| t.len()).sum();
    let mut done = 0;
    let spool = spool_dir()?;
    let mut stored = Vec::new();
    // Each group's ZIPs stream into the store while the next group renders.
    // The next group estimates meanwhile, but waits for the store to finish (and free the
    // previous group's files) before it encodes: one group's files in memory at a time.
    let mut pending: Option<Rendered> = None;
    for (group, targets) in plan {
        let targets = Arc::new(targets);
        let (stored_tx, stored_rx) = tokio::sync::oneshot::channel::<()>();
        let store = async {
            let stored = store_group(ctx, pending.take()).await;
            let _ = stored_tx.send(());
            stored
        };
        let render = async {
            ctx.step("resizing").await?;
            let started = std::time::Instant::now();
            let dir = spool.path().join(&group);
            std::fs::create_dir(&dir).map_err(spool_error)?;
            let rendered = render_on_pool(
                ctx,
                &decoded,
                &group,
                &targets,
                &settings,
                input.max_zip_bytes,
                &dir,
                Some(stored_rx),
                &mut done,
                total_files,
            )
            .await?;
            tracing::debug!(%group, elapsed = ?started.elapsed(), encodes = rendered.encodes, "group rendered");
            Ok::<_, JobError>(rendered)
        };
        let (previous, rendered) = tokio::join!(store, render);
        stored.extend(previous?);
        pending = Some(Rendered { group: group.clone(), targets: targets.clone(), pack: Arc::new(rendered?) });
    }
    ctx.step("zipping").await?;
    stored.extend(store_group(ctx, pending.take()).await?);
    let mut artifacts = Vec::new();
    let mut groups = Vec::new();
    let mut warnings = Vec::new();
    for group in stored {
        artifacts.extend(group.artifacts);
        groups.push(group.report);
        warnings.extend(group.warnings);
    }
    ctx.step("storing").await?;
    if artifacts.is_empty() {
        return Err(JobError::permanent(OUTPUT_TOO_LARGE, "no output fits max_zip_bytes even at quality 60"));
    }
    let result = json!({
        "mode": "pack",
        "orientation": orientation_name(orientation),
        "dpi": input.dpi,
        "max_zip_bytes": input.max_zip_bytes,
        "groups": groups,
        "warnings": warnings,
    });
    Ok(JobOutput { artifacts, result })
}

/// A rendered group waiting to be stored.
struct Rendered {
    group: String,
    targets: Arc<Vec<Target>>,
    pack: Arc<GroupPack>,
}

/// A stored group: its ZIPs and its part of the job's result.
struct StoredGroup {
    artifacts: Vec<Artifact>,
    report: serde_json::Value,
    warnings: Vec<String>,
}

/// Streams a rendered group's ZIPs into the store and reports on its files.
async fn store_group(ctx: &JobContext, rendered: Option<Rendered>) -> Result<Option<StoredGroup>, JobError> {
    let Some(Rendered { group, targets, pack }) = rendered else { return Ok(None) };
    let started = std::time::Instant::now();
    let mut artifacts = Vec::new();
    let mut files = Vec::new();
    for zip in &pack.zips {
        artifacts.push(store_zip(ctx, pack.clone(), zip.name.clone()).await?);
        for (name, i) in &zip.entries {
            let e = &pack.files[*i];
            let report = FileReport::new(&targets[e.index], name.clone(), e.quality, e.bytes, Some(zip.name.clone()));
            files.push(report);
        }
    }
    tracing::debug!(%group, elapsed = ?started.elapsed(), "group stored");
    files.sort_by_key(|f| targets.iter().position(|t| t.size.label == f.size));
    let mut warnings = Vec::new();
    for s in &pack.skipped {
        warnings.push(format!(
            "{group} {}: left out, {} bytes even at quality {} is over max_zip_bytes",
            s.size,
            s.bytes,
            plan::MIN_QUALITY
        ));
    }
    let low: Vec<&str> = files.iter().filter(|f| f.low_resolution).map(|f| f.size.as_str()).collect();
    if !low.is_empty() {
        warnings.push(format!("{group}: below {} effective dpi at {}", render::LOW_DPI, low.join(", ")));
    }
    let report = json!({
        "group": group,
        "split": pack.split,
        "zips": pack.zips.iter().map(|z| json!({"name": z.name, "bytes": z.bytes})).collect::<Vec<_>>(),
        "files": files,
        "skipped": pack.skipped,
        "encodes": pack.encodes,
    });
    Ok(Some(StoredGroup { artifacts, report, warnings }))
}

/// One JPEG at one size, named `export_<group>_<size>_<orientation>.jpg`.
async fn single(
    ctx: &JobContext,
    input: &PrintInput,
    decoded: Arc<Decoded>,
    settings: Settings,
) -> Result<JobOutput, JobError> {
    let (w, h) = decoded.pixels.dimensions();
    let size = single_size(input).ok_or_else(|| JobError::permanent(INVALID_INPUT, "unknown size"))?;
    let orientation = match input.orientation {
        WantOrientation::Auto => orientation_of(w, h),
        WantOrientation::Portrait => Orientation::Portrait,
        WantOrientation::Landscape => Orientation::Landscape,
    };
    let target = Target::new(size, orientation, (w, h), &settings).map_err(|e| job_error(ctx, e))?;
    let shape = if size.group == catalog::SQUARE { "square" } else { orientation_name(orientation) };
    let name = format!("export_{}_{}_{shape}.jpg", size.group, size.label);
    ctx.step("resizing").await?;
    let targets = Arc::new(vec![target]);
    let mut done = 0;
    let spool = spool_dir()?;
    let rendered = render_on_pool(
        ctx,
        &decoded,
        size.group,
        &targets,
        &settings,
        input.max_zip_bytes,
        spool.path(),
        None,
        &mut done,
        1,
    )
    .await?;
    let mut warnings = Vec::new();
    let (path, bytes, quality) = match rendered.files.first() {
        Some(e) => (e.path.clone(), e.bytes, e.quality),
        None => {
            // Too big for the limit even at 60: deliver it anyway (one file cannot be
            // split), and say so.
            warnings.push(format!("{name} is over max_zip_bytes even at quality {}", plan::MIN_QUALITY));
            let (src, t, s) = (decoded.clone(), targets.clone(), settings.clone());
            let path = spool.path().join("single.jpg");
            let to = path.clone();
            let written = ctx
                .blocking(move || -> Result<u64, RenderError> {
                    let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&to)?);
                    let (out, bytes) = render::encode_to(out, &src.pixels, &t[0], plan::MIN_QUALITY, &s)?;
                    out.into_inner().map_err(std::io::IntoInnerError::into_error)?;
                    Ok(bytes)
                })
                .await?
                .map_err(|e| render_error(ctx, e))?;
            (path, written, plan::MIN_QUALITY)
        }
    };
    ctx.step("storing").await?;
    let report = FileReport::new(&targets[0], name.clone(), quality, bytes, None);
    if report.low_resolution {
        warnings.push(format!("{name}: below {} effective dpi", render::LOW_DPI));
    }
    let file = tokio::fs::File::open(&path).await.map_err(spool_error)?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, zipstream::CHUNK);
    let artifact = ctx.put_artifact(&name, "image/jpeg", Box::pin(body)).await?;
    let result = json!({
        "mode": "single",
        "orientation": orientation_name(orientation),
        "dpi": input.dpi,
        "max_zip_bytes": input.max_zip_bytes,
        "files": [report],
        "warnings": warnings,
    });
    Ok(JobOutput { artifacts: vec![artifact], result })
}

/// The catalog entry of a single export: in the one group named, else the first match.
fn single_size(input: &PrintInput) -> Option<&'static PrintSize> {
    let label = input.size.as_deref()?;
    match input.groups.as_slice() {
        [group] => catalog::find_in(group, label).or_else(|| catalog::find(label)),
        _ => catalog::find(label),
    }
}

/// What the blocking side tells the job while it renders.
enum Event {
    Encoding,
    Encoded { name: String, quality: u8, bytes: u64 },
}

struct JobObserver {
    tx: mpsc::UnboundedSender<Event>,
    /// Resolves once the previous group is stored (its files freed).
    room: std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl Observer for JobObserver {
    fn encoding(&self) {
        let room = self.room.lock().ok().and_then(|mut r| r.take());
        if let Some(room) = room {
            let _ = room.blocking_recv(); // on the blocking pool: waiting here is fine
        }
        let _ = self.tx.send(Event::Encoding);
    }
    fn encoded(&self, target: &Target, quality: u8, bytes: u64) {
        let _ = self.tx.send(Event::Encoded { name: target.file_name(), quality, bytes });
    }
}

/// Runs [`render_group`] on the blocking pool while reporting its steps and progress.
#[allow(clippy::too_many_arguments)]
async fn render_on_pool(
    ctx: &JobContext,
    decoded: &Arc<Decoded>,
    group: &str,
    targets: &Arc<Vec<Target>>,
    settings: &Settings,
    limit: u64,
    spool: &std::path::Path,
    room: Option<tokio::sync::oneshot::Receiver<()>>,
    done: &mut usize,
    total: usize,
) -> Result<GroupPack, JobError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let observer = JobObserver { tx, room: std::sync::Mutex::new(room) };
    let (src, t, s, g, dir) = (decoded.clone(), targets.clone(), settings.clone(), group.to_owned(), spool.to_owned());
    let work = ctx.blocking(move || render_group(&src.pixels, &g, &t, &s, limit, &dir, &observer));
    let report = async {
        let mut seen = std::collections::HashSet::new();
        while let Some(event) = rx.recv().await {
            let result = match event {
                Event::Encoding => ctx.step("encoding").await,
                Event::Encoded { name, quality, bytes } => {
                    if seen.insert(name.clone()) {
                        *done += 1;
                    }
                    let fraction = *done as f64 / total.max(1) as f64;
                    let message = format!("{group}: {name} at quality {quality}, {bytes} bytes ({}/{total})", *done);
                    ctx.progress(fraction, Some(message)).await
                }
            };
            // A cancel or lost lease trips the token the renderer watches; keep draining.
            if let Err(e) = result
                && !e.is_cancelled()
                && e.code != "lease_lost"
            {
                tracing::warn!(error = %e, "progress report failed");
            }
        }
    };
    let (rendered, ()) = tokio::join!(work, report);
    rendered?.map_err(|e| render_error(ctx, e))
}

fn render_error(ctx: &JobContext, e: RenderError) -> JobError {
    match e {
        RenderError::Imaging(e) => job_error(ctx, e),
        RenderError::Spool(e) => spool_error(e),
    }
}

/// Writes one ZIP of a rendered group on the blocking pool, streaming it into the store.
async fn store_zip(ctx: &JobContext, rendered: Arc<GroupPack>, name: String) -> Result<Artifact, JobError> {
    let (writer, stream) = zipstream::channel();
    let zip_name = name.clone();
    let write = ctx.blocking(move || -> std::io::Result<()> {
        let zip =
            rendered.zips.iter().find(|z| z.name == zip_name).ok_or_else(|| std::io::Error::other("unknown zip"))?;
        zipstream::write_stored(writer, rendered.entries(zip)?).map_err(std::io::Error::other)?.finish()
    });
    let put = ctx.put_artifact(&name, "application/zip", stream);
    let (written, stored) = tokio::join!(write, put);
    written?.map_err(|e| JobError::transient(ZIP_FAILED, e.to_string()))?;
    stored
}

fn orientation_name(o: Orientation) -> &'static str {
    match o {
        Orientation::Portrait => "portrait",
        Orientation::Landscape => "landscape",
        Orientation::Square => "square",
    }
}

/// A private temporary directory for the job's encoded files (removed when dropped).
fn spool_dir() -> Result<tempfile::TempDir, JobError> {
    tempfile::Builder::new().prefix("tintype-print-").tempdir().map_err(spool_error)
}

/// Local disk trouble that may pass (full, out of inodes, an I/O error) is transient;
/// anything else (a name that exists, a permission) would fail the same way again.
fn spool_error(e: std::io::Error) -> JobError {
    use std::io::ErrorKind::{Interrupted, OutOfMemory, QuotaExceeded, StorageFull, TimedOut, WouldBlock};
    let message = format!("temporary file: {e}");
    let passes = matches!(e.kind(), StorageFull | QuotaExceeded | OutOfMemory | Interrupted | TimedOut | WouldBlock)
        || e.raw_os_error().is_some_and(|n| n == 5 /* EIO */);
    if passes { JobError::transient(SPOOL_FAILED, message) } else { JobError::permanent(SPOOL_FAILED, message) }
}
