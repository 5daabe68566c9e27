//! The synchronous heart of `print`: from a decoded artwork to the JPEGs of one group,
//! each at the quality that keeps the group's ZIP under the limit. Runs on a blocking
//! thread; spreads one group's files over `threads` scoped threads, each resizing and
//! encoding in bands straight into a spool file (local temp disk), so peak memory is the
//! decoded source plus one band per thread: finished files are never held in memory.
//!
//! Fitting the limit without encoding every size at every quality:
//! 1. **estimate**: resize a few strips of every output and encode them at quality 80
//!    (and at 70 and 60 only if 80 looks too big); scale bytes per row to the whole file;
//! 2. **plan** ([`super::plan`]): the highest quality whose predicted ZIP fits with a margin,
//!    or, when even 60 does not, as few parts as 60 needs at the highest quality that fits;
//! 3. **verify**: encode every file once at that quality and measure the exact ZIP (or
//!    parts, packed by real sizes); on a miss, correct the estimates by what was measured
//!    and step down (rare), until 60, where whatever number of parts is needed is made.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use image::RgbImage;
use serde::Serialize;
use tintype_imaging::catalog::{Orientation, PrintSize};
use tintype_imaging::encode::{JpegOptions, JpegWriter};
use tintype_imaging::geometry::{Fit, SourceRect, source_rect};
use tintype_imaging::resize::{BandResizer, DEFAULT_BAND_ROWS};
use tintype_imaging::watermark::Watermark;
use tintype_imaging::{ImagingError, Interrupt, Step};

use super::plan::{MIN_QUALITY, Plan, QUALITY_STEPS, SizeModel, plan};
use crate::zipstream::zip_size;

/// Outputs below this many source pixels per printed inch are flagged.
pub const LOW_DPI: f64 = 150.0;

/// Strips sampled per output for the size estimate, and rows per strip (two 4:2:0 MCU rows).
const SAMPLE_STRIPS: u32 = 4;
const SAMPLE_ROWS: u32 = 32;

/// How outputs are made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Print resolution, written to the JFIF header.
    pub dpi: u32,
    /// Stretch or crop.
    pub fit: Fit,
    /// ICC profile of the source, embedded in every output.
    pub icc: Option<Vec<u8>>,
    /// A visible watermark, if wanted.
    pub watermark: Option<Watermark>,
    /// Threads for one group (files are encoded in parallel, one per thread).
    pub threads: usize,
    /// When to stop (the job's cancel, the encoding deadline): checked between files and
    /// between the bands of each.
    pub interrupt: Interrupt,
}

/// One output to make.
#[derive(Debug, Clone)]
pub struct Target {
    /// Catalog entry.
    pub size: &'static PrintSize,
    /// Output pixels.
    pub width: u32,
    /// Output pixels.
    pub height: u32,
    /// Part of the source it shows.
    pub rect: SourceRect,
    /// Printed size in inches (width, height).
    pub inches: (f64, f64),
}

impl Target {
    /// The output for `size` from a `src_w` x `src_h` source.
    pub fn new(
        size: &'static PrintSize,
        orientation: Orientation,
        src: (u32, u32),
        settings: &Settings,
    ) -> Result<Self, ImagingError> {
        let (width, height) = size.pixels(settings.dpi, orientation);
        let rect = source_rect(src.0, src.1, width, height, settings.fit)?;
        Ok(Target { size, width, height, rect, inches: size.inches(orientation) })
    }

    /// `8x10_2400x3000.jpg`.
    pub fn file_name(&self) -> String {
        self.size.file_name(self.width, self.height)
    }

    /// Source pixels per printed inch along the limiting side.
    pub fn effective_dpi(&self) -> f64 {
        (self.rect.width / self.inches.0).min(self.rect.height / self.inches.1)
    }

    fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// One finished JPEG, in its spool file.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Which target (index into the group's targets).
    pub index: usize,
    /// JPEG quality it got.
    pub quality: u8,
    /// File size.
    pub bytes: u64,
    /// The spool file.
    pub path: PathBuf,
}

