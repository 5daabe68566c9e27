//! `tintype run export FILE|URL... --out DIR [--name gallery.zip]`: the `export` job run
//! here, no server: the files become uploads of a throwaway deployment inside DIR (URLs
//! are fetched by the job under the `[fetch]` rules), and the ZIP, with its
//! `export_report.txt` when an item failed, lands in DIR.
//!
//! `tintype submit export FILE|URL... [--album ID] --wait --out DIR` does the same through
//! a server: the files are uploaded, an album is the server's, and the ZIP is downloaded.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use tintype_blobs::BlobKey;
use tintype_queue::JobState;

use super::run::{Api, Local, failure, is_url};
use crate::config::Config;

/// `tintype run export` / `tintype submit export` flags.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Files or http(s) URLs, in ZIP order.
    #[arg(required_unless_present = "album")]
    pub(crate) inputs: Vec<String>,
    /// An album of the server's photo library instead of files (`submit` only).
    #[arg(long, conflicts_with = "inputs")]
    pub(crate) album: Option<String>,
    /// Where the ZIP goes.
    #[arg(long, default_value = ".")]
    pub(crate) out: PathBuf,
    /// The ZIP's file name.
    #[arg(long, default_value = "export.zip")]
    pub(crate) name: String,
    /// Print the job's result document as JSON instead of the summary.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs the export locally and moves the ZIP into `--out`.
pub(crate) async fn run(config: &Config, args: ExportArgs) -> anyhow::Result<()> {
    if args.album.is_some() {
        bail!("--album: albums live in a server's library; use `tintype submit export --album ID --wait`");
    }
    let local = Local::open(config, &args.out).await?;
    let mut items = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        if is_url(input) {
            items.push(json!({ "url": input }));
        } else {
            items.push(json!({ "upload_id": local.upload(Path::new(input)).await? }));
        }
    }
    let job = local.run("export", json!({ "items": items, "name": args.name })).await?;
    if job.state != JobState::Succeeded {
        return Err(failure(&job));
    }
    let output = job.output.clone().unwrap_or_default();
    let artifact = output.artifacts.first().context("the export stored no ZIP")?;
    let to = args.out.join(&artifact.name);
    let from = local.blobs.path_of(&BlobKey::new(artifact.key.clone())?);
    std::fs::rename(&from, &to).with_context(|| format!("cannot move the ZIP to {}", to.display()))?;
    print_summary(&output.result, &args.out, args.json)
}

/// The job input for `submit`: the files uploaded one by one (URLs and an album are the
/// server's to fetch and read).
pub(crate) async fn input(api: &Api, base: &str, args: &ExportArgs) -> anyhow::Result<Value> {
    if let Some(album) = &args.album {
        return Ok(json!({ "album_id": album, "name": args.name }));
    }
    let mut items = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        items.push(api.source(base, input).await?);
    }
    Ok(json!({ "items": items, "name": args.name }))
}

/// The summary of an export's result (the ZIP in `out`, then one line per failed item),
/// or the result document with `--json`.
pub(crate) fn print_summary(result: &Value, out: &Path, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(result)?);
        return Ok(());
    }
    let zip = &result["zip"];
    println!(
        "{}: {} of {} items, {} bytes, sha256 {}",
        out.join(zip["name"].as_str().unwrap_or("export.zip")).display(),
        result["written"],
        result["items"],
        zip["bytes"],
        zip["sha256"].as_str().unwrap_or("")
    );
    for f in result["failed"].as_array().into_iter().flatten() {
        println!(
            "failed: item {} ({}): {}: {}",
            f["index"].as_u64().unwrap_or(0) + 1,
            f["item"].as_str().unwrap_or(""),
            f["code"].as_str().unwrap_or(""),
            f["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
