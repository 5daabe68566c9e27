//! `tintype run KIND ...`: runs one job locally, with no server: a throwaway SQLite
//! database and blob directory (inside `--out`, so the results are moved, not copied), the
//! real spec and runner on a one-slot worker, a progress bar from the job's watch. The
//! same code path as a served job, so `run` is also the honest benchmark of a pipeline.
//!
//! `tintype submit KIND ...` does the same through a running server: upload, create the
//! job, follow its event stream, download the results.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tintype_blobs::{BlobKey, BlobStore, LocalStore, PutOptions};
use tintype_catalog::{Catalog, NewUpload};
use tintype_db::Db;
use tintype_kinds::Submit;
use tintype_queue::watch::{REREAD, watch};
use tintype_queue::{EngineConfig, Job, JobState, NewJob};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::wiring::{self, Backends};

/// Job kinds `run` and `submit` know.
#[derive(Debug, Subcommand)]
pub(crate) enum KindCommand {
    /// Print-ready ZIP packs (one per ratio group) or one JPEG at one size.
    Print(PrintArgs),
    /// A photo's library renditions and metadata (`run` only; `tintype import` sends
    /// photos to a server).
    Ingest(super::ingest::IngestArgs),
    /// Files or URLs (or, through a server, an album) into one ZIP.
    Export(super::export::ExportArgs),
}

/// The `print` job's input as flags.
#[derive(Debug, Args)]
pub(crate) struct PrintArgs {
    /// The artwork: a file path, or an http(s) URL.
    pub(crate) input: String,
    /// Where the results go (created if missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Groups of a pack, comma-separated (default all): 2x3,3x4,4x5,iso,extras.
    #[arg(long)]
    pub(crate) groups: Option<String>,
    /// `pack` (default) or `single`.
    #[arg(long)]
    pub(crate) mode: Option<String>,
    /// Size of a single export, e.g. 8x10, A4, 12x12.
    #[arg(long)]
    pub(crate) size: Option<String>,
    /// Orientation of a single export: auto, portrait, landscape.
    #[arg(long)]
    pub(crate) orientation: Option<String>,
    /// `stretch` (default) or `crop`.
    #[arg(long)]
    pub(crate) fit: Option<String>,
    /// Focal point for crop, `x,y` in 0..1.
    #[arg(long)]
    pub(crate) focal: Option<String>,
    /// Print resolution (default 300).
    #[arg(long)]
    pub(crate) dpi: Option<u32>,
    /// Largest ZIP in bytes (default 20000000).
    #[arg(long)]
    pub(crate) max_zip_bytes: Option<u64>,
    /// Draw a visible watermark.
    #[arg(long)]
    pub(crate) watermark: bool,
    /// Print the job's result document as JSON instead of a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

impl PrintArgs {
    /// The job input, with the source given as `source` (`{"upload_id": ..}` or `{"url": ..}`).
    pub(crate) fn input(&self, source: Value) -> anyhow::Result<Value> {
        let mut doc = source;
        let set = |doc: &mut Value, key: &str, v: Value| doc[key] = v;
        if let Some(g) = &self.groups {
            set(&mut doc, "groups", json!(g.split(',').map(str::trim).collect::<Vec<_>>()));
        }
        for (key, v) in
            [("mode", &self.mode), ("size", &self.size), ("orientation", &self.orientation), ("fit", &self.fit)]
        {
            if let Some(v) = v {
                set(&mut doc, key, json!(v));
            }
        }
        if let Some(f) = &self.focal {
            let parts: Vec<f64> = f
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--focal: expected x,y numbers, got {f:?}"))?;
            let [x, y] = parts[..] else { bail!("--focal: expected two numbers x,y, got {f:?}") };
            set(&mut doc, "focal", json!([x, y]));
        }
        if let Some(d) = self.dpi {
            set(&mut doc, "dpi", json!(d));
        }
        if let Some(m) = self.max_zip_bytes {
            set(&mut doc, "max_zip_bytes", json!(m));
        }
        if self.watermark {
            set(&mut doc, "watermark", json!(true));
        }
        Ok(doc)
    }
}

/// A failed job, as the CLI reports it (exit status 1, the code first on stderr).
#[derive(Debug, thiserror::Error)]
#[error("{kind} failed: {code}: {message}")]
pub(crate) struct JobFailed {
    pub(crate) kind: String,
    pub(crate) code: String,
    pub(crate) message: String,
}

pub(crate) fn is_url(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://")
}

/// `tintype run KIND ...`.
pub(crate) async fn run(config: &Config, cmd: KindCommand) -> anyhow::Result<()> {
    match cmd {
        KindCommand::Print(args) => run_print(config, args).await,
        KindCommand::Ingest(args) => super::ingest::run(config, args).await,
        KindCommand::Export(args) => super::export::run(config, args).await,
    }
}

/// A one-job deployment inside `--out`: a throwaway SQLite file and blob directory (in a
/// hidden temp folder removed on drop), assembled like `serve`'s.
pub(crate) struct Local {
    /// The scratch folder.
    _scratch: tempfile::TempDir,
    /// Backends, sections and settings.
    pub(crate) assembly: tintype_app::Assembly,
    /// The blob directory (results are moved out of it).
    pub(crate) blobs: Arc<LocalStore>,
}

impl Local {
    /// Creates `out` and the scratch deployment inside it (first removing the scratch
    /// folders of earlier runs that were killed before they could).
    pub(crate) async fn open(config: &Config, out: &Path) -> anyhow::Result<Local> {
        std::fs::create_dir_all(out).with_context(|| format!("--out: cannot create {}", out.display()))?;
        remove_stale_scratch(out);
        let scratch = tempfile::Builder::new()
            .prefix(SCRATCH_PREFIX)
            .tempdir_in(out)
            .with_context(|| format!("--out: cannot write in {}", out.display()))?;
        std::fs::write(scratch.path().join("pid"), std::process::id().to_string())?;
        let url = format!("sqlite://{}", scratch.path().join("run.db").display());
        let db = Db::Sqlite(tintype_db::SqliteDb::open(&url).await?);
        let backends = Backends::open(db, EngineConfig::default()).await?;
        let blobs = Arc::new(LocalStore::open(scratch.path().join("blobs"))?);
        let mut assembly = wiring::assembly(config, backends, blobs.clone())?;
        assembly.worker.concurrency = 1;
        Ok(Local { _scratch: scratch, assembly, blobs })
    }

