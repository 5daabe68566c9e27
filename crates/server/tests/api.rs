//! The API end to end over real HTTP on a random port, against a real SQLite file and
//! blob directory, with a real worker: uploads and dedup, a job's whole life, SSE,
//! cancel, retry, downloads through signed links, tenant isolation, problem+json shapes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tintype_codes::{Code, ErrorKind};
use tintype_kinds::{JobSpec, Submit, SubmitError};
use tintype_queue::JobOutput;
use tintype_server::ServerConfig;
use tintype_test_support::extra_kind;
use tintype_test_support::{TestApp, TestOptions, sse};
use tintype_worker::{JobContext, JobError, JobRunner, WorkerConfig};

/// A test kind's own failure code.
const FIRST_TIME_FAILS: Code = Code::new("first_time_fails", ErrorKind::Internal);

/// Fails permanently on its first attempt, succeeds on the next (to exercise retry).
struct Flaky(Arc<AtomicU32>);

#[async_trait]
impl JobSpec for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    fn steps(&self) -> &'static [&'static str] {
        &["trying"]
    }
    async fn validate(&self, input: &mut Value, _: Submit<'_>) -> Result<(), SubmitError> {
        if input.get("bad").is_some() { Err(SubmitError::invalid("bad is not allowed")) } else { Ok(()) }
    }
}

#[async_trait]
impl JobRunner for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        ctx.step("trying").await?;
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(JobError::permanent(FIRST_TIME_FAILS, "the first run always fails"));
        }
        Ok(JobOutput { result: json!({"ok": true}), ..JobOutput::default() })
    }
}

/// Panics, to show a panic fails its job and not the worker.
struct Panics;

#[async_trait]
impl JobSpec for Panics {
    fn kind(&self) -> &'static str {
        "panics"
    }
    fn steps(&self) -> &'static [&'static str] {
        &[]
    }
    async fn validate(&self, _: &mut Value, _: Submit<'_>) -> Result<(), SubmitError> {
        Ok(())
    }
}

#[async_trait]
impl JobRunner for Panics {
    fn kind(&self) -> &'static str {
        "panics"
    }
    async fn run(&self, _ctx: JobContext) -> Result<JobOutput, JobError> {
        panic!("boom")
    }
}

async fn app() -> TestApp {
    app_with(ServerConfig::default()).await
}

async fn app_with(server: ServerConfig) -> TestApp {
    let extra = vec![extra_kind(Flaky(Arc::new(AtomicU32::new(0)))), extra_kind(Panics)];
    let worker_config = WorkerConfig { progress_interval: Duration::ZERO, concurrency: 4, ..WorkerConfig::default() };
    TestApp::spawn_with(TestOptions { extra, server, worker_config, ..TestOptions::default() }).await
}

struct Client<'a> {
    app: &'a TestApp,
    key: String,
}

impl Client<'_> {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app.client.request(method, self.app.url(path)).bearer_auth(&self.key)
    }
    async fn submit(&self, body: Value) -> Value {
        let res = self.req(reqwest::Method::POST, "/v1/jobs").json(&body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED, "submit {body}");
        res.json().await.unwrap()
    }
    async fn job(&self, id: &str) -> Value {
        self.req(reqwest::Method::GET, &format!("/v1/jobs/{id}")).send().await.unwrap().json().await.unwrap()
    }
    /// Follows the job's event stream to its end and returns the events.
    async fn events(&self, id: &str) -> Vec<Value> {
        let res = self.req(reqwest::Method::GET, &format!("/v1/jobs/{id}/events")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let events =
            tokio::time::timeout(Duration::from_secs(30), sse::collect(res, 10_000)).await.expect("stream ends");
        events.into_iter().map(|e| e.data).collect()
    }
    async fn finished(&self, id: &str) -> Value {
        let events = self.events(id).await;
        events.last().cloned().expect("at least one event")
    }
}

async fn client<'a>(app: &'a TestApp, tenant: &str) -> Client<'a> {
    Client { app, key: app.create_key(tenant).await }
}

