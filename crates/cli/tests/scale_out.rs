//! The scale-out deployment under a fault: one `tintype api` and three `tintype worker`
//! processes sharing the local PostgreSQL (a scratch schema) and a real S3-protocol
//! server (s3s-fs on loopback). 200 jobs are submitted; one worker is SIGKILLed mid-run
//! and a replacement started. Every job must end succeeded exactly once, with exactly one
//! artifact (written by the attempt that won), no lease left behind, no multipart upload
//! left open, and the SSE stream served by the api must carry progress the workers wrote.
//!
//! Skipped (saying so) when no PostgreSQL answers; `.ci/run` makes sure one does.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use tintype_blobs::{BlobStore, S3Config, S3Store};
use tintype_s3_fixture::{ACCESS_KEY, S3Server, SECRET_KEY};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tintype");
const JOBS: usize = 200;

/// A `tintype` command for this deployment, logging to `<dir>/<log>.log`.
fn tintype(dir: &Path, env: &[(String, String)], log: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(dir).env_remove("TINTYPE_CONFIG").env("RUST_LOG", "info,sqlx=warn");
    cmd.env("TINTYPE_WORKER__LEASE_SECS", "1.5")
        .env("TINTYPE_SWEEPER__INTERVAL_SECS", "0.2")
        .env("TINTYPE_WORKER__SHUTDOWN_GRACE_SECS", "0.5")
        .envs(env.iter().map(|(k, v)| (k, v)));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{log}.log"))).unwrap();
    cmd.stderr(log);
    cmd
}

fn worker(dir: &Path, env: &[(String, String)], name: &str) -> Child {
    tintype(dir, env, name).args(["worker", "--queues", "default", "--concurrency", "4"]).spawn().unwrap()
}

async fn count(conn: &mut sqlx::PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_every_job_succeeds_exactly_once() {
    let Some((db, schema)) = common::postgres_schema().await else { return };
    let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
    let s3 = S3Server::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> =
        vec![("TINTYPE_DATABASE_URL".into(), db.clone()), ("TINTYPE_BLOBS".into(), s3.blobs_url())];
    env.extend(s3.env().into_iter().map(|(k, v)| (k.to_owned(), v)));

    let out = tintype(dir.path(), &env, "migrate").arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate failed");
    let mut api = tintype(dir.path(), &env, "api")
        .args(["api", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(api.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("tintype listening on ").expect("listening line").to_owned();
    let mut workers: Vec<Child> = (1..=3).map(|i| worker(dir.path(), &env, &format!("worker{i}"))).collect();

    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(JOBS);
    for _ in 0..JOBS {
        let job: Value = client
            .post(format!("{base}/v1/jobs"))
            .json(&json!({"kind": "sleep", "input": {"ms": 400, "steps": 4, "artifact": true}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(job["id"].as_str().expect("job id").to_owned());
    }
    // Follow the last job's events through the api while the workers run.
    let watched = ids[JOBS - 1].clone();
    let events = tokio::spawn({
        let url = format!("{base}/v1/jobs/{watched}/events");
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });

    // Kill a worker in the middle of the run, with jobs in its hands.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&mut conn, "SELECT count(*) FROM jobs WHERE state = 'succeeded'").await < 40 {
        assert!(Instant::now() < deadline, "the workers made no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let victim_pid = workers[0].id();
    let held = count(
        &mut conn,
        &format!("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE '%:{victim_pid}'"),
    )
    .await;
    workers[0].kill().unwrap(); // SIGKILL: no hand-back, no clean-up
    workers[0].wait().unwrap();
    workers.push(worker(dir.path(), &env, "worker4"));

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = count(&mut conn, "SELECT count(*) FROM jobs WHERE state = 'succeeded'").await;
        if done == JOBS as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {JOBS} jobs succeeded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every job: succeeded, no lease left, attempts counted.
    assert_eq!(count(&mut conn, "SELECT count(*) FROM jobs").await, JOBS as i64);
    let leases = "SELECT count(*) FROM jobs WHERE lease_token IS NOT NULL OR lease_owner IS NOT NULL OR lease_expires_at IS NOT NULL";
    assert_eq!(count(&mut conn, leases).await, 0, "a lease was left behind");
    let attempts: BTreeMap<String, i32> = sqlx::query_as::<_, (String, i32)>("SELECT id, attempt FROM jobs")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let rescued = attempts.values().filter(|&&a| a > 1).count();
    eprintln!("the killed worker held {held} jobs; {rescued} jobs ran more than once");
    assert!(held >= 1 && rescued >= 1, "the killed worker held {held} jobs; {rescued} were rescued");

    // Exactly one artifact per job, written by the attempt that won; nothing else stored.
    let store = S3Store::open(&S3Config {
        access_key_id: Some(ACCESS_KEY.into()),
        secret_access_key: Some(SECRET_KEY.into()),
        ..S3Config::from_url(&s3.blobs_url()).unwrap()
    })
    .unwrap();
    let blobs = store.list("t/").await.unwrap();
    assert_eq!(blobs.len(), JOBS, "one artifact per job, none doubled or missing");
    let mut seen = BTreeSet::new();
    for meta in &blobs {
        let parts: Vec<&str> = meta.key.as_str().split('/').collect();
        assert_eq!((parts.len(), parts[2], parts[4]), (5, "jobs", "sleep.txt"), "{}", meta.key);
        let id = parts[3].to_owned();
        let text = String::from_utf8(tintype_blobs::read_all(&store, &meta.key).await.unwrap()).unwrap();
        let attempt = attempts.get(&id).unwrap_or_else(|| panic!("artifact of an unknown job {id}"));
        assert!(text.contains(&format!("on attempt {attempt}\n")), "{id} (attempt {attempt}) stored {text:?}");
        seen.insert(id);
    }
    assert_eq!(seen, ids.iter().cloned().collect::<BTreeSet<_>>());
    assert!(s3.pending_upload_parts().is_empty(), "a multipart upload was left open");

    // Each job's success was recorded once, by one worker.
    let mut logs = String::new();
    for name in ["worker1", "worker2", "worker3", "worker4"] {
        logs.push_str(&std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap());
    }
    // A SIGKILL can fall between a completion's commit and its log line: the killed
    // worker may have finished up to its concurrency (4) jobs without saying so. No job
    // may be recorded twice.
    let mut unlogged = Vec::new();
    for id in &ids {
        let wins = logs
            .lines()
            .filter(|l| l.contains(id.as_str()) && l.contains("job finished") && l.contains("succeeded"))
            .count();
        assert!(wins <= 1, "{id} recorded as succeeded {wins} times");
        if wins == 0 {
            unlogged.push(id);
        }
    }
    assert!(unlogged.len() <= 4, "successes with no log line: {unlogged:?}");

    // The api streamed the watched job's progress, written by a worker process.
    let body = tokio::time::timeout(Duration::from_secs(30), events).await.expect("the stream ends").unwrap();
    let progress = common::running_progress(&body);
    assert!(progress.len() >= 2, "progress seen: {progress:?}\n{body}");
    assert!(body.contains("\"succeeded\""), "{body}");

    for child in workers.iter_mut().skip(1).chain(std::iter::once(&mut api)) {
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        assert!(child.wait().unwrap().success());
    }
    drop(conn);
    common::drop_schema(&schema).await;
}
