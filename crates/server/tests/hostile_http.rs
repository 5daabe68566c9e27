//! The HTTP layer under abuse, over real sockets: slow and idle clients are cut by the
//! server's own timeouts, hundreds of idle sockets do not starve `/healthz`, every error
//! is problem+json, client text is bounded, links never come from a forged `Host`, open
//! mode refuses other origins and stays closed once a key existed, and concurrent
//! uploads of one tenant never race each other.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tintype_server::{ConnectionLimits, ServerConfig};
use tintype_test_support::{TestApp, TestOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The limits the tests give the server (short, so that a test sees them act).
fn short_limits() -> ServerConfig {
    ServerConfig {
        body_idle_timeout: Duration::from_secs(1),
        connections: ConnectionLimits { header_timeout: Duration::from_secs(1), max_connections: 64 },
        ..ServerConfig::default()
    }
}

async fn app_with(server: ServerConfig) -> TestApp {
    TestApp::spawn_with(TestOptions { server, worker: false, ..TestOptions::default() }).await
}

async fn check_problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "{code}");
    assert_eq!(res.headers()["content-type"], "application/problem+json", "{code}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    body
}

/// Reads until the server closes the connection (or `limit` passes: a failure).
async fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut got)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past {limit:?}; got {:?}",
        String::from_utf8_lossy(&got)
    );
    got
}

#[tokio::test]
async fn a_slow_request_head_and_an_idle_connection_are_cut() {
    let app = app_with(short_limits()).await;
    // Half a request head, then nothing.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    closed_by_server(&mut slow, Duration::from_secs(10)).await;
    // One request answered, then the kept-alive connection idles.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let got = closed_by_server(&mut idle, Duration::from_secs(10)).await;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_upload_body_is_a_408_and_leaves_nothing() {
    let app = app_with(short_limits()).await;
    let key = app.create_key("acme").await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0xFF; 1000]).await.unwrap();
    let got = closed_by_server(&mut stream, Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json") && text.contains("\"request_timeout\""), "{text}");
    assert!(app.blobs.list("t/acme/").await.unwrap().is_empty(), "nothing stored");
    app.stop().await;
}

#[tokio::test]
async fn hundreds_of_idle_sockets_do_not_starve_healthz() {
    let app = app_with(short_limits()).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // More idle sockets than connection slots: the server cuts the idle ones after the
    // header timeout, and a real request gets its turn.
    let res = tokio::time::timeout(Duration::from_secs(30), app.client.get(app.url("/healthz")).send()).await;
    assert_eq!(res.expect("healthz answered").unwrap().status(), StatusCode::OK);
    drop(idle);
    app.stop().await;
}

