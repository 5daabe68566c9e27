//! The `ingest` job kind (SPEC §5, Photobomb): one upload into the photo library. The
//! original stays where the upload put it; the job reads its EXIF, makes the renditions
//! and files the photo, deduplicated within the tenant.
//!
//! - [`config`]: the `[ingest]` section.
//! - [`spec`]: the submit side ([`IngestSpec`]): the input and its checks.
//! - this module: the job, step by step:
//!   1. `verifying`: the upload is the tenant's; a photo with its sha256 already in the
//!      library ends the job as a duplicate (nothing stored); the bytes read back hash to
//!      the upload's sha256 (`checksum_mismatch` otherwise, permanent).
//!   2. `decoding`: one decode at the smallest DCT scale that serves the largest
//!      rendition, turned upright by the EXIF orientation (HEIF: by its container).
//!   3. `reading_exif`: typed fields (time taken with offset, camera, lens, exposure, GPS).
//!   4. `orienting`: the upright size recorded, the pixels converted to sRGB from an
//!      embedded profile.
//!   5. `hashing`: the 64-bit DCT perceptual hash.
//!   6. `thumbnailing`: the JPEG and WebP renditions of every size, encoded in parallel.
//!   7. `storing`: the photo's row (in `processing`; a concurrent job that filed the same
//!      content first wins, and this one ends as its duplicate), then the renditions under
//!      `t/<tenant>/photos/<photo>/<size>.<ext>`.
//!   8. `indexing`: the renditions' rows, near duplicates (Hamming distance under
//!      `near_duplicate_distance`) recorded as pairs, and the photo made `ready`: it is in
//!      the timeline from here.
//!   9. `encoding_avif` (when `[ingest] avif` is on): the AVIF renditions, after the photo
//!      is visible; the thumbnail route serves WebP or JPEG until they exist.
//!
//! A retried job (a crash, a lost lease: a later attempt) finds the row it made by upload
//! id and finishes it; rendition blobs are simply written again. Any other job for
//! content already filed (a second `ingest` of the same upload) ends as a duplicate.

pub mod config;
pub mod spec;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use sha2::{Digest, Sha256};
use tintype_blobs::layout::Area;
use tintype_blobs::{CHECKSUM_MISMATCH, bytes_stream};
use tintype_catalog::{Catalog, UPLOAD_NOT_FOUND};
use tintype_codes::common::INVALID_INPUT;
use tintype_imaging::decode::decode_with;
use tintype_imaging::exif::{self, ExifFields};
use tintype_imaging::thumbnail::{
    Encoded, PHASH_PARAMS, Prepared, ThumbFormat, ThumbOptions, cascade, encode_all, phash, to_srgb,
};
use tintype_library::{Exif, Library, NewPhoto, Photo, Rendition};
use tintype_queue::JobOutput;
use tintype_worker::{JobContext, JobError, JobRunner, ResultExt};

use crate::imaging::{interrupt, job_error};
use crate::sources::{Source, Sources};
pub use config::IngestSection;
pub use spec::{IngestInput, IngestSpec};

/// The kind name.
pub const KIND: &str = "ingest";

/// Steps, in order.
pub const STEPS: &[&str] = &[
    "verifying",
    "decoding",
    "reading_exif",
    "orienting",
    "hashing",
    "thumbnailing",
    "storing",
    "indexing",
    "encoding_avif",
];

/// The formats made before the photo is visible; AVIF follows.
const FIRST_FORMATS: [ThumbFormat; 2] = [ThumbFormat::Jpeg, ThumbFormat::WebP];

/// `ingest` in [`crate::PIPELINES`].
pub const PIPELINE: crate::Pipeline = crate::Pipeline {
    kind: KIND,
    spec: |s| Arc::new(IngestSpec::new(s.ingest.max_source_bytes)),
    runner: |s, deps| {
        Ok(Arc::new(Ingest {
            sources: deps.sources.clone(),
            catalog: deps.catalog.clone(),
            library: deps.library.clone(),
            section: s.ingest.clone(),
        }))
    },
};

