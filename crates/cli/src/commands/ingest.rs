//! `tintype run ingest FILE --out DIR`: the `ingest` job run here, with no server (the same
//! spec, runner and worker as a served job, over a throwaway database inside DIR). DIR
//! gets the renditions as `<size>.<ext>` (`1024.avif`, `512.webp`, `256.jpg`, ...) and the
//! photo's metadata, EXIF included, as `photo.json`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tintype_blobs::layout;

use super::run::{Local, failure};
use crate::config::Config;

/// `tintype run ingest` flags.
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// The photo (JPEG, PNG, WebP, TIFF, HEIC).
    pub(crate) input: PathBuf,
    /// Where the renditions and `photo.json` go (created if missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Print the job's result document as JSON instead of a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs the job and writes its renditions and metadata into `--out`.
pub(crate) async fn run(config: &Config, args: IngestArgs) -> anyhow::Result<()> {
    let local = Local::open(config, &args.out).await?;
    let upload = local.upload(&args.input).await?;
    let job = local.run("ingest", json!({ "upload_id": upload })).await?;
    if job.state != tintype_queue::JobState::Succeeded {
        return Err(failure(&job));
    }
    let result = job.output.map(|o| o.result).unwrap_or_default();
    let photo_id = result["photo_id"].as_str().context("the job named no photo")?;
    let library = local.assembly.backends.library.clone();
    let detail = library.get("local", photo_id).await?.context("the photo vanished")?;
    let mut written = Vec::new();
    for r in &detail.renditions {
        let ext = tintype_imaging::thumbnail::ThumbFormat::from_name(&r.format).map_or("bin", |f| f.ext());
        let key = layout::photo("local", photo_id, &r.size.to_string(), ext)?;
        let name = format!("{}.{ext}", r.size);
        let to = args.out.join(&name);
        std::fs::rename(local.blobs.path_of(&key), &to).with_context(|| format!("cannot write {}", to.display()))?;
        written.push((name, r.width, r.height, r.bytes));
    }
    let meta = args.out.join("photo.json");
    std::fs::write(&meta, serde_json::to_vec_pretty(&detail)?)
        .with_context(|| format!("cannot write {}", meta.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    written.sort();
    for (name, w, h, bytes) in written {
        println!("{name:<12} {w:>5}x{h:<5} {bytes:>9} bytes");
    }
    println!(
        "wrote {} ({}x{}, taken {})",
        meta.display(),
        detail.photo.width,
        detail.photo.height,
        detail.photo.exif.taken_at.map_or_else(|| "unknown".to_owned(), |t| t.to_rfc3339())
    );
    Ok(())
}