impl Encoded {
    /// The file, for reading.
    pub fn open(&self) -> io::Result<File> {
        File::open(&self.path)
    }

    /// The whole file.
    pub fn read(&self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }
}

/// What the caller hears while a group is made.
pub trait Observer: Sync {
    /// Estimating is over; encoding the files starts (it may block until the caller has
    /// room for this group's files).
    fn encoding(&self) {}
    /// A file was encoded (possibly again, at a lower quality).
    fn encoded(&self, target: &Target, quality: u8, bytes: u64);
}

/// An observer that hears nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn encoded(&self, _: &Target, _: u8, _: u64) {}
}

/// Why rendering stopped.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An imaging step failed, or the interrupt stopped the work
    /// ([`ImagingError::Cancelled`], [`ImagingError::TimedOut`]).
    #[error(transparent)]
    Imaging(#[from] ImagingError),
    /// A spool file could not be written or read.
    #[error("spool file: {0}")]
    Spool(#[from] io::Error),
}

/// A report line for one output, as the job output carries it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// Path inside the ZIP (pack) or the file name (single).
    pub name: String,
    /// Catalog label.
    pub size: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Printed inches (width, height).
    pub inches: (f64, f64),
    /// JPEG quality.
    pub quality: u8,
    /// File size.
    pub bytes: u64,
    /// Source pixels per printed inch along the limiting side (one decimal).
    pub effective_dpi: f64,
    /// Below [`LOW_DPI`]: the print may look soft.
    pub low_resolution: bool,
    /// The ZIP it is in (pack mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
}

impl FileReport {
    /// The report for an encoded target.
    pub fn new(target: &Target, name: String, quality: u8, bytes: u64, zip: Option<String>) -> Self {
        let dpi = target.effective_dpi();
        FileReport {
            name,
            size: target.size.label.to_owned(),
            width: target.width,
            height: target.height,
            inches: target.inches,
            quality,
            bytes,
            effective_dpi: (dpi * 10.0).round() / 10.0,
            low_resolution: dpi < LOW_DPI,
            zip,
        }
    }
}

/// An output left out of a pack because even alone at quality 60 its ZIP exceeds the limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// Catalog label.
    pub size: String,
    /// Bytes at quality 60.
    pub bytes: u64,
    /// Stable code: `too_large_for_zip`.
    pub code: tintype_codes::Code,
}

/// One ZIP of a group: its name and entries (path inside, index into the encoded files).
#[derive(Debug, Clone)]
pub struct ZipPlan {
    /// `2x3_print_sizes.zip` or `2x3_print_sizes_part2.zip`.
    pub name: String,
    /// `(path inside, index into GroupPack::files)`.
    pub entries: Vec<(String, usize)>,
    /// Exact size of the archive.
    pub bytes: u64,
}

/// A finished group: the encoded files and how they are zipped.
#[derive(Debug)]
pub struct GroupPack {
    /// Group name.
    pub group: String,
    /// Encoded files, in catalog order (skipped ones absent).
    pub files: Vec<Encoded>,
    /// The ZIPs (more than one when split).
    pub zips: Vec<ZipPlan>,
    /// Whether the group had to be split.
    pub split: bool,
    /// Outputs left out.
    pub skipped: Vec<Skipped>,
    /// Encodes spent (files × attempts): a measure of how good the estimate was.
    pub encodes: usize,
}

impl GroupPack {
    /// The entries of one ZIP with their opened files, for writing.
    pub fn entries(&self, zip: &ZipPlan) -> io::Result<Vec<(String, File)>> {
        zip.entries.iter().map(|(name, i)| Ok((name.clone(), self.files[*i].open()?))).collect()
    }
}

/// The folder inside a group's ZIPs: `2x3_print_sizes`.
pub fn folder(group: &str) -> String {
    format!("{group}_print_sizes")
}

