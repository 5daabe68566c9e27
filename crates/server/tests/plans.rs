//! Plans end to end over HTTP (issue 14, first part): daily quotas (exact under 100
//! concurrent submits, reset at the UTC day on an injected clock, given back on a
//! server-side failure and not on bad input), the 402 answer a client shows as an
//! upgrade message, active-job caps, the kinds and priorities a plan allows, the free
//! plan's watermark, unknown plans, and `GET /v1/usage`; then rate limits, back-pressure,
//! fair claims and the storage quota. Every case runs on SQLite and on PostgreSQL.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tintype_codes::{Code, ErrorKind};
use tintype_db::Clock;
use tintype_kinds::{JobSpec, Submit, SubmitError};
use tintype_plans::{Limit, Plans};
use tintype_queue::{EngineConfig, JobOutput};
use tintype_test_support::{TestApp, TestOptions, extra_kind};
use tintype_worker::{JobContext, JobError, JobRunner};

/// 2026-12-02 22:00 UTC: two hours before the quotas' day ends.
fn evening() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T22:00:00Z").unwrap().to_utc()
}

/// The built-in plans with an upgrade link on free.
fn plans() -> Plans {
    let mut plans = Plans::default();
    plans.0.get_mut("free").unwrap().upgrade_url = "https://shop.example/upgrade".into();
    plans
}

/// An API on a manual clock, no worker (jobs stay queued unless a test starts one).
async fn app(plans: Plans, clock: &Clock, pg: bool) -> TestApp {
    TestApp::spawn_with(TestOptions {
        postgres: pg,
        worker: false,
        engine: EngineConfig { clock: clock.clone(), ..EngineConfig::default() },
        plans,
        extra: vec![extra_kind(Breaks)],
        ..TestOptions::default()
    })
    .await
}

async fn print(app: &TestApp, key: &str, upload: &str, single: bool) -> (StatusCode, Value) {
    let input = if single {
        json!({ "upload_id": upload, "mode": "single", "size": "8x10" })
    } else {
        json!({ "upload_id": upload })
    };
    app.submit(key, json!({ "kind": "print", "input": input })).await
}