/// The `ingest` runner.
#[derive(Clone)]
pub struct Ingest {
    sources: Sources,
    catalog: Arc<dyn Catalog>,
    library: Arc<dyn Library>,
    section: IngestSection,
}

#[async_trait]
impl JobRunner for Ingest {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn writes(&self) -> &'static [Area] {
        &[Area::Photos]
    }

    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        let input = IngestInput::parse(&ctx.job().input).map_err(|e| JobError::permanent(INVALID_INPUT, e))?;
        let tenant = ctx.job().tenant.clone();
        let limits = self.section.limits();
        let opts = self.section.thumb_options();

        ctx.step("verifying").await?;
        let upload = self.catalog.get_upload(&tenant, &input.upload_id).await.retryable()?.ok_or_else(|| {
            JobError::permanent(UPLOAD_NOT_FOUND, format!("no upload {} for this tenant", input.upload_id))
        })?;
        // The library has this content: a duplicate, unless this is a retry of the job
        // that was filing it (same upload, a later attempt), which finishes the work.
        if let Some(existing) = self.library.find_by_sha256(&tenant, &upload.sha256).await.retryable()?
            && (existing.upload_id != upload.id || ctx.job().attempt <= 1)
        {
            return Ok(duplicate(&existing));
        }
        let bytes = self.sources.read(&ctx, &Source::Upload(upload.id.clone()), limits.max_bytes).await?;
        let bytes = Arc::new(bytes);
        let hashed = bytes.clone();
        let sha256 = ctx.blocking(move || hex::encode(Sha256::digest(&hashed[..]))).await?;
        if sha256 != upload.sha256 {
            let message = format!("the stored bytes hash to {sha256}, not to the upload's {}", upload.sha256);
            return Err(JobError::permanent(CHECKSUM_MISMATCH, message));
        }

        ctx.step("decoding").await?;
        let largest = self.section.sizes.iter().copied().max().unwrap_or(1024);
        let source = bytes.clone();
        let stop = interrupt(&ctx, Duration::from_secs(self.section.decode_timeout_secs));
        let decoded = ctx
            .blocking(move || decode_with(&source, &limits, largest, &stop))
            .await?
            .map_err(|e| job_error(&ctx, e))?;
        let format = decoded.info.format;

        ctx.step("reading_exif").await?;
        let source = bytes.clone();
        let fields = ctx.blocking(move || exif::read(&source, format)).await?;

        ctx.step("orienting").await?;
        let prepared = Arc::new(ctx.blocking(move || to_srgb(decoded)).await?);

        ctx.step("hashing").await?;
        let hashed = prepared.clone();
        let hash = ctx.blocking(move || phash(&hashed.pixels)).await?;

        ctx.step("thumbnailing").await?;
        let (sized, sizes) = (prepared.clone(), self.section.sizes.clone());
        let images = Arc::new(ctx.blocking(move || cascade(&sized, &sizes)).await?.map_err(|e| job_error(&ctx, e))?);
        let first = encode(&ctx, images.clone(), &FIRST_FORMATS, opts).await?;

        ctx.step("storing").await?;
        let new = NewPhoto {
            tenant: tenant.clone(),
            upload_id: upload.id.clone(),
            sha256: upload.sha256.clone(),
            file_name: upload.filename.clone(),
            content_type: format.mime().to_owned(),
            bytes: upload.bytes,
            format: format.name().to_owned(),
            width: prepared.width,
            height: prepared.height,
            exif: exif_of(&fields),
            phash: Some(hash),
            phash_params: Some(PHASH_PARAMS.to_owned()),
        };
        let (photo, inserted) = self.library.begin_photo(new).await.retryable()?;
        if !inserted && (photo.upload_id != upload.id || ctx.job().attempt <= 1) {
            return Ok(duplicate(&photo));
        }
        let mut renditions = store(&ctx, &photo, first).await?;

        ctx.step("indexing").await?;
        self.library.put_renditions(&tenant, &photo.id, &renditions).await.retryable()?;
        let threshold = self.section.near_duplicate_distance.saturating_sub(1);
        let near = self.library.nearest(&tenant, hash, threshold, Some(&photo.id), 100).await.retryable()?;
        let pairs: Vec<(String, u32)> = near.iter().map(|s| (s.photo.id.clone(), s.distance)).collect();
        self.library.record_near_duplicates(&tenant, &photo.id, &pairs).await.retryable()?;
        self.library.set_ready(&tenant, &photo.id).await.retryable()?;

        if self.section.avif {
            ctx.step("encoding_avif").await?;
            let avif = encode(&ctx, images, &[ThumbFormat::Avif], opts).await?;
            let stored = store(&ctx, &photo, avif).await?;
            self.library.put_renditions(&tenant, &photo.id, &stored).await.retryable()?;
            renditions.extend(stored);
        }
        Ok(JobOutput { artifacts: Vec::new(), result: output(&photo, &prepared, &renditions, &pairs) })
    }
}

