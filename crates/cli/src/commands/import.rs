//! `tintype import DIR [--album NAME]`: a folder of photos into a server's library through
//! the presigned flow. Every file is hashed here first; the server answers
//! `duplicate_of` for content its library has (nothing is sent) and `uploaded` for bytes
//! it already holds (only the confirm is sent), so running it again after a Ctrl-C sends
//! only what is missing. Several files travel at once (`--concurrency`); the progress bar
//! counts files and bytes with the rate and an ETA; the summary lists what was imported,
//! what was a duplicate, and what failed and why. `--album` adds every photo (duplicates
//! included) to the album of that name, creating it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::run::Api;

/// File extensions imported (case-insensitive).
const PHOTO_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "tif", "tiff", "heic", "heif"];

/// `tintype import` flags.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The folder (searched recursively; hidden files and folders are skipped).
    pub(crate) dir: PathBuf,
    /// Add every photo to this album (created if missing).
    #[arg(long)]
    pub(crate) album: Option<String>,
    /// Files uploaded at once.
    #[arg(long, default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// The server's base URL.
    #[arg(long, env = "TINTYPE_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// API key (not needed when the server runs open on loopback).
    #[arg(long, env = "TINTYPE_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
}

/// What became of one file.
#[derive(Debug)]
enum Outcome {
    /// Filed as a new photo.
    Imported { photo: String, sent: u64 },
    /// The library had it (`sent` is 0 unless bytes were re-sent).
    Duplicate { photo: String },
    /// Refused or failed, with the code and message.
    Failed { code: String, message: String },
}