    /// Files a local file as an upload of tenant `local`; returns its id.
    pub(crate) async fn upload(&self, path: &Path) -> anyhow::Result<String> {
        local_upload(&*self.assembly.backends.catalog, &*self.blobs, path).await
    }

    /// Validates `input` through the kind's spec (a refusal is a [`JobFailed`]), runs the
    /// job on a one-slot worker with a progress bar, and returns it at its end.
    pub(crate) async fn run(&self, kind: &str, mut input: Value) -> anyhow::Result<Job> {
        let backends = &self.assembly.backends;
        let (engine, catalog, library) = (backends.engine.clone(), backends.catalog.clone(), backends.library.clone());
        let kinds = self.assembly.kinds();
        let spec = kinds.get(kind)?;
        let submit = Submit { tenant: "local", plan: tintype_plans::LOCAL, catalog: &*catalog, library: &*library };
        if let Err(why) = spec.validate(&mut input, submit).await {
            return Err(JobFailed { kind: kind.into(), code: why.code.name().into(), message: why.message }.into());
        }
        let job = NewJob { max_attempts: 1, ..NewJob::new("local", kind, input) };
        let id = engine.enqueue(job).await?.job.id;
        let worker = self.assembly.worker().map_err(anyhow::Error::msg)?;
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker.run(stop.clone()));
        let bar = Progress::new();
        // The same watch the API's event stream follows: every change, then the end.
        let changes = watch(engine.clone(), None, id.clone(), REREAD);
        futures::pin_mut!(changes);
        while let Some(change) = changes.next().await {
            let e = change?.event();
            bar.show(e.step.as_deref(), e.progress, e.message.as_deref());
        }
        let job = engine.get(None, &id).await?.context("the job vanished")?;
        bar.finish();
        stop.cancel();
        let _ = running.await;
        Ok(job)
    }
}

/// The scratch folders' name prefix.
const SCRATCH_PREFIX: &str = ".tintype-run-";