/// Encodes every image in `formats` on the blocking pool, then checks for a cancel.
async fn encode(
    ctx: &JobContext,
    images: Arc<Vec<(u32, image::RgbImage)>>,
    formats: &'static [ThumbFormat],
    opts: ThumbOptions,
) -> Result<Vec<Encoded>, JobError> {
    let encoded = ctx.blocking(move || encode_all(&images, formats, &opts)).await?.map_err(|e| job_error(ctx, e))?;
    ctx.check_cancelled()?;
    Ok(encoded)
}

/// Stores renditions under the photo's folder; their rows name them.
async fn store(ctx: &JobContext, photo: &Photo, encoded: Vec<Encoded>) -> Result<Vec<Rendition>, JobError> {
    let mut renditions = Vec::with_capacity(encoded.len());
    for e in encoded {
        let rest = format!("{}/{}.{}", photo.id, e.size, e.format.ext());
        let stored = ctx.put_in(Area::Photos, &rest, e.format.mime(), bytes_stream(e.bytes)).await?;
        renditions.push(Rendition {
            size: e.size,
            format: e.format.name().to_owned(),
            width: e.width,
            height: e.height,
            bytes: stored.bytes,
            // Strong: the content's own hash (a rendition is never rewritten differently).
            etag: format!("\"{}\"", &stored.sha256[..32]),
        });
    }
    Ok(renditions)
}

/// The job's result for content the library already has.
fn duplicate(existing: &Photo) -> JobOutput {
    JobOutput {
        artifacts: Vec::new(),
        result: json!({ "photo_id": existing.id, "duplicate_of": existing.id, "duplicate": true }),
    }
}

/// The job's result for a new photo.
fn output(photo: &Photo, prepared: &Prepared, renditions: &[Rendition], near: &[(String, u32)]) -> serde_json::Value {
    json!({
        "photo_id": photo.id,
        "duplicate": false,
        "duplicate_of": null,
        "format": photo.format,
        "width": prepared.width,
        "height": prepared.height,
        "srgb_converted": prepared.converted_profile,
        "taken_at": photo.exif.taken_at,
        "renditions": renditions,
        "near_duplicates": near.iter().map(|(id, d)| json!({ "photo_id": id, "distance": d })).collect::<Vec<_>>(),
    })
}

/// The library's EXIF columns from the imaging crate's fields.
fn exif_of(f: &ExifFields) -> Exif {
    Exif {
        taken_at: f.taken_at,
        taken_offset_minutes: f.taken_offset_minutes,
        make: f.make.clone(),
        model: f.model.clone(),
        lens: f.lens.clone(),
        exposure_time: f.exposure_time,
        f_number: f.f_number,
        iso: f.iso,
        focal_length_mm: f.focal_length_mm,
        gps_latitude: f.gps_latitude,
        gps_longitude: f.gps_longitude,
        gps_altitude: f.gps_altitude,
        orientation: f.orientation,
    }
}