/// `tintype import DIR`.
pub(crate) async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let base = args.server.trim_end_matches('/').to_owned();
    let api = Arc::new(Api::new(args.api_key.clone()));
    let files = photos_in(&args.dir)?;
    if files.is_empty() {
        bail!("no photos (jpg, png, webp, tiff, heic) under {}", args.dir.display());
    }
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    let bar = bar(files.len() as u64, total);
    let sent = Arc::new(AtomicU64::new(0));
    let work = futures::stream::iter(files.clone())
        .map(|(path, size)| {
            let (api, base, bar, sent) = (api.clone(), base.clone(), bar.clone(), sent.clone());
            async move {
                let outcome = match one(&api, &base, &path, size, &bar, &sent).await {
                    Ok(outcome) => outcome,
                    Err(e) => Outcome::Failed { code: "client_error".into(), message: format!("{e:#}") },
                };
                bar.inc_length(0);
                bar.set_message(format!("{}", path.display()));
                (path, outcome)
            }
        })
        .buffer_unordered(args.concurrency.max(1));
    futures::pin_mut!(work);
    let mut outcomes = Vec::new();
    let interrupted = loop {
        tokio::select! {
            next = work.next() => match next {
                Some(done) => outcomes.push(done),
                None => break false,
            },
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    bar.finish_and_clear();
    if let Some(name) = &args.album
        && !interrupted
    {
        let photos: Vec<&str> = outcomes
            .iter()
            .filter_map(|(_, o)| match o {
                Outcome::Imported { photo, .. } | Outcome::Duplicate { photo } => Some(photo.as_str()),
                Outcome::Failed { .. } => None,
            })
            .collect();
        add_to_album(&api, &base, name, &photos).await?;
    }
    summary(&outcomes, files.len(), sent.load(Ordering::Relaxed), interrupted, args.album.as_deref())
}

/// Every photo file under `dir` with its size, in path order.
fn photos_in(dir: &Path) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let entries = std::fs::read_dir(&at).with_context(|| format!("cannot read {}", at.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && is_photo(&path) {
                out.push((path, entry.metadata()?.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PHOTO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn bar(files: u64, bytes: u64) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(bytes)
    } else {
        ProgressBar::hidden()
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {prefix} {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("0/{files} files"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One file: hash, presign, PUT if needed, confirm, wait for its `ingest` job.
async fn one(
    api: &Api,
    base: &str,
    path: &Path,
    size: u64,
    bar: &ProgressBar,
    sent: &AtomicU64,
) -> anyhow::Result<Outcome> {
    let owned = path.to_path_buf();
    let sha256 = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut file = std::fs::File::open(&owned)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await??;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let body = json!({ "filename": name, "bytes": size, "sha256": sha256, "content_type": mime_of(path) });
    let presigned = match api.call(api.http.post(format!("{base}/v1/uploads/presign")).json(&body)).await? {
        Ok(v) => v,
        Err(problem) => return Ok(failed(&problem)),
    };
    let done = |bar: &ProgressBar| {
        bar.inc(size);
        let files = bar.prefix();
        let n: u64 = files.split('/').next().and_then(|n| n.parse().ok()).unwrap_or(0) + 1;
        bar.set_prefix(format!("{n}/{}", files.split('/').nth(1).unwrap_or("?")));
    };
    if let Some(photo) = presigned["duplicate_of"].as_str() {
        done(bar);
        return Ok(Outcome::Duplicate { photo: photo.to_owned() });
    }
    let upload = presigned["upload_id"].as_str().context("presign answered no upload id")?.to_owned();
    let mut bytes_sent = 0;
    if presigned["uploaded"] != json!(true) {
        let url = presigned["url"].as_str().context("presign answered no url")?;
        let mut req = api.http.put(url);
        for (name, value) in presigned["headers"].as_object().into_iter().flatten() {
            req = req.header(name.as_str(), value.as_str().unwrap_or_default());
        }
        let file = tokio::fs::File::open(path).await?;
        let stream = tokio_util::io::ReaderStream::new(file);
        let res = req.header("content-length", size).body(reqwest::Body::wrap_stream(stream)).send().await?;
        if !res.status().is_success() {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            return Ok(Outcome::Failed {
                code: format!("put_{}", status.as_u16()),
                message: text.chars().take(300).collect(),
            });
        }
        bytes_sent = size;
        sent.fetch_add(size, Ordering::Relaxed);
    }
    let confirmed = match api.call(api.http.post(format!("{base}/v1/uploads/{upload}/confirm"))).await? {
        Ok(v) => v,
        Err(problem) => return Ok(failed(&problem)),
    };
    let job = confirmed["job"]["id"].as_str().context("confirm answered no job")?.to_owned();
    done(bar);
    let finished = wait_job(api, base, &job).await?;
    if finished["state"] != "succeeded" {
        return Ok(Outcome::Failed {
            code: finished["error"]["code"].as_str().or(finished["state"].as_str()).unwrap_or("unknown").to_owned(),
            message: finished["error"]["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    let result = &finished["result"];
    let photo = result["photo_id"].as_str().context("the job named no photo")?.to_owned();
    Ok(if result["duplicate"] == json!(true) {
        Outcome::Duplicate { photo }
    } else {
        Outcome::Imported { photo, sent: bytes_sent }
    })
}

fn failed(problem: &Value) -> Outcome {
    Outcome::Failed {
        code: problem["code"].as_str().unwrap_or("unknown").to_owned(),
        message: problem["detail"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The MIME type a file's extension names.
fn mime_of(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("tif" | "tiff") => "image/tiff",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        _ => "application/octet-stream",
    }
}

/// Polls the job until it ends (ingest jobs take a second or so).
async fn wait_job(api: &Api, base: &str, job: &str) -> anyhow::Result<Value> {
    let mut delay = Duration::from_millis(100);
    loop {
        let doc = api.send(api.http.get(format!("{base}/v1/jobs/{job}"))).await?;
        if matches!(doc["state"].as_str(), Some("succeeded" | "failed" | "cancelled" | "expired")) {
            return Ok(doc);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Adds `photos` to the album `name`, creating it.
async fn add_to_album(api: &Api, base: &str, name: &str, photos: &[&str]) -> anyhow::Result<()> {
    let albums = api.send(api.http.get(format!("{base}/v1/albums"))).await?;
    let existing = albums["albums"].as_array().into_iter().flatten().find(|a| a["name"] == name).cloned();
    let album = match existing {
        Some(a) => a,
        None => api.send(api.http.post(format!("{base}/v1/albums")).json(&json!({ "name": name }))).await?,
    };
    let id = album["id"].as_str().context("an album without an id")?;
    for chunk in photos.chunks(1000) {
        api.send(api.http.post(format!("{base}/v1/albums/{id}/photos")).json(&json!({ "photo_ids": chunk }))).await?;
    }
    Ok(())
}

/// Prints the summary; fails (exit 1) when a file failed or the run was interrupted.
fn summary(
    outcomes: &[(PathBuf, Outcome)],
    total: usize,
    sent: u64,
    interrupted: bool,
    album: Option<&str>,
) -> anyhow::Result<()> {
    let imported = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Imported { .. })).count();
    let duplicates = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Duplicate { .. })).count();
    let failed: Vec<_> = outcomes
        .iter()
        .filter_map(|(p, o)| match o {
            Outcome::Failed { code, message } => Some((p, code, message)),
            _ => None,
        })
        .collect();
    let resent: u64 =
        outcomes.iter().map(|(_, o)| if let Outcome::Imported { sent, .. } = o { *sent } else { 0 }).sum();
    debug_assert!(resent <= sent);
    println!(
        "imported {imported}, duplicates {duplicates}, failed {}, of {total} files; sent {sent} bytes",
        failed.len()
    );
    if let Some(album) = album.filter(|_| !interrupted) {
        println!("album {album:?}: {} photos added", imported + duplicates);
    }
    for (path, code, message) in &failed {
        println!("failed {}: {code}: {message}", path.display());
    }
    if interrupted {
        bail!("interrupted after {} of {total} files: run it again to send the rest", outcomes.len());
    }
    if !failed.is_empty() {
        bail!("{} files failed", failed.len());
    }
    Ok(())
}