async fn cancel(app: &TestApp, key: &str, job: &Value) {
    let id = job["id"].as_str().unwrap();
    let res = app.client.delete(app.url(&format!("/v1/jobs/{id}"))).bearer_auth(key).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

async fn usage(app: &TestApp, key: &str) -> Value {
    let res = app.client.get(app.url("/v1/usage")).bearer_auth(key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn a_hundred_concurrent_packs_on_a_fresh_free_key_let_exactly_one_in(pg: bool) {
    let clock = Clock::manual(evening());
    let app = app(plans(), &clock, pg).await;
    let key = app.create_key_on("shop", "free").await;
    let upload = app.upload(&key, b"\xFF\xD8\xFFnot decoded at submit".to_vec()).await;
    let submits = (0..100).map(|_| {
        let (client, url, key, upload) = (app.client.clone(), app.url("/v1/jobs"), key.clone(), upload.clone());
        tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(&key)
                .json(&json!({ "kind": "print", "input": { "upload_id": upload } }))
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        })
    });
    let (mut accepted, mut over_quota, mut rate_limited) = (0, 0, 0);
    for s in submits {
        let (status, body) = s.await.unwrap();
        match status {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::PAYMENT_REQUIRED if body["code"] == "free_batch_limit" => over_quota += 1,
            StatusCode::TOO_MANY_REQUESTS if body["code"] == "rate_limited" => rate_limited += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(accepted, 1, "exactly one pack");
    // The free plan's 30 job creations per 10 minutes: the other 70 never reach the quota.
    assert_eq!((over_quota, rate_limited), (29, 70));
    let filter = tintype_queue::JobFilter { tenant: Some("shop".into()), limit: 500, ..Default::default() };
    assert_eq!(app.engine.list(&filter).await.unwrap().jobs.len(), 1, "nothing else was enqueued");
}

async fn the_402_says_what_is_spent_when_it_resets_and_where_to_upgrade(pg: bool) {
    let clock = Clock::manual(evening());
    let app = app(plans(), &clock, pg).await;
    let key = app.create_key_on("shop", "free").await;
    let upload = app.upload(&key, b"\xFF\xD8\xFFart".to_vec()).await;

    let (status, pack) = print(&app, &key, &upload, false).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pack}");
    assert_eq!(pack["input"]["watermark"], true, "the free plan's outputs are watermarked");
    cancel(&app, &key, &pack).await; // a cancel by the tenant does not give the quota back
    let (status, refused) = print(&app, &key, &upload, false).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    assert_eq!(refused["code"], "free_batch_limit");
    assert_eq!(refused["quota"], json!({ "class": "print_pack", "limit": 1, "used": 1, "remaining": 0 }));
    assert_eq!(refused["resets_at"], "2026-12-03T00:00:00Z");
    assert_eq!(refused["upgrade_url"], "https://shop.example/upgrade");
    assert_eq!(refused["plan"], "free");
    assert!(refused["detail"].as_str().unwrap().contains("1 print pack job a day"), "{refused}");

    // Single sizes count apart: 3 a day (each cancelled to stay under 2 active jobs).
    for _ in 0..3 {
        let (status, single) = print(&app, &key, &upload, true).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{single}");
        cancel(&app, &key, &single).await;
    }
    let (status, refused) = print(&app, &key, &upload, true).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("free_quick_limit")));
    let seen = usage(&app, &key).await;
    assert_eq!(seen["daily"]["print_pack"], json!({ "used": 1, "limit": 1, "remaining": 0 }));
    assert_eq!(seen["daily"]["print_single"], json!({ "used": 3, "limit": 3, "remaining": 0 }));
    assert_eq!(seen["daily"]["export"]["limit"], Value::Null, "unlimited");

    // Past midnight UTC (the injected clock, no sleeping) the day starts afresh.
    clock.advance(Duration::from_secs(2 * 3600 + 1));
    let (status, body) = print(&app, &key, &upload, false).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let seen = usage(&app, &key).await;
    assert_eq!((seen["day"].as_str(), &seen["daily"]["print_pack"]["used"]), (Some("2026-12-03"), &json!(1)));

    // A pro key has no daily quota and no watermark.
    let pro = app.create_key_on("studio", "pro").await;
    let art = app.upload(&pro, b"\xFF\xD8\xFFart".to_vec()).await;
    for _ in 0..3 {
        let (status, body) = print(&app, &pro, &art, false).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_ne!(body["input"]["watermark"], true, "no watermark on pro");
    }
}

async fn active_jobs_kinds_and_priorities_follow_the_plan(pg: bool) {
    let clock = Clock::manual(evening());
    let app = app(plans(), &clock, pg).await;
    let pro = app.create_key_on("studio", "pro").await;
    let upload = app.upload(&pro, b"\xFF\xD8\xFFart".to_vec()).await;
    for _ in 0..7 {
        assert_eq!(print(&app, &pro, &upload, false).await.0, StatusCode::ACCEPTED);
    }
    let res = app
        .client
        .post(app.url("/v1/jobs"))
        .bearer_auth(&pro)
        .json(&json!({ "kind": "print", "input": { "upload_id": upload } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "2");
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["code"].as_str(), &body["limit"]), (Some("too_many_active_jobs"), &json!(7)));
    assert_eq!(usage(&app, &pro).await["active_jobs"], json!({ "used": 7, "limit": 7 }));

    let free = app.create_key_on("shop", "free").await;
    for kind in ["sleep", "noop"] {
        let (status, body) = app.submit(&free, json!({ "kind": kind })).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("kind_not_allowed")), "{body}");
        let (status, _) = app.submit(&pro, json!({ "kind": kind })).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "diagnostic kinds are off for pro too");
    }
    let (status, body) = app.submit(&free, json!({ "kind": "breaks", "priority": 5 })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("priority_not_allowed")), "{body}");
    let team = app.create_key_on("team", "local").await;
    let (status, body) = app.submit(&team, json!({ "kind": "sleep", "priority": 1000, "input": { "ms": 1 } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the local plan runs every kind at any priority: {body}");
    let seen = usage(&app, &free).await;
    assert_eq!((seen["plan"].as_str(), seen["priority"]["max"].as_i64()), (Some("free"), Some(0)));
    assert!(!seen["kinds"].as_array().unwrap().contains(&json!("sleep")), "{seen}");

    // A key whose plan the config lacks (plan names are exact).
    let odd = app.create_key_on("odd", "Free").await;
    let (status, body) = app.submit(&odd, json!({ "kind": "breaks" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("unknown_plan")), "{body}");
}

/// Fails on its input (`{"bad": true}`: permanent, the input's fault) or as a server
/// would (a dependency down: transient, every attempt).
struct Breaks;

const BROKEN_DEPENDENCY: Code = Code::new("broken_dependency", ErrorKind::Unavailable);
const BAD_PAYLOAD: Code = Code::new("bad_payload", ErrorKind::InvalidInput);

#[async_trait]
impl JobSpec for Breaks {
    fn kind(&self) -> &'static str {
        "breaks"
    }
    fn steps(&self) -> &'static [&'static str] {
        &["breaking"]
    }
    async fn validate(&self, _: &mut Value, _: Submit<'_>) -> Result<(), SubmitError> {
        Ok(())
    }
}

#[async_trait]
impl JobRunner for Breaks {
    fn kind(&self) -> &'static str {
        "breaks"
    }
    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError> {
        if ctx.job().input["bad"] == true {
            return Err(JobError::permanent(BAD_PAYLOAD, "the payload is wrong"));
        }
        Err(JobError::transient(BROKEN_DEPENDENCY, "the dependency is down"))
    }
}

