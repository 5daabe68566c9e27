//! The `export` job end to end through the HTTP API, on both blob backends: uploads,
//! library photos, an album and URLs into one ZIP that four independent readers accept
//! (Python's zipfile, Info-ZIP unzip, 7z, bsdtar); hostile and colliding names; partial
//! and total failure; cancel mid-way leaving nothing (no blob, no multipart upload);
//! submit-time checks (another tenant's sources, too many items); the 12 h link, and
//! expiry to 410.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tintype_blobs::BlobStore;
use tintype_fetch::FetchSection;
use tintype_imaging::encode::{JpegOptions, encode_rgb};
use tintype_pipelines::Sections;
use tintype_pipelines::export::config::ExportSection;
use tintype_pipelines::ingest::IngestSection;
use tintype_s3_fixture::{ACCESS_KEY, S3Server, SECRET_KEY};
use tintype_server::ServerConfig;
use tintype_test_support::{TestApp, TestOptions, zips};

fn sections(export: ExportSection) -> Sections {
    Sections {
        export,
        ingest: IngestSection { avif: false, threads: 2, ..IngestSection::default() },
        fetch: FetchSection { allow_loopback: true, timeout_secs: 5.0, ..FetchSection::default() },
        ..Sections::default()
    }
}

async fn app_with(export: ExportSection, blobs: Option<Arc<dyn BlobStore>>, worker: bool) -> TestApp {
    let server = ServerConfig { max_attempts: 1, ..ServerConfig::default() };
    TestApp::spawn_with(TestOptions { sections: sections(export), server, blobs, worker, ..TestOptions::default() })
        .await
}

fn s3_store(server: &S3Server) -> Arc<dyn BlobStore> {
    let config = tintype_blobs::S3Config {
        access_key_id: Some(ACCESS_KEY.to_owned()),
        secret_access_key: Some(SECRET_KEY.to_owned()),
        ..tintype_blobs::S3Config::from_url(&server.blobs_url()).expect("the fixture's URL parses")
    };
    Arc::new(tintype_blobs::S3Store::open(&config).expect("open the store"))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../imaging/tests/fixtures/photos/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A small JPEG, different for every seed.
fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 ^ seed, y as u8, seed]));
    encode_rgb(&img, &JpegOptions { quality: 80, dpi: 72, icc: None }).expect("encode")
}

/// Uploads raw bytes with a file name and type; returns the upload id.
async fn upload(app: &TestApp, key: &str, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let url = reqwest::Url::parse_with_params(&app.url("/v1/uploads"), [("filename", name)]).unwrap();
    let res =
        app.client.post(url).bearer_auth(key).header("content-type", content_type).body(bytes).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json::<Value>().await.unwrap()["upload_id"].as_str().unwrap().to_owned()
}

/// A library photo made from the camera fixture (taken 2024-07-14 18:30:05 +02:00).
async fn photo(app: &TestApp, key: &str) -> String {
    let url =
        reqwest::Url::parse_with_params(&app.url("/v1/uploads"), [("filename", "IMG_0001.JPG"), ("ingest", "true")])
            .unwrap();
    let res = app.client.post(url).bearer_auth(key).body(fixture("camera.jpg")).send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    let job = app.wait_terminal(key, body["job"]["id"].as_str().expect("an ingest job")).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job["result"]["photo_id"].as_str().unwrap().to_owned()
}

/// The camera fixture filed in the library as a photo behind the API's back (no worker
/// needed): taken 2024-07-14 18:30:05 at +02:00.
async fn filed_photo(app: &TestApp, key: &str) -> String {
    let bytes = fixture("camera.jpg");
    let id = upload(app, key, "camera.jpg", "image/jpeg", bytes.clone()).await;
    let taken = chrono::DateTime::parse_from_rfc3339("2024-07-14T16:30:05Z").unwrap().with_timezone(&chrono::Utc);
    let new = tintype_library::NewPhoto {
        tenant: "gallery".into(),
        upload_id: id,
        sha256: hex::encode(Sha256::digest(&bytes)),
        file_name: Some("IMG_0001.JPG".into()),
        content_type: "image/jpeg".into(),
        bytes: bytes.len() as u64,
        format: "jpeg".into(),
        width: 96,
        height: 64,
        exif: tintype_library::Exif {
            taken_at: Some(taken),
            taken_offset_minutes: Some(120),
            ..tintype_library::Exif::default()
        },
        phash: Some(0),
        phash_params: None,
    };
    let (photo, _) = app.library.begin_photo(new).await.unwrap();
    assert!(app.library.set_ready("gallery", &photo.id).await.unwrap());
    photo.id
}