/// Removes scratch folders in `out` whose run is gone: their `pid` names no live process
/// (or, older than a minute, they have none). Best effort.
fn remove_stale_scratch(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_scratch = entry.file_name().to_string_lossy().starts_with(SCRATCH_PREFIX);
        if !is_scratch || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let alive = match std::fs::read_to_string(path.join("pid")).ok().and_then(|p| p.trim().parse::<u32>().ok()) {
            Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            // A run that has not written its pid yet is a moment old.
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(60)),
        };
        if !alive && let Err(e) = std::fs::remove_dir_all(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an old scratch folder");
        }
    }
}

/// The error a job that did not succeed ends the command with.
pub(crate) fn failure(job: &Job) -> anyhow::Error {
    let (code, message) = job
        .error
        .as_ref()
        .map_or_else(|| (job.state.to_string(), String::new()), |e| (e.code.clone(), e.message.clone()));
    JobFailed { kind: job.kind.clone(), code, message }.into()
}

/// `tintype run print ...`.
async fn run_print(config: &Config, args: PrintArgs) -> anyhow::Result<()> {
    let local = Local::open(config, &args.out).await?;
    let source = if is_url(&args.input) {
        json!({ "url": args.input })
    } else {
        json!({ "upload_id": local.upload(Path::new(&args.input)).await? })
    };
    let job = local.run("print", args.input(source)?).await?;
    finish_local(&job, &local.blobs, &args)
}

/// Files a local file as an upload of tenant `local`; returns its id. The file is read
/// twice, never held whole: once for its SHA-256 (the key), once into the store.
async fn local_upload(catalog: &dyn Catalog, blobs: &dyn BlobStore, path: &Path) -> anyhow::Result<String> {
    let hashing = path.to_owned();
    let (sha256, size) = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        let mut file = std::fs::File::open(&hashing)?;
        let (mut hasher, mut size, mut buf) = (Sha256::new(), 0u64, vec![0u8; 256 << 10]);
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                return Ok((hex::encode(hasher.finalize()), size));
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
    })
    .await?
    .with_context(|| format!("cannot read {}", path.display()))?;
    let key = tintype_blobs::layout::upload("local", &sha256)?;
    let file = tokio::fs::File::open(path).await.with_context(|| format!("cannot read {}", path.display()))?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
    blobs.put(&key, Box::pin(body), PutOptions { size_hint: Some(size), ..PutOptions::default() }).await?;
    let upload = NewUpload {
        id: None,
        tenant: "local".into(),
        sha256,
        bytes: size,
        content_type: content_type_of(path),
        filename: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        blob_key: key.as_str().to_owned(),
    };
    Ok(catalog.insert_upload(upload).await?.0.id)
}

/// Moves the results into `--out` and prints the summary (or the error).
fn finish_local(job: &Job, blobs: &LocalStore, args: &PrintArgs) -> anyhow::Result<()> {
    if job.state != JobState::Succeeded {
        return Err(failure(job));
    }
    let output = job.output.clone().unwrap_or_default();
    for artifact in &output.artifacts {
        let from = blobs.path_of(&BlobKey::new(artifact.key.clone())?);
        let to = args.out.join(&artifact.name);
        std::fs::rename(&from, &to).with_context(|| format!("cannot move the result to {}", to.display()))?;
    }
    print_result(&output.result, &output.artifacts.iter().map(|a| a.name.clone()).collect::<Vec<_>>(), args)
}

