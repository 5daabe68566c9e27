//! The presigned upload flow of the photo library on the S3 backend, through the HTTP
//! API, with curl as the third-party client: the URL the API hands out is the S3
//! server's own, bound to the content's SHA-256; a PUT of other bytes is refused by the
//! S3 server, and whatever a lax store kept is never filed (confirm hashes it and removes
//! it); the right bytes are ingested, and the original's link is the store's presigned
//! GET.

use std::process::Command;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tintype_blobs::{BlobStore, S3Config, S3Store};
use tintype_pipelines::Sections;
use tintype_pipelines::ingest::IngestSection;
use tintype_s3_fixture::{ACCESS_KEY, S3Server, SECRET_KEY};
use tintype_server::ServerConfig;
use tintype_test_support::{TestApp, TestOptions};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../imaging/tests/fixtures/photos/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs curl; returns the HTTP status and the body.
fn curl(args: &[String]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl must be installed");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("a status line");
    (code.trim().parse().expect("a status"), body.to_owned())
}

/// curl's arguments for a PUT of `file` to `url`, with `headers` when given.
fn put_args(url: &str, file: &std::path::Path, headers: Option<&Value>) -> Vec<String> {
    let mut args = vec!["-X".into(), "PUT".into(), "--data-binary".into(), format!("@{}", file.display())];
    for (name, value) in headers.and_then(Value::as_object).into_iter().flatten() {
        args.extend(["-H".into(), format!("{name}: {}", value.as_str().unwrap())]);
    }
    args.push(url.to_owned());
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_on_s3_refuses_other_bytes_and_files_the_right_ones() {
    let server = S3Server::start().expect("start the S3 server");
    let config = S3Config {
        access_key_id: Some(ACCESS_KEY.to_owned()),
        secret_access_key: Some(SECRET_KEY.to_owned()),
        ..S3Config::from_url(&server.blobs_url()).expect("the fixture's URL parses")
    };
    let blobs: Arc<dyn BlobStore> = Arc::new(S3Store::open(&config).expect("open the store"));
    let sections = Sections {
        ingest: IngestSection { avif: false, threads: 2, ..IngestSection::default() },
        ..Sections::default()
    };
    let server_config = ServerConfig { max_attempts: 1, ..ServerConfig::default() };
    let app = TestApp::spawn_with(TestOptions {
        sections,
        server: server_config,
        blobs: Some(blobs),
        ..TestOptions::default()
    })
    .await;
    let key = app.create_key("family").await;
    let bytes = fixture("camera.jpg");
    let sha = hex::encode(Sha256::digest(&bytes));
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (dir.path().join("good.jpg"), dir.path().join("bad.jpg"));
    std::fs::write(&good, &bytes).unwrap();
    let mut wrong = bytes.clone();
    wrong[100] ^= 0xFF;
    std::fs::write(&bad, &wrong).unwrap();

    let body = json!({"filename": "IMG_0001.JPG", "bytes": bytes.len(), "sha256": sha, "content_type": "image/jpeg"});
    let res = app.client.post(app.url("/v1/uploads/presign")).bearer_auth(&key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let presigned: Value = res.json().await.unwrap();
    let url = presigned["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&server.endpoint()), "the S3 server's own URL: {url}");
    assert!(presigned["headers"]["x-amz-checksum-sha256"].is_string(), "{presigned}");
    let id = presigned["upload_id"].as_str().unwrap().to_owned();
    let confirm = || async {
        let res =
            app.client.post(app.url(&format!("/v1/uploads/{id}/confirm"))).bearer_auth(&key).send().await.unwrap();
        let status = res.status();
        (status, res.json::<Value>().await.unwrap())
    };

    // Without the signed headers the S3 server refuses the PUT; with them, other bytes
    // are refused too.
    let (status, text) = curl(&put_args(&url, &good, None));
    assert_eq!(status, 403, "unsigned headers: {text}");
    let (status, text) = curl(&put_args(&url, &bad, Some(&presigned["headers"])));
    assert_eq!(status, 400, "other bytes: {text}");
    assert!(text.contains("BadDigest"), "{text}");
    // Nothing is filed: confirm finds nothing or a body that is not the content, removes
    // it, and makes no job.
    let (status, refused) = confirm().await;
    assert!(
        (status == StatusCode::UNPROCESSABLE_ENTITY && refused["code"] == "checksum_mismatch")
            || (status == StatusCode::CONFLICT && refused["code"] == "upload_incomplete"),
        "{status} {refused}"
    );
    assert!(app.blobs_under("t/family/").await.is_empty(), "nothing kept");
    assert!(app.catalog.find_upload_by_sha256("family", &sha).await.unwrap().is_none(), "no upload filed");
    assert!(app.engine.list(&Default::default()).await.unwrap().jobs.is_empty(), "no job");

    // The right bytes, with the headers: filed, ingested, browsable.
    let (status, text) = curl(&put_args(&url, &good, Some(&presigned["headers"])));
    assert_eq!(status, 200, "{text}");
    let (status, confirmed) = confirm().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{confirmed}");
    let job = app.wait_terminal(&key, confirmed["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let photo = job["result"]["photo_id"].as_str().unwrap().to_owned();
    let renditions = app.blobs_under(&format!("t/family/photos/{photo}/")).await;
    assert_eq!(renditions.len(), 6, "JPEG and WebP at three sizes: {renditions:?}");

    // The original's link is the S3 server's presigned GET; curl reads the bytes back.
    let res = app.client.get(app.url(&format!("/v1/photos/{photo}/original"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&server.endpoint()), "{location}");
    let out = Command::new("curl").args(["-s", "-f", &location]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(Sha256::digest(&out.stdout).as_slice(), Sha256::digest(&bytes).as_slice());

    // The same content again: presign says it is a duplicate, nothing to send.
    let res = app.client.post(app.url("/v1/uploads/presign")).bearer_auth(&key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["duplicate_of"], photo.as_str());
}