/// Items served on loopback: a good JPEG, a 404, and one that never answers in time.
async fn source_server() -> SocketAddr {
    source_server_with(Arc::new(tokio::sync::Notify::new())).await
}

/// The same, telling `slow_hit` each time the slow item is asked for.
async fn source_server_with(slow_hit: Arc<tokio::sync::Notify>) -> SocketAddr {
    use axum::Router;
    use axum::http::StatusCode as S;
    use axum::routing::get;
    let good = jpeg(99);
    let app = Router::new()
        .route("/pics/good.jpg", get(move || async move { ([("content-type", "image/jpeg")], good.clone()) }))
        .route("/missing.jpg", get(|| async { S::NOT_FOUND }))
        .route(
            "/slow.jpg",
            get(move || async move {
                slow_hit.notify_one();
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The ZIP of a finished export, through its download link.
async fn download(app: &TestApp, key: &str, job: &Value) -> Vec<u8> {
    let id = job["id"].as_str().unwrap();
    let res = app.client.get(app.url(&format!("/v1/jobs/{id}/download"))).bearer_auth(key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let url = if location.starts_with("http") { location } else { app.url(&location) };
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.bytes().await.unwrap().to_vec()
}

/// The whole story on one backend.
async fn end_to_end(blobs: Option<Arc<dyn BlobStore>>) {
    let source = source_server().await;
    // No worker until the export's event stream is open, so that every step shows.
    let mut app = app_with(ExportSection { concurrency: 3, ..ExportSection::default() }, blobs, false).await;
    let key = app.create_key("gallery").await;
    let uploads = [
        upload(&app, &key, "a.jpg", "image/jpeg", jpeg(1)).await,
        upload(&app, &key, "A.JPG", "image/jpeg", jpeg(2)).await,
        upload(&app, &key, "../../evil.jpg", "image/jpeg", jpeg(3)).await,
        upload(&app, &key, "notes.txt", "text/plain", b"gallery notes\n".repeat(200)).await,
        upload(&app, &key, "Ünïcødé 日本.png", "image/png", jpeg(4)).await,
        upload(&app, &key, "CON.jpg", "image/jpeg", jpeg(5)).await,
        upload(&app, &key, "gone.jpg", "image/jpeg", jpeg(6)).await,
    ];
    let photo = filed_photo(&app, &key).await;
    let mut items: Vec<Value> = uploads.iter().map(|u| json!({"upload_id": u})).collect();
    items.push(json!({"photo_id": photo}));
    items.push(json!({"url": format!("http://{source}/pics/good.jpg")}));
    items.push(json!({"url": format!("http://{source}/missing.jpg"), "name": "wanted.jpg"}));
    // One upload's bytes vanish after submit: that item fails, the rest go on.
    let (status, job) =
        app.submit(&key, json!({"kind": "export", "input": {"items": items, "name": "../Summer"}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let gone = app.catalog.get_upload("gallery", &uploads[6]).await.unwrap().unwrap();
    app.blobs.delete(&tintype_blobs::BlobKey::new(gone.blob_key).unwrap()).await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let events = app.client.get(app.url(&format!("/v1/jobs/{id}/events"))).bearer_auth(&key).send().await.unwrap();
    app.start_worker();
    let events = tintype_test_support::sse::collect(events, 10_000).await;
    let mut steps: Vec<&str> = events.iter().filter_map(|e| e.data["step"].as_str()).collect();
    steps.dedup();
    let firsts: Vec<usize> = ["fetching", "zipping", "storing"]
        .iter()
        .map(|s| steps.iter().position(|x| x == s).unwrap_or_else(|| panic!("{s} in {steps:?}")))
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!(
        events.iter().any(|e| e.data["message"].as_str().is_some_and(|m| m.contains(" items, ") && m.contains("MB/s"))),
        "progress by items and bytes with a rate"
    );

    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let result = &job["result"];
    assert_eq!(result["partial"], true, "{result}");
    assert_eq!(result["items"], 10);
    assert_eq!(result["written"], 8);
    let failed: Vec<(u64, &str)> = result["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["index"].as_u64().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    assert_eq!(failed.len(), 2, "{result}");
    assert_eq!(failed[0].0, 6, "the vanished upload");
    assert_eq!(failed[1], (9, "fetch_status"), "{result}");
    assert_eq!(job["outputs"][0]["name"], "Summer.zip");
    // The link lasts 12 h.
    let expires = chrono::DateTime::parse_from_rfc3339(job["outputs"][0]["url_expires_at"].as_str().unwrap()).unwrap();
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((11.9..=12.1).contains(&hours), "link lifetime {hours} h");

    let zip = download(&app, &key, &job).await;
    assert_eq!(hex::encode(Sha256::digest(&zip)), result["zip"]["sha256"].as_str().unwrap());
    assert_eq!(zip.len() as u64, result["zip"]["bytes"].as_u64().unwrap());
    let entries = zips::check_bytes(&zip);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a.jpg",
            "A (1).JPG",
            "evil.jpg",
            "notes.txt",
            "Ünïcødé 日本.png",
            "_CON.jpg",
            "IMG_0001.JPG",
            "good.jpg",
            "export_report.txt"
        ]
    );
    for e in &entries {
        assert_eq!(e.flags & 0x0008, 0, "{}: no data descriptor", e.name);
        assert_eq!(e.flags & 0x0800, 0x0800, "{}: UTF-8 flagged", e.name);
        let deflated = e.name.ends_with(".txt");
        assert_eq!(e.method, if deflated { 8 } else { 0 }, "{}", e.name);
    }
    // The photo's time is when it was taken, where it was taken.
    assert_eq!(entries[6].date_time, (2024, 7, 14, 18, 30, 4));
    // The report names both failures.
    let report = python_read(&zip, "export_report.txt");
    assert!(report.contains("2 of 10 items"), "{report}");
    assert!(report.contains(&format!("item 7 (upload {})", uploads[6])), "{report}");
    assert!(
        report.contains("item 10 (url http://") && report.contains("\"wanted.jpg\"") && report.contains("404"),
        "{report}"
    );
    assert_eq!(python_read(&zip, "notes.txt"), "gallery notes\n".repeat(200));
    app.stop().await;
}

/// One entry's text, through Python's zipfile.
fn python_read(zip: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    std::fs::write(&path, zip).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())"])
        .arg(&path)
        .arg(name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_end_to_end_on_the_local_store() {
    end_to_end(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_end_to_end_on_s3() {
    let server = S3Server::start().expect("start the S3 server");
    end_to_end(Some(s3_store(&server))).await;
    assert!(server.pending_upload_parts().is_empty(), "no multipart upload left open");
}

#[tokio::test]
async fn every_item_failing_fails_the_job_and_stores_nothing() {
    let source = source_server().await;
    let app = app_with(ExportSection::default(), None, true).await;
    let key = app.create_key("gallery").await;
    let items = json!([{"url": format!("http://{source}/missing.jpg")}, {"url": "http://127.0.0.1:9/refused.jpg"}]);
    let (status, job) = app.submit(&key, json!({"kind": "export", "input": {"items": items}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job = app.wait_terminal(&key, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "all_items_failed", "{job}");
    assert!(job["error"]["message"].as_str().unwrap().contains("fetch_status"), "{job}");
    assert!(app.blobs_under("t/gallery/jobs/").await.is_empty(), "nothing stored");
    app.stop().await;
}

/// Cancelled while an item hangs: the fetch stops, the upload is aborted, nothing stays.
async fn cancel_mid_way(blobs: Option<Arc<dyn BlobStore>>) -> TestApp {
    let slow_hit = Arc::new(tokio::sync::Notify::new());
    let source = source_server_with(slow_hit.clone()).await;
    let export = ExportSection { concurrency: 1, ..ExportSection::default() };
    let app = app_with(export, blobs, true).await;
    let key = app.create_key("gallery").await;
    let good = format!("http://{source}/pics/good.jpg");
    let items = json!([{"url": good}, {"url": format!("http://{source}/slow.jpg")}, {"url": format!("{good}?n=3")}]);
    let (_, job) = app.submit(&key, json!({"kind": "export", "input": {"items": items}})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    // The first item is in (concurrency 1): the ZIP upload has begun, and the second item
    // hangs.
    tokio::time::timeout(Duration::from_secs(10), slow_hit.notified()).await.expect("the slow item is asked for");
    let res = app.client.delete(app.url(&format!("/v1/jobs/{id}"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Promptly: the slow item would hold it for 15 s (three 5 s fetch timeouts), and the
    // next heartbeat is up to 10 s away; the worker sees the cancel request's event.
    let job = tokio::time::timeout(Duration::from_secs(3), app.wait_terminal(&key, &id)).await.expect("a prompt stop");
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(app.blobs_under("t/gallery/jobs/").await.is_empty(), "nothing stored");
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_way_leaves_nothing_on_the_local_store() {
    cancel_mid_way(None).await.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_way_leaves_nothing_on_s3() {
    let server = S3Server::start().expect("start the S3 server");
    cancel_mid_way(Some(s3_store(&server))).await.stop().await;
    assert!(server.pending_upload_parts().is_empty(), "the multipart upload was aborted");
}

#[tokio::test]
async fn submit_refuses_other_tenants_sources_and_too_many_items() {
    let app = app_with(ExportSection { max_items: 3, ..ExportSection::default() }, None, true).await;
    let alice = app.create_key("alice").await;
    let bob = app.create_key("bob").await;
    let up = upload(&app, &alice, "a.jpg", "image/jpeg", jpeg(1)).await;
    let pic = photo(&app, &alice).await;
    let album = app.client.post(app.url("/v1/albums")).bearer_auth(&alice).json(&json!({"name": "Trip"})).send().await;
    let album: Value = album.unwrap().json().await.unwrap();
    let album = album["id"].as_str().unwrap().to_owned();
    let cases = [
        (json!({"items": [{"upload_id": up}]}), StatusCode::NOT_FOUND, "upload_not_found"),
        (json!({"items": [{"photo_id": pic}]}), StatusCode::NOT_FOUND, "photo_not_found"),
        (json!({"album_id": album}), StatusCode::NOT_FOUND, "album_not_found"),
        (
            json!({"items": [{"url": "http://a/1"}, {"url": "http://a/2"}, {"url": "http://a/3"}, {"url": "http://a/4"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_items",
        ),
        (
            json!({"items": [{"upload_id": "x", "url": "http://a/1"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (json!({"items": [{"url": "file:///etc/passwd"}]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        // The same source twice is refused at submit, not zipped twice.
        (
            json!({"items": [{"url": "http://a/1"}, {"url": "http://a/1"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (input, status, code) in cases {
        let (got, body) = app.submit(&bob, json!({"kind": "export", "input": input})).await;
        assert_eq!((got, body["code"].as_str().unwrap_or_default()), (status, code), "{input}: {body}");
        if code == "too_many_items" {
            assert!(body["detail"].as_str().unwrap().contains("at most 3"), "{body}");
        }
    }
    assert!(app.engine.list(&Default::default()).await.unwrap().jobs.iter().all(|j| j.kind != "export"), "no job");
    app.stop().await;
}

#[tokio::test]
async fn an_album_export_and_its_expiry() {
    let app = app_with(ExportSection { ttl_secs: 1, ..ExportSection::default() }, None, true).await;
    let key = app.create_key("family").await;
    let pic = photo(&app, &key).await;
    let res = app.client.post(app.url("/v1/albums")).bearer_auth(&key).json(&json!({"name": "Trip"})).send().await;
    let album: Value = res.unwrap().json().await.unwrap();
    let album = album["id"].as_str().unwrap().to_owned();
    let res = app
        .client
        .post(app.url(&format!("/v1/albums/{album}/photos")))
        .bearer_auth(&key)
        .json(&json!({"photo_ids": [pic]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, job) = app.submit(&key, json!({"kind": "export", "input": {"album_id": album, "name": "trip"}})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["partial"], false);
    let entries = zips::check_bytes(&download(&app, &key, &job).await);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["IMG_0001.JPG"], "no report when nothing failed");

    // Past its lifetime the sweeper deletes the ZIP; the job says expired, its download 410.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = app.sweeper.sweep_once(false).await.unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert!(app.blobs_under(&format!("t/family/jobs/{id}/")).await.is_empty());
    assert_eq!(app.get_job(&key, &id).await["state"], "expired");
    let res = app.client.get(app.url(&format!("/v1/jobs/{id}/download"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    app.stop().await;
}

/// Hostile items fail one by one and are reported, the rest still go in: a URL to a
/// private address under the default fetch rules (SSRF), and an item over
/// `export.max_item_bytes`.
#[tokio::test]
async fn ssrf_and_oversized_items_are_reported_not_fetched() {
    let server = ServerConfig { max_attempts: 1, ..ServerConfig::default() };
    let sections =
        Sections { export: ExportSection { max_item_bytes: 1_000, ..ExportSection::default() }, ..Sections::default() };
    let app = TestApp::spawn_with(TestOptions { sections, server, ..TestOptions::default() }).await;
    let key = app.create_key("gallery").await;
    let small = upload(&app, &key, "small.jpg", "image/jpeg", vec![0xFF; 500]).await;
    let big = upload(&app, &key, "big.jpg", "image/jpeg", vec![0xFF; 5_000]).await;
    let items = json!([
        {"upload_id": small},
        {"url": "http://127.0.0.1:9/private.jpg"},
        {"url": "http://169.254.169.254/latest/meta-data"},
        {"upload_id": big},
    ]);
    let (status, job) = app.submit(&key, json!({"kind": "export", "input": {"items": items}})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let job = app.wait_terminal(&key, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let codes: Vec<&str> =
        job["result"]["failed"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["url_host_not_allowed", "url_host_not_allowed", "file_too_large"], "{job}");
    let entries = zips::check_bytes(&download(&app, &key, &job).await);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["small.jpg", "export_report.txt"]);
    app.stop().await;
}