/// Makes every output of one group so that each ZIP stays under `limit` bytes. The files
/// are written to `spool` (a directory the caller owns and removes).
pub fn render_group(
    src: &RgbImage,
    group: &str,
    targets: &[Target],
    settings: &Settings,
    limit: u64,
    spool: &Path,
    observer: &dyn Observer,
) -> Result<GroupPack, RenderError> {
    let folder = folder(group);
    let names: Vec<String> = targets.iter().map(|t| format!("{folder}/{}", t.file_name())).collect();
    // 1. Estimate at 80; sample lower qualities only if 80 does not fit.
    let mut models = estimate(src, targets, settings, &[80])?;
    if !matches!(plan(&names, &models, limit), Plan::One { quality: 80 }) {
        let more = estimate(src, targets, settings, &[70, 60])?;
        for (m, extra) in models.iter_mut().zip(more) {
            m.points.extend(extra.points);
        }
    }
    // 2. Plan, 3. encode and verify, stepping down on a miss. `parts`: how many ZIPs the
    // plan allows (None: one).
    let (mut quality, mut parts) = match plan(&names, &models, limit) {
        Plan::One { quality } => (quality, None),
        Plan::Split { quality, parts } => (quality, Some(parts.len())),
    };
    let mut files: Vec<Option<Encoded>> = vec![None; targets.len()];
    let mut encodes = 0;
    observer.encoding();
    loop {
        let todo: Vec<usize> =
            (0..targets.len()).filter(|i| files[*i].as_ref().is_none_or(|f| f.quality != quality)).collect();
        encodes += todo.len();
        for e in encode_all(src, targets, &todo, quality, settings, spool, observer)? {
            let i = e.index;
            files[i] = Some(e);
        }
        if parts.is_none() {
            let done: Vec<&Encoded> = files.iter().flatten().collect();
            let total = zip_size(done.iter().map(|e| (names[e.index].as_str(), e.bytes)));
            if total <= limit {
                let entries = done.iter().map(|e| (names[e.index].clone(), e.index)).collect();
                let zips = vec![ZipPlan { name: format!("{folder}.zip"), entries, bytes: total }];
                return Ok(finish(group, files, zips, false, Vec::new(), encodes));
            }
        }
        if parts.is_some() || quality <= MIN_QUALITY {
            let pack = split_group(group, &names, files.clone(), limit, encodes);
            let within_plan = parts.is_some_and(|k| pack.zips.len() <= k && pack.skipped.is_empty());
            if within_plan || quality <= MIN_QUALITY {
                return Ok(pack);
            }
        }
        // Correct every model by what quality `quality` really gave, then re-plan below it.
        for (m, f) in models.iter_mut().zip(&files) {
            if let Some(f) = f {
                let predicted = m.at(f.quality).max(1.0);
                let ratio = f.bytes as f64 / predicted;
                for p in &mut m.points {
                    p.1 *= ratio;
                }
                m.points.push((f.quality, f.bytes as f64));
            }
        }
        (quality, parts) = match plan(&names, &models, limit) {
            Plan::One { quality: q } if q < quality => (q, None),
            Plan::One { .. } => (next_step_below(quality), parts),
            Plan::Split { quality: q, parts: p } if q < quality => (q, Some(p.len())),
            Plan::Split { parts: p, .. } => (next_step_below(quality), Some(p.len())),
        };
    }
}

fn next_step_below(quality: u8) -> u8 {
    QUALITY_STEPS.iter().copied().find(|q| *q < quality).unwrap_or(MIN_QUALITY)
}

fn finish(
    group: &str,
    files: Vec<Option<Encoded>>,
    mut zips: Vec<ZipPlan>,
    split: bool,
    skipped: Vec<Skipped>,
    encodes: usize,
) -> GroupPack {
    // Re-index entries into the dense list of kept files.
    let mut dense = Vec::new();
    let mut position = vec![usize::MAX; files.len()];
    for f in files.into_iter().flatten() {
        position[f.index] = dense.len();
        dense.push(f);
    }
    for z in &mut zips {
        for entry in &mut z.entries {
            entry.1 = position[entry.1];
        }
    }
    GroupPack { group: group.to_owned(), files: dense, zips, split, skipped, encodes }
}