async fn check_problem(res: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(res.status(), status, "{code}");
    assert_eq!(res.headers()["content-type"], "application/problem+json", "{code}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(), "{body}");
}

#[tokio::test]
async fn upload_raw_and_multipart_with_dedup_per_tenant() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let b = client(&app, "globex").await;
    let upload = |c: &Client, body: &'static [u8]| {
        c.req(reqwest::Method::POST, "/v1/uploads?filename=a.jpg")
            .header("content-type", "image/jpeg")
            .body(body)
            .send()
    };
    let res = upload(&a, b"pretend jpeg").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["bytes"], 12);
    assert_eq!(first["content_type"], "image/jpeg");
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["sha256"], hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"pretend jpeg")));
    let again: Value = upload(&a, b"pretend jpeg").await.unwrap().json().await.unwrap();
    assert_eq!((again["duplicate"].as_bool(), &again["upload_id"]), (Some(true), &first["upload_id"]));
    // Another tenant's identical content is not a duplicate (dedup never crosses tenants).
    let other: Value = upload(&b, b"pretend jpeg").await.unwrap().json().await.unwrap();
    assert_eq!(other["duplicate"], false);
    assert_ne!(other["upload_id"], first["upload_id"]);
    // Multipart: the file part is streamed the same way.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"other bytes".to_vec()).file_name("b.png").mime_str("image/png").unwrap(),
    );
    let res = a.req(reqwest::Method::POST, "/v1/uploads").multipart(form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let m: Value = res.json().await.unwrap();
    assert_eq!(
        (m["bytes"].as_u64(), m["content_type"].as_str(), m["filename"].as_str()),
        (Some(11), Some("image/png"), Some("b.png"))
    );
    // The tenant can read its upload, the other cannot see it.
    let path = format!("/v1/uploads/{}", first["upload_id"].as_str().unwrap());
    assert_eq!(a.req(reqwest::Method::GET, &path).send().await.unwrap().status(), StatusCode::OK);
    check_problem(b.req(reqwest::Method::GET, &path).send().await.unwrap(), StatusCode::NOT_FOUND, "upload_not_found")
        .await;
    // Stored once per tenant, under its hash.
    let sha = first["sha256"].as_str().unwrap();
    assert_eq!(
        app.blobs_under("t/acme/uploads/").await,
        vec![format!("t/acme/uploads/{sha}"), format!("t/acme/uploads/{}", m["sha256"].as_str().unwrap())]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
    );
    app.stop().await;
}

#[tokio::test]
async fn too_large_uploads_are_refused_and_leave_nothing() {
    let app = app_with(ServerConfig { max_upload_bytes: 1000, ..ServerConfig::default() }).await;
    let a = client(&app, "acme").await;
    // Declared too large.
    let res = a.req(reqwest::Method::POST, "/v1/uploads").body(vec![7u8; 1001]).send().await.unwrap();
    check_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Streamed without a length (chunked): caught while streaming.
    let chunks = futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![1u8; 100])));
    let res =
        a.req(reqwest::Method::POST, "/v1/uploads").body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    check_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(app.blobs_under("t/").await.is_empty(), "nothing stored");
    app.stop().await;
}