#[tokio::test]
async fn every_error_is_problem_json() {
    let app = app_with(ServerConfig::default()).await;
    let key = app.create_key("acme").await;
    let res = app.client.delete(app.url("/v1/uploads")).bearer_auth(&key).send().await.unwrap();
    let allow = res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
    check_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert!(allow.is_some_and(|a| a.contains("POST")), "405 keeps its Allow header");
    let res = app.client.get(app.url("/v1/jobs/%FF%FE")).bearer_auth(&key).send().await.unwrap();
    let body = check_problem(res, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(body["detail"].as_str().unwrap().len() < 400, "{body}");
    let res = app.client.get(app.url("/nowhere")).send().await.unwrap();
    check_problem(res, StatusCode::NOT_FOUND, "route_not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn client_text_is_bounded() {
    let app = app_with(ServerConfig::default()).await;
    let key = app.create_key("acme").await;
    let long = "x".repeat(60_000);
    // A long request id is replaced, a plain one echoed.
    let res = app.client.get(app.url("/healthz")).header("x-request-id", long.as_str()).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.len() <= 128 && id != long, "{}", id.len());
    let res = app.client.get(app.url("/healthz")).header("x-request-id", "trace-42.a:b").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-42.a:b");
    // A content type or file name of 60,000 characters is refused, nothing stored.
    let upload = |ct: String, name: &str| {
        app.client
            .post(app.url("/v1/uploads"))
            .query(&[("filename", name)])
            .bearer_auth(&key)
            .header("content-type", ct)
            .body(vec![0xFFu8; 100])
    };
    let res = upload(format!("image/{long}"), "a.jpg").send().await.unwrap();
    check_problem(res, StatusCode::BAD_REQUEST, "invalid_header").await;
    let res = upload("image/jpeg".into(), &long).send().await.unwrap();
    check_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    let res = upload("image/jpeg".into(), "bad\u{7}.jpg").send().await.unwrap();
    check_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
    assert!(app.blobs.list("t/acme/").await.unwrap().is_empty());
    let res = upload("image/jpeg; charset=binary".into(), "fine.jpg").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn links_never_come_from_a_forged_host() {
    // Without public_url, links come from Host: only loopback names and allowed hosts.
    let app = app_with(ServerConfig { allowed_hosts: vec!["img.example.org".into()], ..ServerConfig::default() }).await;
    let key = app.create_key("acme").await;
    let job = |host: &str| {
        app.client.post(app.url("/v1/jobs")).bearer_auth(&key).header("host", host).json(&json!({"kind": "noop"}))
    };
    let res = job("evil.example").send().await.unwrap();
    check_problem(res, StatusCode::MISDIRECTED_REQUEST, "host_not_allowed").await;
    let res = job("img.example.org").send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body["status_url"].as_str().unwrap().starts_with("http://img.example.org/"), "{body}");
    app.stop().await;

    // With public_url, every link is under it, whatever Host says.
    let app =
        app_with(ServerConfig { public_url: Some("https://tintype.example.com".into()), ..ServerConfig::default() })
            .await;
    let key = app.create_key("acme").await;
    let res = app
        .client
        .post(app.url("/v1/jobs"))
        .bearer_auth(&key)
        .header("host", "evil.example")
        .json(&json!({"kind": "noop"}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body["status_url"].as_str().unwrap().starts_with("https://tintype.example.com/v1/jobs/"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn open_mode_refuses_other_origins_and_stays_closed_after_a_key() {
    let app = app_with(ServerConfig { allow_open: true, ..ServerConfig::default() }).await;
    let upload = || app.client.post(app.url("/v1/uploads")).header("content-type", "image/jpeg").body(vec![1u8; 10]);
    // A page of another origin (a DNS-rebound name, or a cross-site form).
    let res = upload().header("host", "rebound.evil.example").send().await.unwrap();
    check_problem(res, StatusCode::MISDIRECTED_REQUEST, "host_not_allowed").await;
    let res = upload().header("origin", "http://evil.example").send().await.unwrap();
    check_problem(res, StatusCode::FORBIDDEN, "cross_origin").await;
    let res = upload().header("sec-fetch-site", "cross-site").send().await.unwrap();
    check_problem(res, StatusCode::FORBIDDEN, "cross_origin").await;
    // The same origin (a page the server itself serves) is fine.
    let res = upload().header("origin", app.base.as_str()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // Once a key existed, revoking it does not reopen the server.
    let secret = app.create_key("acme").await;
    let id = app.catalog.list_api_keys().await.unwrap().into_iter().next().unwrap().id;
    assert!(app.catalog.revoke_api_key(&id).await.unwrap());
    let res = app.client.get(app.url("/v1/jobs")).send().await.unwrap();
    check_problem(res, StatusCode::UNAUTHORIZED, "missing_api_key").await;
    let res = app.client.get(app.url("/v1/jobs")).bearer_auth(&secret).send().await.unwrap();
    check_problem(res, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_uploads_of_one_tenant_all_succeed() {
    let app = app_with(ServerConfig::default()).await;
    let key = app.create_key("acme").await;
    // Distinct content, and some the same (deduplicated), all at once.
    let sends = (0..50).map(|i| {
        let body = format!("content {}", i % 40).into_bytes();
        app.client
            .post(app.url("/v1/uploads"))
            .bearer_auth(&key)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    });
    let answers = futures::future::join_all(sends).await;
    for res in answers {
        let res = res.unwrap();
        assert!(matches!(res.status(), StatusCode::CREATED | StatusCode::OK), "{:?}", res.text().await);
    }
    let stored = app.blobs.list("t/acme/").await.unwrap();
    assert_eq!(stored.len(), 40, "one blob per content, no temp left: {stored:?}");
    assert!(stored.iter().all(|b| b.key.as_str().starts_with("t/acme/uploads/")));
    app.stop().await;
}

#[tokio::test]
async fn readyz_names_the_part_that_is_down_without_its_paths() {
    let app = app_with(ServerConfig::default()).await;
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["checks"], json!({"engine": "ok", "blobs": "ok"}), "{body}");
    let root = app.dir.path().join("blobs");
    std::fs::remove_dir_all(&root).unwrap();
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body = check_problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert_eq!(body["checks"], json!({"engine": "ok", "blobs": "storage_error"}), "{body}");
    assert!(!body.to_string().contains(&*root.to_string_lossy()), "no internal path: {body}");
    app.stop().await;
}