/// Everything at quality 60 and still too big: parts by real size (first-fit decreasing),
/// each checked exactly; a file too big for a ZIP of its own is left out and reported.
fn split_group(
    group: &str,
    names: &[String],
    mut files: Vec<Option<Encoded>>,
    limit: u64,
    encodes: usize,
) -> GroupPack {
    let alone = |i: usize, f: &Encoded| zip_size([(names[i].as_str(), f.bytes)]);
    let mut skipped = Vec::new();
    for (i, slot) in files.iter_mut().enumerate() {
        if let Some(f) = slot
            && alone(i, f) > limit
        {
            let size = names[i].rsplit('/').next().unwrap_or_default().split('_').next().unwrap_or_default();
            skipped.push(Skipped { size: size.to_owned(), bytes: f.bytes, code: super::TOO_LARGE_FOR_ZIP });
            *slot = None;
        }
    }
    let kept: Vec<usize> = (0..files.len()).filter(|i| files[*i].is_some()).collect();
    let sizes: Vec<u64> = kept
        .iter()
        .map(|i| files[*i].as_ref().map_or(0, |f| f.bytes + super::plan::entry_overhead(&names[*i])))
        .collect();
    let capacity = limit.saturating_sub(super::plan::ZIP_TRAILER);
    let mut parts: Vec<Vec<usize>> =
        super::plan::split(&sizes, capacity).into_iter().map(|p| p.into_iter().map(|k| kept[k]).collect()).collect();
    // The overhead figure is an upper bound; still, measure each part and move its last
    // file on until it fits.
    let mut i = 0;
    while i < parts.len() {
        let measure = |part: &[usize]| {
            zip_size(part.iter().filter_map(|j| files[*j].as_ref().map(|f| (names[*j].as_str(), f.bytes))))
        };
        if parts[i].len() > 1 && measure(&parts[i]) > limit {
            let moved = parts[i].pop().unwrap_or_default();
            parts.insert(i + 1, vec![moved]);
            continue;
        }
        i += 1;
    }
    let folder = folder(group);
    let many = parts.len() > 1;
    let zips = parts
        .iter()
        .enumerate()
        .map(|(n, part)| {
            let entries: Vec<(String, usize)> = part.iter().map(|j| (names[*j].clone(), *j)).collect();
            let bytes = zip_size(part.iter().filter_map(|j| files[*j].as_ref().map(|f| (names[*j].as_str(), f.bytes))));
            let name = if many { format!("{folder}_part{}.zip", n + 1) } else { format!("{folder}.zip") };
            ZipPlan { name, entries, bytes }
        })
        .collect();
    finish(group, files, zips, many, skipped, encodes)
}

/// Size models for every target from sample strips encoded at `qualities`.
fn estimate(
    src: &RgbImage,
    targets: &[Target],
    settings: &Settings,
    qualities: &[u8],
) -> Result<Vec<SizeModel>, RenderError> {
    let order: Vec<usize> = (0..targets.len()).collect();
    let mut models = parallel(&order, settings, |i| {
        let t = &targets[i];
        let rows = SAMPLE_ROWS.min(t.height);
        let strips = SAMPLE_STRIPS.min(t.height / rows).max(1);
        let mut resizer = BandResizer::new(src, t.rect, t.width, t.height, rows)?;
        let mut sample = Vec::with_capacity((t.width * rows * strips * 3) as usize);
        for s in 0..strips {
            // Start on a 16-row boundary, as the JPEG's own MCU rows do.
            let first = (t.height - rows) * (2 * s + 1) / (2 * strips) / 16 * 16;
            sample.extend_from_slice(resizer.rows_at(first, rows)?);
        }
        let sampled_rows = rows * strips;
        let header = header_bytes(settings);
        let mut points = Vec::new();
        for &q in qualities {
            let opts = jpeg_options(settings, q);
            let mut w = JpegWriter::new(t.width, sampled_rows, &opts, std::io::sink())?;
            w.write_rows(0, &sample)?;
            let (_, bytes) = w.finish()?;
            let per_row = (bytes as f64 - header as f64).max(0.0) / f64::from(sampled_rows);
            points.push((q, header as f64 + per_row * f64::from(t.height)));
        }
        Ok::<_, RenderError>((i, SizeModel { points }))
    })?;
    models.sort_by_key(|(i, _)| *i);
    Ok(models.into_iter().map(|(_, m)| m).collect())
}

