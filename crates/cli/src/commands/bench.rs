//! `tintype bench queue`: drains no-op jobs through the real engine and worker code and
//! measures enqueue→start latency at a steady low rate, like pgbench for the queue.
//! `tintype bench library` (in `library.rs`): the photo library's queries at size.
//! `tintype bench export DIR` (in `export.rs`): the export job over a folder's files.
//! Without an explicit `database_url` both run on a fresh temporary SQLite file (on
//! PostgreSQL, in a scratch schema dropped at the end), so a production database is
//! never touched by accident.

mod export;
mod library;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Subcommand;
use tintype_blobs::LocalStore;
use tintype_queue::{JobOutput, NewJob};
use tintype_worker::{JobContext, JobError, JobRunner, Runners, Worker};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::wiring;

/// `tintype bench …`.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Queue throughput and enqueue→start latency with no-op jobs.
    Queue {
        /// Jobs drained for the throughput figure.
        #[arg(long, default_value_t = 20_000)]
        jobs: u64,
        /// Concurrency of each worker.
        #[arg(long, default_value_t = 10)]
        concurrency: usize,
        /// Worker loops (each claims on its own).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Jobs sent one at a time for the latency figure.
        #[arg(long, default_value_t = 500)]
        latency_jobs: u64,
        /// Rate of the latency run, jobs per second.
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        /// Jobs each worker claims ahead of its free slots (default: the config's).
        #[arg(long)]
        prefetch: Option<usize>,
        /// Worker processes draining the queue (PostgreSQL only): this one (with its
        /// `--workers` loops) plus `processes - 1` `tintype worker` children on the same
        /// scratch schema, one loop of `--concurrency` each. The latency run uses this
        /// process alone.
        #[arg(long, default_value_t = 1)]
        processes: usize,
    },
    /// The photo library at size: timeline, similar and search queries, p50 and p99.
    Library {
        /// Photos inserted into the tenant (another tenant gets a tenth as many).
        #[arg(long, default_value_t = 100_000)]
        photos: u64,
        /// Times each query is run.
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
        /// Inserts in flight at once.
        #[arg(long, default_value_t = 8)]
        parallel: usize,
    },
    /// The export job over every file of DIR (imported as uploads first): MB/s, peak RSS.
    Export {
        /// The folder.
        dir: std::path::PathBuf,
        /// Items fetched at once (default: the config's).
        #[arg(long)]
        concurrency: Option<usize>,
    },
}

const QUEUE: &str = "bench";

/// Counts finished jobs and records start latencies (input `t0_us`: µs since `origin`).
struct BenchJob {
    origin: Instant,
    done: AtomicU64,
    target: AtomicU64,
    all_done: Notify,
    latencies: mpsc::UnboundedSender<Duration>,
}

/// The `bench` kind, sharing one [`BenchJob`] with the benchmark driver.
struct BenchKind(Arc<BenchJob>);

#[async_trait]
impl JobRunner for BenchKind {
    fn kind(&self) -> &'static str {
        "bench"
    }
    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        if let Some(t0) = ctx.job().input.get("t0_us").and_then(|v| v.as_u64()) {
            let _ = self.0.latencies.send(self.0.origin.elapsed().saturating_sub(Duration::from_micros(t0)));
        }
        if self.0.done.fetch_add(1, Ordering::SeqCst) + 1 == self.0.target.load(Ordering::SeqCst) {
            self.0.all_done.notify_one();
        }
        Ok(JobOutput::default())
    }
}

/// Runs a benchmark.
pub(crate) async fn run(config: &Config, cmd: BenchCommand) -> anyhow::Result<()> {
    if let BenchCommand::Export { dir, concurrency } = &cmd {
        return export::run(config, dir, *concurrency).await;
    }
    let tmp = tempfile::tempdir()?;
    let mut config = config.clone();
    if config.database_url.is_empty() {
        config.data_dir = tmp.path().to_path_buf();
    }
    // On PostgreSQL: a scratch schema, dropped at the end, so the bench leaves nothing.
    let scratch =
        tintype_db::is_postgres(&config.database_url()).then(|| format!("bench_{}", uuid::Uuid::new_v4().simple()));
    if let Some(schema) = &scratch {
        scratch_schema(&config, schema, true).await?;
    }
    let result = run_bench(&config, scratch.clone(), &tmp, cmd).await;
    if let Some(schema) = &scratch {
        scratch_schema(&config, schema, false).await?;
    }
    result
}

/// Creates or drops a benchmark's scratch schema.
async fn scratch_schema(config: &Config, schema: &str, create: bool) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&config.database_url()).await?;
    let sql = if create { format!("CREATE SCHEMA {schema}") } else { format!("DROP SCHEMA {schema} CASCADE") };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
    Ok(())
}

