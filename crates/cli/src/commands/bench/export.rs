//! `tintype bench export DIR`: the export job over every file of DIR, as uploads in the
//! local blob store of a scratch deployment (imported first, untimed), through the real
//! spec, runner and worker: the ZIP is written into the same store (temp file, fsync,
//! rename), like `cat | dd conv=fsync` in `../shared/bench/export_anchor.sh`. Prints the
//! throughput and the peak RSS of the export alone (the kernel's high-water mark is reset
//! just before it starts).

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::commands::run::{Local, failure};
use crate::config::Config;

/// Imports DIR, runs the export, prints the figures.
pub(super) async fn run(config: &Config, dir: &Path, concurrency: Option<usize>) -> anyhow::Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "{} has no files", dir.display());
    let scratch = tempfile::tempdir()?;
    let mut config = config.clone();
    if let Some(c) = concurrency {
        config.pipelines.export.concurrency = c;
    }
    let local = Local::open(&config, scratch.path()).await?;
    let mut items = Vec::with_capacity(files.len());
    let mut bytes = 0u64;
    for f in &files {
        bytes += std::fs::metadata(f)?.len();
        items.push(json!({ "upload_id": local.upload(f).await? }));
    }
    eprintln!("imported {} files, {:.1} MB", files.len(), bytes as f64 / 1e6);
    reset_peak_rss();
    let before = status_kb("VmRSS:");
    let start = std::time::Instant::now();
    let job = local.run("export", json!({ "items": items, "name": "bench.zip" })).await?;
    let secs = start.elapsed().as_secs_f64();
    if job.state != tintype_queue::JobState::Succeeded {
        return Err(failure(&job));
    }
    let zip = job.output.as_ref().and_then(|o| o.artifacts.first()).map_or(0, |a| a.bytes);
    let mb = |kb: Option<u64>| kb.map_or("unknown".to_owned(), |kb| format!("{:.1} MB", kb as f64 / 1024.0));
    let (before, peak) = (mb(before), mb(status_kb("VmHWM:")));
    println!(
        "export: {} files, {:.1} MB into a {:.1} MB ZIP in {secs:.3} s, {:.0} MB/s; \
         RSS when it started {before}; peak RSS during the export {peak}",
        files.len(),
        bytes as f64 / 1e6,
        zip as f64 / 1e6,
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}

/// Resets the kernel's peak-RSS mark of this process (Linux: `5` into `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `/proc/self/status` figure of this process (`VmHWM:` the peak RSS, `VmRSS:` the
/// current one), KiB.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