/// Bytes of a JPEG that do not grow with the image (markers, tables, the ICC profile).
fn header_bytes(settings: &Settings) -> u64 {
    620 + settings.icc.as_ref().map_or(0, |icc| icc.len() as u64 + 18 * icc.len().div_ceil(65_000) as u64)
}

fn jpeg_options(settings: &Settings, quality: u8) -> JpegOptions {
    JpegOptions { quality, dpi: settings.dpi.min(u32::from(u16::MAX)) as u16, icc: settings.icc.clone() }
}

/// Encodes the targets `todo` at `quality`, largest first, on `settings.threads` threads.
fn encode_all(
    src: &RgbImage,
    targets: &[Target],
    todo: &[usize],
    quality: u8,
    settings: &Settings,
    spool: &Path,
    observer: &dyn Observer,
) -> Result<Vec<Encoded>, RenderError> {
    let mut order = todo.to_vec();
    order.sort_by_key(|i| std::cmp::Reverse(targets[*i].pixels()));
    parallel(&order, settings, |i| {
        let t = &targets[i];
        let path = spool.join(format!("{i}.jpg"));
        let (file, bytes) =
            encode_to(BufWriter::with_capacity(1 << 20, File::create(&path)?), src, t, quality, settings)?;
        file.into_inner().map_err(io::IntoInnerError::into_error)?;
        observer.encoded(t, quality, bytes);
        Ok(Encoded { index: i, quality, bytes, path })
    })
}

/// Resizes and encodes one output band by band into memory (small outputs, tests).
pub fn encode_one(src: &RgbImage, t: &Target, quality: u8, settings: &Settings) -> Result<Vec<u8>, ImagingError> {
    encode_to(Vec::new(), src, t, quality, settings).map(|(out, _)| out)
}

/// Resizes and encodes one output band by band into `out`; returns it and the bytes written.
pub fn encode_to<W: Write>(
    out: W,
    src: &RgbImage,
    t: &Target,
    quality: u8,
    settings: &Settings,
) -> Result<(W, u64), ImagingError> {
    let mut bands = BandResizer::new(src, t.rect, t.width, t.height, DEFAULT_BAND_ROWS)?;
    let mut writer = JpegWriter::new(t.width, t.height, &jpeg_options(settings, quality), out)?;
    while let Some(band) = bands.next_band() {
        settings.interrupt.check(Step::Encode)?;
        let (first, pixels) = band?;
        if let Some(mark) = &settings.watermark {
            mark.apply(pixels, first, t.width, t.height);
        }
        writer.write_rows(first, pixels)?;
    }
    writer.finish()
}

/// Runs `f` over `order` on up to `settings.threads` scoped threads (work taken in
/// order), stopping at the first error or when the interrupt says so. Results come back
/// in completion order.
fn parallel<T: Send>(
    order: &[usize],
    settings: &Settings,
    f: impl Fn(usize) -> Result<T, RenderError> + Sync,
) -> Result<Vec<T>, RenderError> {
    let threads = settings.threads;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = std::sync::Mutex::new(Vec::with_capacity(order.len()));
    let first_error = std::sync::Mutex::new(None);
    let stop = |e: RenderError| {
        failed.store(true, Ordering::Relaxed);
        if let Ok(mut slot) = first_error.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
    };
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            if let Err(e) = settings.interrupt.check(Step::Encode) {
                return stop(e.into());
            }
            let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else { return };
            match f(i) {
                Ok(r) => {
                    if let Ok(mut v) = results.lock() {
                        v.push(r);
                    }
                }
                Err(e) => return stop(e),
            }
        }
    };
    let threads = threads.clamp(1, order.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}