/// The summary: one line per output file, then the warnings.
pub(crate) fn print_result(result: &Value, files: &[String], args: &PrintArgs) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(result)?);
        return Ok(());
    }
    let lines: Vec<&Value> = match result["files"].as_array() {
        Some(files) => files.iter().collect(),
        None => {
            result["groups"].as_array().into_iter().flatten().flat_map(|g| g["files"].as_array()).flatten().collect()
        }
    };
    for f in lines {
        println!(
            "{:<44} q{:<3} {:>10} bytes {:>7} dpi{}",
            f["name"].as_str().unwrap_or_default(),
            f["quality"],
            f["bytes"],
            f["effective_dpi"],
            if f["low_resolution"] == json!(true) { "  LOW RESOLUTION" } else { "" }
        );
    }
    for w in result["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", w.as_str().unwrap_or_default());
    }
    for name in files {
        println!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

/// A progress bar on a terminal; plain step lines otherwise.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    last_step: std::sync::Mutex<Option<String>>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = ProgressBar::new(1000);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}% {prefix} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, last_step: std::sync::Mutex::new(None) }
    }

    pub(crate) fn show(&self, step: Option<&str>, progress: f64, message: Option<&str>) {
        match &self.bar {
            Some(bar) => {
                bar.set_position((progress * 1000.0) as u64);
                bar.set_prefix(step.unwrap_or("queued").to_owned());
                bar.set_message(message.unwrap_or_default().to_owned());
            }
            None => {
                let mut last = self.last_step.lock().unwrap_or_else(|e| e.into_inner());
                if step.is_some() && last.as_deref() != step {
                    eprintln!("step: {}", step.unwrap_or_default());
                    *last = step.map(str::to_owned);
                }
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Where `submit` sends its requests.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "TINTYPE_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// API key (not needed when the server runs open on loopback).
    #[arg(long, env = "TINTYPE_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Wait for the job, showing its progress, and download the results into `--out`.
    #[arg(long)]
    pub(crate) wait: bool,
}

/// `tintype submit KIND ...`: the inputs uploaded, the job created, and with `--wait` its
/// progress followed and its outputs downloaded into `--out`.
pub(crate) async fn submit(server: ServerArgs, cmd: KindCommand) -> anyhow::Result<()> {
    let base = server.server.trim_end_matches('/').to_owned();
    let client = Api::new(server.api_key.clone());
    let (kind, input, out) = match &cmd {
        KindCommand::Print(args) => ("print", args.input(client.source(&base, &args.input).await?)?, &args.out),
        KindCommand::Ingest(_) => bail!("photos go to a server with `tintype import DIR`"),
        KindCommand::Export(args) => ("export", super::export::input(&client, &base, args).await?, &args.out),
    };
    let body = json!({ "kind": kind, "input": input });
    let job = client.send(client.http.post(format!("{base}/v1/jobs")).json(&body)).await?;
    let id = job["id"].as_str().context("the server answered no job id")?.to_owned();
    if !server.wait {
        println!("{id} {}", job["status_url"].as_str().unwrap_or_default());
        return Ok(());
    }
    let bar = Progress::new();
    let mut job = follow(&client, &format!("{base}/v1/jobs/{id}/events"), &bar).await?;
    bar.finish();
    if !job["state"].as_str().is_some_and(|s| s == "succeeded" || s == "failed" || s == "cancelled") {
        job = client.send(client.http.get(format!("{base}/v1/jobs/{id}"))).await?;
    }
    if job["state"] != "succeeded" {
        let code = job["error"]["code"].as_str().or(job["state"].as_str()).unwrap_or("unknown").to_owned();
        let message = job["error"]["message"].as_str().unwrap_or_default().to_owned();
        return Err(JobFailed { kind: kind.into(), code, message }.into());
    }
    // The terminal event may predate fresh links: read the job once more for them.
    let job = client.send(client.http.get(format!("{base}/v1/jobs/{id}"))).await?;
    let names = client.download_outputs(&job, out).await?;
    match &cmd {
        KindCommand::Export(args) => super::export::print_summary(&job["result"], &args.out, args.json),
        KindCommand::Print(args) => print_result(&job["result"], &names, args),
        KindCommand::Ingest(_) => Ok(()),
    }
}

/// The content type a file's name implies (`application/octet-stream` when unknown): the
/// server and the jobs take the declared type, and an export stores a `.jpg` as it is.
pub(crate) fn content_type_of(path: &Path) -> String {
    mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream").to_owned()
}

/// A client of the API with its key.
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    key: Option<String>,
}

impl Api {
    /// A client sending `key` (if any) with every request.
    pub(crate) fn new(key: Option<String>) -> Api {
        Api { http: reqwest::Client::new(), key }
    }

    /// A job source: `{"url": ..}` for an http(s) URL, otherwise the file uploaded and
    /// `{"upload_id": ..}`.
    pub(crate) async fn source(&self, base: &str, input: &str) -> anyhow::Result<Value> {
        if is_url(input) {
            return Ok(json!({ "url": input }));
        }
        Ok(json!({ "upload_id": self.upload(base, Path::new(input)).await? }))
    }

    /// Streams a file to `POST /v1/uploads` (its name and the type its extension implies);
    /// returns the upload id.
    pub(crate) async fn upload(&self, base: &str, path: &Path) -> anyhow::Result<String> {
        let file = tokio::fs::File::open(path).await.with_context(|| format!("cannot read {}", path.display()))?;
        let len = file.metadata().await?.len();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 << 10));
        let req = self
            .http
            .post(format!("{base}/v1/uploads"))
            .query(&[("filename", name)])
            .header("content-type", content_type_of(path))
            .header("content-length", len)
            .body(body);
        let upload = self.send(req).await.with_context(|| format!("uploading {}", path.display()))?;
        Ok(upload["upload_id"].as_str().context("the server answered no upload id")?.to_owned())
    }

    /// Downloads a finished job's outputs into `out` (created if missing); returns their
    /// names. A name that would leave `out` is refused.
    pub(crate) async fn download_outputs(&self, job: &Value, out: &Path) -> anyhow::Result<Vec<String>> {
        std::fs::create_dir_all(out).with_context(|| format!("--out: cannot create {}", out.display()))?;
        let mut names = Vec::new();
        for output in job["outputs"].as_array().into_iter().flatten() {
            let name = output["name"].as_str().context("an output without a name")?;
            if name.contains(['/', '\\']) || name.starts_with('.') {
                bail!("refusing to write an output named {name:?}");
            }
            let url = output["url"].as_str().or(output["download_url"].as_str()).context("an output without a link")?;
            let mut res = self.http.get(url).send().await?.error_for_status()?;
            let mut file = tokio::fs::File::create(out.join(name)).await?;
            while let Some(chunk) = res.chunk().await? {
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
            }
            tokio::io::AsyncWriteExt::flush(&mut file).await?;
            names.push(name.to_owned());
        }
        Ok(names)
    }

    /// Sends a request with the key; a problem+json answer becomes an error with its code.
    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        match self.call(req).await? {
            Ok(body) => Ok(body),
            Err(body) => bail!(
                "the server answered {}: {}: {}",
                body["status"],
                body["code"].as_str().unwrap_or("unknown"),
                body["detail"].as_str().unwrap_or_default()
            ),
        }
    }

    /// Sends a request with the key: `Ok(Ok(body))` on success, `Ok(Err(problem))` for an
    /// error answer (its problem+json body), `Err` when the server cannot be reached. A
    /// busy answer (503 or 429 with `Retry-After` of a minute or less: the server
    /// enqueued nothing) is retried after the time it asks, up to [`BUSY_RETRIES`] times,
    /// when the request can be sent again (not a streamed body).
    pub(crate) async fn call(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Result<Value, Value>> {
        let mut req = match &self.key {
            Some(k) => req.bearer_auth(k),
            None => req,
        };
        let mut retries = 0;
        let res = loop {
            let again = req.try_clone();
            let res = req.send().await.context("cannot reach the server")?;
            let busy = matches!(res.status().as_u16(), 429 | 503);
            let wait = res.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
            match (busy, wait, again) {
                (true, Some(secs), Some(next)) if secs <= 60 && retries < BUSY_RETRIES => {
                    retries += 1;
                    eprintln!("the server is busy ({}); retrying in {secs} s", res.status());
                    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                    req = next;
                }
                _ => break res,
            }
        };
        let status = res.status();
        let mut body: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Ok(body));
        }
        if !body.is_object() {
            body = json!({ "code": "unknown", "detail": "" });
        }
        body["status"] = json!(status.as_u16());
        Ok(Err(body))
    }
}

/// How many times [`Api::call`] retries a busy answer.
const BUSY_RETRIES: u32 = 5;

/// Reads the job's event stream until it closes; returns the last job document.
async fn follow(api: &Api, url: &str, bar: &Progress) -> anyhow::Result<Value> {
    let mut req = api.http.get(url).header("accept", "text/event-stream");
    if let Some(k) = &api.key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await?.error_for_status()?;
    // A real SSE parser: events split across reads, multi-byte characters split between
    // two chunks and CRLF line ends all decode as sent.
    let mut events = Box::pin(sse_stream::SseStream::from_bytes_stream(res.bytes_stream()));
    let mut last = Value::Null;
    while let Some(event) = events.next().await {
        let Some(data) = event.context("the event stream broke")?.data else { continue };
        if let Ok(job) = serde_json::from_str::<Value>(&data) {
            bar.show(job["step"].as_str(), job["progress"].as_f64().unwrap_or(0.0), job["message"].as_str());
            last = job;
        }
    }
    Ok(last)
}
