//! `tintype run export FILE|URL... --out DIR [--name gallery.zip]`: the `export` job run
//! here, no server: the files become uploads of a throwaway deployment inside DIR (URLs
//! are fetched by the job under the `[fetch]` rules), and the ZIP, with its
//! `export_report.txt` when an item failed, lands in DIR.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tintype_blobs::BlobKey;
use tintype_queue::JobState;

use super::run::{Local, failure};
use crate::config::Config;

/// `tintype run export` flags.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Files or http(s) URLs, in ZIP order.
    #[arg(required = true)]
    pub(crate) inputs: Vec<String>,
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
    let local = Local::open(config, &args.out).await?;
    let mut items = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        if input.starts_with("http://") || input.starts_with("https://") {
            items.push(json!({ "url": input }));
        } else {
            items.push(json!({ "upload_id": local.upload(std::path::Path::new(input)).await? }));
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
    let result = &output.result;
    if args.json {
        println!("{}", serde_json::to_string_pretty(result)?);
        return Ok(());
    }
    println!(
        "{}: {} of {} items, {} bytes, sha256 {}",
        to.display(),
        result["written"],
        result["items"],
        artifact.bytes,
        artifact.sha256
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