async fn run_bench(
    config: &Config,
    schema: Option<String>,
    tmp: &tempfile::TempDir,
    cmd: BenchCommand,
) -> anyhow::Result<()> {
    let (jobs, concurrency, workers, latency_jobs, rate, prefetch, processes) = match cmd {
        BenchCommand::Queue { jobs, concurrency, workers, latency_jobs, rate, prefetch, processes } => {
            (jobs, concurrency, workers, latency_jobs, rate, prefetch, processes)
        }
        BenchCommand::Library { photos, queries, parallel } => {
            let analyze = schema.as_deref().map(|s| schema_url(config, s));
            let library = wiring::open_engine_in(config, schema).await?.library;
            eprintln!("database: {}", config.database_url());
            return library::run(library, photos, queries, parallel, analyze).await;
        }
        BenchCommand::Export { .. } => unreachable!("handled above"),
    };
    if processes > 1 && schema.is_none() {
        anyhow::bail!("--processes needs PostgreSQL (--database-url postgres://…)");
    }
    let engine = wiring::open_engine_in(config, schema.clone()).await?.engine;
    let blobs = Arc::new(LocalStore::open(tmp.path().join("blobs"))?);
    let (tx, mut latencies) = mpsc::unbounded_channel();
    let bench = Arc::new(BenchJob {
        origin: Instant::now(),
        done: AtomicU64::new(0),
        target: AtomicU64::new(jobs),
        all_done: Notify::new(),
        latencies: tx,
    });
    let mut runners = Runners::new();
    runners.add(Arc::new(BenchKind(bench.clone())));
    // Several processes drain `noop` jobs (the kind every `tintype worker` has) and the
    // end is seen in the database; one process drains `bench` jobs and counts them itself.
    let drain_kind = if processes > 1 { "noop" } else { "bench" };
    tintype_worker::builtin::runners(&mut runners);
    let runners = Arc::new(runners);
    eprintln!("database: {}", config.database_url());

    // Throughput: pre-insert, then drain with the workers.
    let t = Instant::now();
    for _ in 0..jobs {
        let mut job = NewJob::new("bench", drain_kind, serde_json::json!({}));
        job.queue = QUEUE.into();
        engine.enqueue(job).await?;
    }
    let enq = t.elapsed();
    println!("enqueue: {jobs} jobs in {:.2} s ({:.0} jobs/s)", enq.as_secs_f64(), jobs as f64 / enq.as_secs_f64());
    let stop = CancellationToken::new();
    let mut wcfg = wiring::worker_config(config);
    wcfg.queues = vec![QUEUE.into()];
    wcfg.concurrency = concurrency;
    wcfg.prefetch = prefetch.unwrap_or(wcfg.prefetch);
    let mut children = Vec::new();
    if let Some(schema) = schema.as_deref().filter(|_| processes > 1) {
        children = spawn_workers(config, schema, tmp, processes - 1, concurrency, wcfg.prefetch)?;
    }
    let t = Instant::now();
    let mut handles = Vec::new();
    for n in 0..workers.max(1) {
        let w = Worker::new(
            engine.clone(),
            blobs.clone(),
            runners.clone(),
            tintype_worker::WorkerConfig { id: format!("bench-{n}"), ..wcfg.clone() },
        );
        handles.push(tokio::spawn(w.run(stop.clone())));
    }
    if processes > 1 {
        wait_until_drained(&*engine).await?;
    } else if jobs > 0 {
        bench.all_done.notified().await;
    }
    let drain = t.elapsed();
    for mut child in children {
        // Every job has ended, so nothing is lost by stopping it hard.
        let _ = child.kill();
        let _ = child.wait();
    }
    let throughput = jobs as f64 / drain.as_secs_f64();
    let prefetch = wcfg.prefetch;
    println!(
        "drain: {jobs} jobs in {:.2} s, {processes} process(es) x {workers} worker(s) x concurrency {concurrency}, prefetch {prefetch}",
        drain.as_secs_f64()
    );
    while latencies.try_recv().is_ok() {}

    // Latency: one job at a time at a steady rate into idle workers.
    bench.target.store(u64::MAX, Ordering::SeqCst);
    let gap = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut tick = tokio::time::interval(gap);
    for _ in 0..latency_jobs {
        tick.tick().await;
        let t0 = bench.origin.elapsed().as_micros() as u64;
        let mut job = NewJob::new("bench", "bench", serde_json::json!({ "t0_us": t0 }));
        job.queue = QUEUE.into();
        engine.enqueue(job).await?;
    }
    let mut lat = Vec::with_capacity(latency_jobs as usize);
    while (lat.len() as u64) < latency_jobs {
        match tokio::time::timeout(Duration::from_secs(30), latencies.recv()).await {
            Ok(Some(d)) => lat.push(d),
            _ => anyhow::bail!("latency run: only {} of {latency_jobs} jobs started", lat.len()),
        }
    }
    stop.cancel();
    for h in handles {
        h.await?;
    }
    lat.sort();
    let pct =
        |p: f64| lat.get(((lat.len() as f64 - 1.0) * p).round() as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!(
        "latency: {latency_jobs} jobs at {rate}/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    println!("queue: {throughput:.0} jobs/s, p50 {:.2} ms, p99 {:.2} ms", pct(0.5), pct(0.99));
    Ok(())
}

/// Starts `n` `tintype worker` processes on the scratch schema, serving the bench queue.
fn spawn_workers(
    config: &Config,
    schema: &str,
    tmp: &tempfile::TempDir,
    n: usize,
    concurrency: usize,
    prefetch: usize,
) -> anyhow::Result<Vec<std::process::Child>> {
    let url = schema_url(config, schema);
    let exe = std::env::current_exe()?;
    (0..n)
        .map(|i| {
            let dir = tmp.path().join(format!("worker-{i}"));
            std::fs::create_dir_all(&dir)?;
            let child = std::process::Command::new(&exe)
                .args(["--database-url", &url, "--data-dir"])
                .arg(&dir)
                .args(["worker", "--queues", QUEUE, "--concurrency", &concurrency.to_string()])
                .env("TINTYPE_WORKER__PREFETCH", prefetch.to_string())
                .env_remove("TINTYPE_BLOBS")
                .stdout(std::process::Stdio::null())
                .spawn()?;
            Ok(child)
        })
        .collect()
}

/// The database URL with `schema` first on the search path.
fn schema_url(config: &Config, schema: &str) -> String {
    let url = config.database_url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Waits until the engine counts no job queued or running (polled every 20 ms: the
/// counts read only the active rows, so the poll costs little next to the drain).
async fn wait_until_drained(engine: &dyn tintype_queue::Engine) -> anyhow::Result<()> {
    while !engine.counts().await?.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
