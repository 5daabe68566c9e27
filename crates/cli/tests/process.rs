//! Process-level tests of the `tintype` binary: a job survives a SIGKILL of the server
//! (rescued after its lease expires, succeeding exactly once), SIGTERM hands running jobs
//! back, `keys create` prints the key alone, and `serve` refuses to run open on a
//! non-loopback address.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tintype");

fn tintype(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).env("RUST_LOG", "info,sqlx=warn").env_remove("TINTYPE_CONFIG");
    cmd.env("TINTYPE_WORKER__LEASE_SECS", "1.5")
        .env("TINTYPE_SWEEPER__INTERVAL_SECS", "0.2")
        .env("TINTYPE_WORKER__SHUTDOWN_GRACE_SECS", "0.5");
    cmd
}

/// Starts `tintype serve` on a free port and returns it with its base URL.
fn serve(data: &Path) -> (Child, String) {
    start(data, "serve")
}

/// Starts a role that listens (`serve` or `api`) and returns it with its base URL.
fn start(data: &Path, role: &str) -> (Child, String) {
    start_env(data, role, &[])
}

/// As [`start`], with extra environment variables.
fn start_env(data: &Path, role: &str, env: &[(&str, &str)]) -> (Child, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(data.join("serve.log")).unwrap();
    let mut cmd = tintype(data);
    cmd.envs(env.iter().copied());
    let mut child = cmd.args([role, "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(log).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("tintype listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, base)
}

fn create_key(data: &Path, tenant: &str) -> String {
    let out = tintype(data).args(["keys", "create", "--tenant", tenant, "--plan", "local"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "the key alone on stdout: {stdout:?}");
    stdout.trim().to_owned()
}

async fn get_job(client: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    client.get(format!("{base}/v1/jobs/{id}")).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

async fn wait_for(client: &reqwest::Client, base: &str, key: &str, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = get_job(client, base, key, id).await;
        if job["state"] == state {
            return job;
        }
        assert!(Instant::now() < deadline, "job never became {state}: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_job_survives_sigkill_and_succeeds_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme");
    let client = reqwest::Client::new();
    let (mut first, base) = serve(dir.path());
    let job: Value = client
        .post(format!("{base}/v1/jobs"))
        .bearer_auth(&key)
        .header("x-request-id", "req-survivor-42")
        .json(&json!({"kind": "sleep", "input": {"ms": 1500, "steps": 15, "artifact": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let mut running = wait_for(&client, &base, &key, &id, "running").await;
    // Claimed is not yet started (a claimed job may wait for its slot): kill it once its
    // runner has reported its first step, so attempt 1's start is in the log.
    let deadline = Instant::now() + Duration::from_secs(30);
    while running["step"] != "sleeping" {
        assert!(Instant::now() < deadline, "the job never started sleeping: {running}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        running = get_job(&client, &base, &key, &id).await;
    }
    assert_eq!(running["attempt"], 1);
    first.kill().unwrap(); // SIGKILL: no chance to clean up or hand back
    first.wait().unwrap();

    let (mut second, base) = serve(dir.path());
    let done = wait_for(&client, &base, &key, &id, "succeeded").await;
    assert_eq!(done["attempt"], 2, "rescued once, then run to the end: {done}");
    assert_eq!(done["outputs"].as_array().unwrap().len(), 1);
    let text = client.get(done["outputs"][0]["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("on attempt 2"), "{text}");
    let job_dir = dir.path().join("blobs/t/acme/jobs").join(&id);
    assert_eq!(std::fs::read_dir(&job_dir).unwrap().count(), 1, "one artifact, not two");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert_eq!(log.matches("rescued a job whose lease expired").count(), 1, "{log}");
    let job_lines: Vec<&str> = log.lines().filter(|l| l.contains(&id) && l.contains("job started")).collect();
    assert_eq!(job_lines.len(), 2, "one start per attempt: {log}");
    assert!(
        job_lines.iter().all(|l| l.contains("req-survivor-42")),
        "the request id is in the job's logs: {job_lines:?}"
    );

    terminate(&mut second);
    assert!(second.wait().unwrap().success());
}

#[tokio::test]
async fn sigterm_hands_a_running_job_back_to_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme");
    let client = reqwest::Client::new();
    let (mut server, base) = serve(dir.path());
    let job: Value = client
        .post(format!("{base}/v1/jobs"))
        .bearer_auth(&key)
        .json(&json!({"kind": "sleep", "input": {"ms": 60000, "steps": 600}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for(&client, &base, &key, &id, "running").await;
    terminate(&mut server);
    assert!(server.wait().unwrap().success(), "clean exit after the grace period");
    let out = tintype(dir.path()).args(["jobs", "show", &id]).output().unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["state"], "queued", "{shown}");
    assert_eq!(shown["attempt"], 0, "handing back does not spend an attempt");
    assert_eq!(shown["lease_owner"], Value::Null);
}

#[tokio::test]
async fn api_and_worker_run_as_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme");
    let client = reqwest::Client::new();
    let (mut api, base) = start(dir.path(), "api");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("worker.log")).unwrap();
    let mut worker =
        tintype(dir.path()).args(["worker", "--queues", "default", "--concurrency", "2"]).stderr(log).spawn().unwrap();
    let job: Value = client
        .post(format!("{base}/v1/jobs"))
        .bearer_auth(&key)
        .json(&json!({"kind": "sleep", "input": {"ms": 2500, "steps": 5}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap();
    // The api process hears no events from the worker process on SQLite: its event stream
    // still follows the job (by re-reading it) to the end.
    let res = client.get(format!("{base}/v1/jobs/{id}/events")).bearer_auth(&key).send().await.unwrap();
    let body = tokio::time::timeout(Duration::from_secs(30), res.text()).await.expect("the stream ends").unwrap();
    assert!(body.contains("\"running\""), "{body}");
    assert!(body.contains("\"succeeded\""), "{body}");
    terminate(&mut worker);
    terminate(&mut api);
    assert!(worker.wait().unwrap().success() && api.wait().unwrap().success());
}

#[tokio::test]
async fn jobs_commands_list_cancel_and_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = serve(dir.path()); // open mode: no key yet, loopback
    let client = reqwest::Client::new();
    let job: Value = client
        .post(format!("{base}/v1/jobs"))
        .json(&json!({"kind": "noop", "queue": "gpu"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    terminate(&mut server);
    assert!(server.wait().unwrap().success());
    let run = |args: &[&str]| {
        let out = tintype(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = run(&["jobs", "list", "--state", "queued"]);
    assert!(listed.contains(&id) && listed.contains("local") && listed.contains("noop"), "{listed}");
    assert_eq!(run(&["jobs", "cancel", &id]).trim(), format!("{id} is cancelled"));
    assert!(run(&["jobs", "list", "--state", "queued"]).is_empty());
    assert_eq!(run(&["jobs", "retry", &id]).trim(), format!("{id} is queued"));
    assert!(run(&["migrate"]).contains("up to date"));
}

#[test]
fn serve_refuses_to_run_open_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = tintype(dir.path()).args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to run open"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_beyond_loopback_needs_a_public_url() {
    let dir = tempfile::tempdir().unwrap();
    create_key(dir.path(), "acme");
    let out = tintype(dir.path()).args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("set public_url"), "links are never built from a forged Host: {stderr}");
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = tintype(&data).args(["keys", "create", "--tenant", "acme"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{}", path.display());
    }
}

#[test]
fn keys_can_be_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = create_key(dir.path(), "acme");
    assert!(secret.starts_with("tt_"));
    let list = tintype(dir.path()).args(["keys", "list"]).output().unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(!text.contains(&secret), "secrets are never shown again");
    let id = text.split('\t').next().unwrap().to_owned();
    assert!(text.contains("acme") && text.contains("active"), "{text}");
    assert!(tintype(dir.path()).args(["keys", "revoke", &id]).output().unwrap().status.success());
    let text = String::from_utf8(tintype(dir.path()).args(["keys", "list"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("revoked"), "{text}");
    let bad = tintype(dir.path()).args(["keys", "create", "--tenant", "../evil"]).output().unwrap();
    assert!(!bad.status.success(), "tenant ids are restricted to a safe alphabet");
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn on_postgres_an_api_process_streams_progress_a_worker_process_writes() {
    let Some((db, schema)) = common::postgres_schema().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let env = [("TINTYPE_DATABASE_URL", db.as_str())];
    let out = tintype(dir.path()).envs(env).args(["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("search_path=tt"), "no secrets or options echoed");
    let (mut api, base) = start_env(dir.path(), "api", &env);
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("worker.log")).unwrap();
    let mut worker = tintype(dir.path())
        .envs(env)
        .args(["worker", "--queues", "default", "--concurrency", "2"])
        .stderr(log)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let job: Value = client
        .post(format!("{base}/v1/jobs"))
        .json(&json!({"kind": "sleep", "input": {"ms": 2500, "steps": 10, "artifact": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let res = client.get(format!("{base}/v1/jobs/{id}/events")).send().await.unwrap();
    let body = tokio::time::timeout(Duration::from_secs(30), res.text()).await.expect("the stream ends").unwrap();
    let progress = common::running_progress(&body);
    // Ten steps in 2.5 s: NOTIFY carries each one to the api at once (re-reading the job
    // once a second, as on SQLite, would see about three).
    assert!(progress.len() >= 8, "progress values seen: {progress:?}\n{body}");
    assert!(body.contains("\"succeeded\""), "{body}");
    // The artifact the worker stored is served by the api (same blob directory).
    let done: Value = client.get(format!("{base}/v1/jobs/{id}")).send().await.unwrap().json().await.unwrap();
    let link = done["outputs"][0]["url"].as_str().unwrap();
    assert!(client.get(link).send().await.unwrap().status().is_success());
    terminate(&mut worker);
    terminate(&mut api);
    assert!(worker.wait().unwrap().success() && api.wait().unwrap().success());
    common::drop_schema(&schema).await;
}

/// `tintype worker --kinds noop` builds only that runner and claims only its jobs: a sleep
/// job queued first stays queued (a worker with its runner would have claimed it first,
/// in the same batch as the noop), and an unknown kind is refused at start.
#[tokio::test]
async fn a_worker_claims_only_the_kinds_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), "acme");
    let client = reqwest::Client::new();
    let (mut api, base) = start(dir.path(), "api");
    let submit = |body: Value| {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        async move {
            let job: Value = client
                .post(format!("{base}/v1/jobs"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            job["id"].as_str().unwrap().to_owned()
        }
    };
    let sleeper = submit(json!({"kind": "sleep", "input": {"ms": 1}})).await;
    let noop = submit(json!({"kind": "noop"})).await;
    let bad = tintype(dir.path()).args(["worker", "--kinds", "noop,nonesuch"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown kind \"nonesuch\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("worker.log")).unwrap();
    let mut worker = tintype(dir.path()).args(["worker", "--kinds", "noop"]).stderr(log).spawn().unwrap();
    wait_for(&client, &base, &key, &noop, "succeeded").await;
    let shown = get_job(&client, &base, &key, &sleeper).await;
    assert_eq!((shown["state"].as_str(), shown["attempt"].as_u64()), (Some("queued"), Some(0)), "{shown}");
    terminate(&mut worker);
    terminate(&mut api);
    assert!(worker.wait().unwrap().success() && api.wait().unwrap().success());
}