async fn a_server_side_failure_gives_the_quota_back_and_bad_input_does_not(pg: bool) {
    let clock = Clock::system();
    let mut plans = plans();
    let free = plans.0.get_mut("free").unwrap();
    free.daily.insert("breaks".into(), Limit::At(2));
    free.max_active_jobs = Limit::NONE;
    let mut app = TestApp::spawn_with(TestOptions {
        postgres: pg,
        worker: false,
        engine: EngineConfig {
            clock,
            retry: tintype_queue::RetryPolicy {
                base: Duration::from_millis(1),
                cap: Duration::from_millis(1),
                jitter: 0.0,
            },
            ..EngineConfig::default()
        },
        plans,
        extra: vec![extra_kind(Breaks)],
        ..TestOptions::default()
    })
    .await;
    app.start_worker();
    let key = app.create_key_on("shop", "free").await;
    let used = |v: Value| v["daily"]["breaks"]["used"].as_u64().unwrap();

    let (status, bad) = app.submit(&key, json!({ "kind": "breaks", "input": { "bad": true } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{bad}");
    let done = app.wait_terminal(&key, bad["id"].as_str().unwrap()).await;
    assert_eq!((done["state"].as_str(), done["error"]["code"].as_str()), (Some("failed"), Some("bad_payload")));
    assert_eq!(used(usage(&app, &key).await), 1, "bad input keeps its count");

    let (status, broken) = app.submit(&key, json!({ "kind": "breaks" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{broken}");
    assert_eq!(used(usage(&app, &key).await), 2);
    let done = app.wait_terminal(&key, broken["id"].as_str().unwrap()).await;
    assert_eq!(
        (done["state"].as_str(), done["error"]["code"].as_str(), done["attempt"].as_u64()),
        (Some("failed"), Some("broken_dependency"), Some(3)),
        "{done}"
    );
    assert_eq!(used(usage(&app, &key).await), 1, "the server's failure gave its count back");
    let (status, body) = app.submit(&key, json!({ "kind": "breaks", "input": { "bad": true } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "room again: {body}");
    let (status, body) = app.submit(&key, json!({ "kind": "breaks" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("daily_quota_exceeded")), "{body}");
    // The job given back cannot come back for free: retrying it is counted like a new
    // job, and the quota is full now.
    let id = broken["id"].as_str().unwrap();
    let res = app.client.post(app.url(&format!("/v1/jobs/{id}/retry"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "daily_quota_exceeded");
    assert_eq!(app.get_job(&key, id).await["state"], "failed", "a refused retry leaves the job as it was");
    // A job still counted (failed on its input) is retried without a new count.
    let id = bad["id"].as_str().unwrap();
    let res = app.client.post(app.url(&format!("/v1/jobs/{id}/retry"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(used(usage(&app, &key).await), 2);
}

async fn rate_limits_answer_429_with_the_ietf_headers_and_refill_by_the_clock(pg: bool) {
    let clock = Clock::manual(evening());
    let mut plans = plans();
    let free = plans.0.get_mut("free").unwrap();
    free.rate.insert("jobs".into(), tintype_plans::Rate { requests: 3, per_secs: 60 });
    free.max_active_jobs = Limit::NONE;
    let app = app(plans, &clock, pg).await;
    let key = app.create_key_on("shop", "free").await;
    let other = app.create_key_on("shop", "free").await;
    let submit =
        |key: &str| app.client.post(app.url("/v1/jobs")).bearer_auth(key).json(&json!({ "kind": "breaks" })).send();
    for left in [2, 1, 0] {
        let res = submit(&key).await.unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(res.headers()["ratelimit-policy"], "\"jobs\";q=3;w=60");
        assert_eq!(res.headers()["ratelimit"], format!("\"jobs\";r={left};t={}", 20 * (3 - left)).as_str());
    }
    let res = submit(&key).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "20");
    assert_eq!(res.headers()["ratelimit"], "\"jobs\";r=0;t=60");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["retry_after"].as_u64()), (Some("rate_limited"), Some(20)));
    let jobs = |key: String| {
        let (client, url) = (app.client.clone(), app.url("/v1/jobs"));
        async move { client.get(url).bearer_auth(key).send().await.unwrap() }
    };
    for _ in 0..10 {
        assert_eq!(jobs(key.clone()).await.status(), StatusCode::OK, "reads are not limited");
    }
    assert_eq!(submit(&other).await.unwrap().status(), StatusCode::ACCEPTED, "each key has its own limit");
    clock.advance(Duration::from_secs(20));
    assert_eq!(submit(&key).await.unwrap().status(), StatusCode::ACCEPTED, "one back after 20 s");
    assert_eq!(submit(&key).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    let filter = tintype_queue::JobFilter { tenant: Some("shop".into()), limit: 100, ..Default::default() };
    assert_eq!(app.engine.list(&filter).await.unwrap().jobs.len(), 5, "refused requests enqueued nothing");

    // Uploads have their own class: the free plan's 10 per 10 minutes.
    for i in 0..10 {
        let res = app.client.post(app.url("/v1/uploads")).bearer_auth(&key).body(vec![i as u8; 10]).send().await;
        assert!(res.unwrap().status().is_success(), "upload {i}");
    }
    let res = app.client.post(app.url("/v1/uploads")).bearer_auth(&key).body(vec![99u8; 10]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "60");
}

async fn a_full_queue_answers_503_retry_after_2_and_enqueues_nothing(pg: bool) {
    let clock = Clock::manual(evening());
    let app = TestApp::spawn_with(TestOptions {
        postgres: pg,
        worker: false,
        engine: EngineConfig { clock: clock.clone(), ..EngineConfig::default() },
        server: tintype_server::ServerConfig { max_queued_jobs: Some(3), ..Default::default() },
        extra: vec![extra_kind(Breaks)],
        ..TestOptions::default()
    })
    .await;
    let key = app.create_key("shop").await;
    for _ in 0..3 {
        assert_eq!(app.submit(&key, json!({ "kind": "breaks" })).await.0, StatusCode::ACCEPTED);
    }
    let res = app.client.post(app.url("/v1/jobs")).bearer_auth(&key).json(&json!({ "kind": "breaks" })).send();
    let res = res.await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (res.headers()["retry-after"].to_str().unwrap(), res.headers()["cache-control"].to_str().unwrap()),
        ("2", "no-store")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "queue_full");
    assert!(body["detail"].as_str().unwrap().contains("default queue has 3 jobs waiting"), "{body}");
    let (status, _) = app.submit(&key, json!({ "kind": "breaks", "queue": "low" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "another queue has room");
    let filter = tintype_queue::JobFilter { tenant: Some("shop".into()), limit: 100, ..Default::default() };
    assert_eq!(app.engine.list(&filter).await.unwrap().jobs.len(), 4);
    let res = app.client.get(app.url("/v1/jobs")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "reads go on while job creation is refused");
}

async fn one_tenants_backlog_does_not_hold_every_worker_slot(pg: bool) {
    let mut plans = plans();
    plans.0.insert(
        "batch".into(),
        tintype_plans::Plan { kinds: vec!["*".into()], max_running_jobs: Limit::At(1), ..Default::default() },
    );
    let app = TestApp::spawn_with(TestOptions {
        postgres: pg,
        worker_config: tintype_worker::WorkerConfig { concurrency: 2, ..Default::default() },
        plans,
        ..TestOptions::default()
    })
    .await;
    let heavy = app.create_key_on("heavy", "batch").await;
    let light = app.create_key("light").await;
    let mut backlog = Vec::new();
    for _ in 0..3 {
        let (status, job) = app.submit(&heavy, json!({ "kind": "sleep", "input": { "ms": 1500 } })).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        backlog.push(job["id"].as_str().unwrap().to_owned());
    }
    let (status, quick) = app.submit(&light, json!({ "kind": "sleep", "input": { "ms": 10 } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{quick}");
    let done = app.wait_terminal(&light, quick["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded");
    // The light tenant's job ran in the slot the heavy tenant's cap left free, while the
    // heavy tenant's first job still ran and its others waited.
    let states: Vec<String> = {
        let mut s = Vec::new();
        for id in &backlog {
            s.push(app.get_job(&heavy, id).await["state"].as_str().unwrap().to_owned());
        }
        s
    };
    assert_eq!(states, ["running", "queued", "queued"], "{states:?}");
}

async fn the_storage_quota_counts_uploads_and_kept_artifacts(pg: bool) {
    let mut plans = plans();
    plans.0.insert(
        "tiny".into(),
        tintype_plans::Plan { kinds: vec!["*".into()], storage_bytes: Limit::At(1000), ..Default::default() },
    );
    let app = TestApp::spawn_with(TestOptions { plans, postgres: pg, ..TestOptions::default() }).await;
    let key = app.create_key_on("shop", "tiny").await;
    let upload = |bytes: Vec<u8>| app.client.post(app.url("/v1/uploads")).bearer_auth(&key).body(bytes).send();
    assert_eq!(upload(vec![1; 600]).await.unwrap().status(), StatusCode::CREATED);
    let res = upload(vec![2; 600]).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "storage_quota_exceeded");
    assert_eq!(body["storage"], json!({ "limit": 1000, "used": 600 }));
    assert_eq!(upload(vec![1; 600]).await.unwrap().status(), StatusCode::OK, "a duplicate adds nothing");
    assert!(app.blobs_under("t/shop/").await.len() == 1, "the refused upload left nothing behind");

    // A job's artifacts count too, once it has succeeded; when the quota is reached, no
    // more jobs.
    let (status, job) = app.submit(&key, json!({ "kind": "sleep", "input": { "ms": 1, "artifact": true } })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let done = app.wait_terminal(&key, job["id"].as_str().unwrap()).await;
    let artifact = done["outputs"][0]["bytes"].as_u64().unwrap();
    let seen = usage(&app, &key).await;
    assert_eq!(seen["storage_bytes"], json!({ "used": 600 + artifact, "limit": 1000 }));
    assert_eq!(upload(vec![3; 400]).await.unwrap().status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(upload(vec![3; 400 - artifact as usize]).await.unwrap().status(), StatusCode::CREATED, "exactly full");
    let (status, body) = app.submit(&key, json!({ "kind": "sleep", "input": { "ms": 1 } })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("storage_quota_exceeded")));
}

/// Each case on both engines: a SQLite file, and a scratch schema of the local
/// PostgreSQL (skipped, saying so, when it does not answer, unless CI requires it).
macro_rules! on_both_engines {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(false).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if tintype_db::testing::pg_available().await {
                        super::$case(true).await;
                    }
                }
            )+
        }
    };
}

on_both_engines!(
    a_hundred_concurrent_packs_on_a_fresh_free_key_let_exactly_one_in,
    the_402_says_what_is_spent_when_it_resets_and_where_to_upgrade,
    active_jobs_kinds_and_priorities_follow_the_plan,
    a_server_side_failure_gives_the_quota_back_and_bad_input_does_not,
    rate_limits_answer_429_with_the_ietf_headers_and_refill_by_the_clock,
    a_full_queue_answers_503_retry_after_2_and_enqueues_nothing,
    one_tenants_backlog_does_not_hold_every_worker_slot,
    the_storage_quota_counts_uploads_and_kept_artifacts
);