#[tokio::test]
async fn a_job_runs_to_success_with_live_progress_and_a_302_download() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let res = a
        .req(reqwest::Method::POST, "/v1/jobs")
        .header("x-request-id", "req-abc-123")
        .json(&json!({"kind": "sleep", "input": {"ms": 300, "steps": 3, "artifact": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.headers()["x-request-id"], "req-abc-123");
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("job_"));
    assert_eq!(job["correlation_id"], "req-abc-123");
    assert!(job["status_url"].as_str().unwrap().ends_with(&format!("/v1/jobs/{id}")));
    let events = a.events(&id).await;
    let states: Vec<&str> = events.iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states.last(), Some(&"succeeded"), "{states:?}");
    assert!(states.contains(&"running"), "{states:?}");
    let progress: Vec<f64> =
        events.iter().filter(|e| e["state"] == "running").map(|e| e["progress"].as_f64().unwrap()).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress never goes back: {progress:?}");
    assert!(progress.iter().any(|p| *p > 0.0 && *p < 1.0), "saw intermediate progress: {progress:?}");
    assert!(events.iter().any(|e| e["step"] == "sleeping"));
    let done = a.job(&id).await;
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["progress"], 1.0);
    let out = &done["outputs"][0];
    assert_eq!(out["name"], "sleep.txt");
    assert!(out["url"].as_str().unwrap().contains("sig="));
    // Download: 302 to a fresh signed link, never cached.
    let res = a.req(reqwest::Method::GET, &format!("/v1/jobs/{id}/download")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let blob = app.client.get(&location).send().await.unwrap();
    assert_eq!(blob.status(), StatusCode::OK);
    assert!(blob.headers()["content-disposition"].to_str().unwrap().contains("sleep.txt"));
    let etag = blob.headers()["etag"].clone();
    let body = blob.text().await.unwrap();
    assert!(body.starts_with(&id), "{body}");
    // Range and conditional requests on the signed link.
    let part = app.client.get(&location).header("range", "bytes=0-3").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], format!("bytes 0-3/{}", body.len()).as_str());
    assert_eq!(part.text().await.unwrap(), &body[..4]);
    let cached = app.client.get(&location).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn signed_links_refuse_tampering_other_keys_and_expiry() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let job = a.submit(json!({"kind": "sleep", "input": {"artifact": true}})).await;
    let done = a.finished(job["id"].as_str().unwrap()).await;
    let url = done["outputs"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let sig_at = url.find("sig=").unwrap() + 4;
    let flipped = if &url[sig_at..sig_at + 1] == "a" { "b" } else { "a" };
    let tampered = format!("{}{}{}", &url[..sig_at], flipped, &url[sig_at + 1..]);
    let other_key = url.replace("sleep.txt", "other.txt");
    let no_sig = url[..url.find('?').unwrap()].to_owned();
    let signer = tintype_blobs::UrlSigner::new(b"test-secret".to_vec());
    let key = tintype_blobs::BlobKey::new(
        done["outputs"][0]["url"]
            .as_str()
            .unwrap()
            .split("/v1/blobs/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned(),
    )
    .unwrap();
    let expired =
        format!("{}/v1/blobs/{}?{}", app.base, key.url_path(), signer.sign("GET", &key, 1_000, None).to_query());
    for (name, bad) in [("tampered", tampered), ("other key", other_key), ("unsigned", no_sig), ("expired", expired)] {
        let res = app.client.get(&bad).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{name}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cancel_a_queued_and_a_running_job() {
    let app = app().await;
    let a = client(&app, "acme").await;
    // Queued (the gpu queue has no worker here): cancelled at once.
    let queued = a.submit(json!({"kind": "sleep", "queue": "gpu"})).await;
    let res =
        a.req(reqwest::Method::DELETE, &format!("/v1/jobs/{}", queued["id"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "cancelled");
    // Running: asked to stop, seen at the job's next check, partial artifacts removed.
    let running = a.submit(json!({"kind": "sleep", "input": {"ms": 60000, "steps": 600}})).await;
    let id = running["id"].as_str().unwrap().to_owned();
    let res = a.req(reqwest::Method::GET, &format!("/v1/jobs/{id}/events")).send().await.unwrap();
    let mut stream = Box::pin(res.bytes_stream());
    use futures::StreamExt;
    let mut seen = String::new();
    while !seen.contains("\"running\"") {
        seen.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
    }
    let res = a.req(reqwest::Method::DELETE, &format!("/v1/jobs/{id}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.json::<Value>().await.unwrap()["cancel_requested"], true);
    let done = a.finished(&id).await;
    assert_eq!(done["state"], "cancelled");
    // Cancelling a finished job is a conflict.
    let ok = a.submit(json!({"kind": "noop"})).await;
    a.finished(ok["id"].as_str().unwrap()).await;
    let res = a.req(reqwest::Method::DELETE, &format!("/v1/jobs/{}", ok["id"].as_str().unwrap())).send().await.unwrap();
    check_problem(res, StatusCode::CONFLICT, "job_finished").await;
    app.stop().await;
}

#[tokio::test]
async fn failed_jobs_are_listed_and_can_be_retried() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let job = a.submit(json!({"kind": "flaky"})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let failed = a.finished(&id).await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"]["code"], "first_time_fails");
    assert_eq!(failed["error"]["step"], "trying");
    assert_eq!(failed["attempt"], 1, "permanent errors are not retried");
    let listed: Value =
        a.req(reqwest::Method::GET, "/v1/jobs?state=failed").send().await.unwrap().json().await.unwrap();
    assert_eq!(
        listed["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    let res = a.req(reqwest::Method::POST, &format!("/v1/jobs/{id}/retry")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let done = a.finished(&id).await;
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["result"]["ok"], true);
    let res = a.req(reqwest::Method::POST, &format!("/v1/jobs/{id}/retry")).send().await.unwrap();
    check_problem(res, StatusCode::CONFLICT, "not_retryable").await;
    app.stop().await;
}

#[tokio::test]
async fn a_panicking_job_fails_alone_and_the_worker_goes_on() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let bad = a.submit(json!({"kind": "panics"})).await;
    let failed = a.finished(bad["id"].as_str().unwrap()).await;
    assert_eq!((failed["state"].as_str(), failed["error"]["code"].as_str()), (Some("failed"), Some("panic")));
    let good = a.submit(json!({"kind": "noop"})).await;
    assert_eq!(a.finished(good["id"].as_str().unwrap()).await["state"], "succeeded");
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_returns_the_same_job_or_conflicts() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let b = client(&app, "globex").await;
    let send = |c: &Client, body: Value| {
        c.req(reqwest::Method::POST, "/v1/jobs").header("idempotency-key", "k-1").json(&body).send()
    };
    let body = json!({"kind": "sleep", "input": {"ms": 1}, "queue": "gpu"});
    let first = send(&a, body.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let again = send(&a, body.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    check_problem(
        send(&a, json!({"kind": "sleep", "input": {"ms": 2}, "queue": "gpu"})).await.unwrap(),
        StatusCode::CONFLICT,
        "idempotency_conflict",
    )
    .await;
    let other = send(&b, body).await.unwrap();
    assert_eq!(other.status(), StatusCode::ACCEPTED, "keys are per tenant");
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_job_is_a_404_everywhere() {
    let app = app().await;
    let a = client(&app, "acme").await;
    let b = client(&app, "globex").await;
    let job = a.submit(json!({"kind": "sleep", "input": {"artifact": true}})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    a.finished(&id).await;
    use reqwest::Method as M;
    for (method, path) in [
        (M::GET, format!("/v1/jobs/{id}")),
        (M::GET, format!("/v1/jobs/{id}/events")),
        (M::GET, format!("/v1/jobs/{id}/download")),
        (M::GET, format!("/v1/jobs/{id}/download/sleep.txt")),
        (M::DELETE, format!("/v1/jobs/{id}")),
        (M::POST, format!("/v1/jobs/{id}/retry")),
    ] {
        check_problem(b.req(method, &path).send().await.unwrap(), StatusCode::NOT_FOUND, "job_not_found").await;
    }
    let listed: Value = b.req(M::GET, "/v1/jobs").send().await.unwrap().json().await.unwrap();
    assert!(listed["jobs"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn errors_are_problem_json_with_stable_codes() {
    let app = app_with(ServerConfig { max_json_bytes: 2048, ..ServerConfig::default() }).await;
    let a = client(&app, "acme").await;
    let post = |body: &'static str| {
        a.req(reqwest::Method::POST, "/v1/jobs").header("content-type", "application/json").body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (app.client.get(app.url("/v1/jobs")), StatusCode::UNAUTHORIZED, "missing_api_key"),
        (app.client.get(app.url("/v1/jobs")).bearer_auth("tt_nope"), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (
            app.client.get(app.url("/v1/jobs")).header("authorization", "Basic abc"),
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
        ),
        (post("{not json"), StatusCode::BAD_REQUEST, "malformed_json"),
        (post(r#"{"input": {}}"#), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (post(r#"{"kind": "nope"}"#), StatusCode::UNPROCESSABLE_ENTITY, "unknown_kind"),
        (post(r#"{"kind": "flaky", "input": {"bad": 1}}"#), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (post(r#"{"kind": "sleep", "input": {"ms": -1}}"#), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (post(r#"{"kind": "noop", "queue": "nope"}"#), StatusCode::UNPROCESSABLE_ENTITY, "invalid_queue"),
        (
            a.req(reqwest::Method::POST, "/v1/jobs").json(&json!({"kind": "noop", "input": {"pad": "x".repeat(4096)}})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            a.req(reqwest::Method::POST, "/v1/jobs").body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (a.req(reqwest::Method::GET, "/v1/jobs?state=bogus"), StatusCode::BAD_REQUEST, "invalid_query"),
        (a.req(reqwest::Method::GET, "/v1/jobs/job_nope"), StatusCode::NOT_FOUND, "job_not_found"),
        (a.req(reqwest::Method::GET, "/v1/nothing-here"), StatusCode::NOT_FOUND, "route_not_found"),
    ];
    for (req, status, code) in cases {
        check_problem(req.send().await.unwrap(), status, code).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn list_filters_and_pages_with_a_cursor() {
    let app = app_with(ServerConfig::default()).await;
    let a = client(&app, "acme").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let kind = if i % 2 == 0 { "sleep" } else { "noop" };
        ids.push(a.submit(json!({"kind": kind, "queue": "gpu"})).await["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = a
            .req(reqwest::Method::GET, &format!("/v1/jobs?limit=3&cursor={cursor}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(page["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let sleeps: Value =
        a.req(reqwest::Method::GET, "/v1/jobs?kind=sleep&state=queued").send().await.unwrap().json().await.unwrap();
    assert_eq!(sleeps["jobs"].as_array().unwrap().len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn expired_artifacts_are_deleted_by_the_sweeper() {
    let clock = tintype_queue::Clock::manual(chrono::Utc::now());
    let hour = Duration::from_secs(3600);
    let engine = tintype_queue::EngineConfig { artifact_ttl: hour, clock: clock.clone(), ..Default::default() };
    let app = TestApp::spawn_with(TestOptions { engine, ..TestOptions::default() }).await;
    let a = client(&app, "acme").await;
    let job = a.submit(json!({"kind": "sleep", "input": {"artifact": true}})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    a.finished(&id).await;
    assert_eq!(app.blobs_under(&format!("t/acme/jobs/{id}/")).await.len(), 1);
    let report = app.sweeper.sweep_once(false).await.unwrap();
    assert_eq!(report.expired, 0, "kept for the TTL");
    clock.advance(hour + Duration::from_secs(1));
    let report = app.sweeper.sweep_once(false).await.unwrap();
    assert_eq!(report.expired, 1);
    assert!(app.blobs_under(&format!("t/acme/jobs/{id}/")).await.is_empty());
    assert_eq!(a.job(&id).await["state"], "expired");
    let res = a.req(reqwest::Method::GET, &format!("/v1/jobs/{id}/download")).send().await.unwrap();
    check_problem(res, StatusCode::GONE, "artifacts_expired").await;
    app.stop().await;
}

#[tokio::test]
async fn open_mode_serves_keyless_requests_until_a_key_exists() {
    let app = app_with(ServerConfig { allow_open: true, ..ServerConfig::default() }).await;
    let res = app.client.post(app.url("/v1/jobs")).json(&json!({"kind": "noop"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.create_key("acme").await;
    let res = app.client.get(app.url("/v1/jobs")).send().await.unwrap();
    check_problem(res, StatusCode::UNAUTHORIZED, "missing_api_key").await;
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let app = app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(res.headers().contains_key("x-request-id"), "{path}: generated request id");
    }
    app.stop().await;
}
