//! The `print` job end to end through the HTTP API: upload, submit, watch, download; bad
//! inputs become permanent job errors with stable codes and harm nothing stored; URL
//! sources against a test server on loopback; cancellation between files.

#[path = "../../imaging/tests/fixtures/mod.rs"]
mod fixtures;

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use image::DynamicImage;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tintype_fetch::FetchSection;
use tintype_imaging::encode::jfif_density;
use tintype_pipelines::Sections;
use tintype_pipelines::print::PrintSection;
use tintype_server::ServerConfig;
use tintype_test_support::{TestApp, TestOptions};

async fn app(fetch: FetchSection) -> TestApp {
    app_with(fetch, true).await
}

async fn app_with(fetch: FetchSection, worker: bool) -> TestApp {
    let sections =
        Sections { print: PrintSection { threads: 2, ..PrintSection::default() }, fetch, ..Sections::default() };
    let server = ServerConfig { max_attempts: 1, ..ServerConfig::default() };
    TestApp::spawn_with(TestOptions { sections, server, worker, ..TestOptions::default() }).await
}

fn landscape_jpeg() -> Vec<u8> {
    fixtures::jpeg(&DynamicImage::ImageRgb8(fixtures::quadrants(600, 400)))
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().into_owned(), data)
        })
        .collect()
}

#[tokio::test]
async fn a_pack_end_to_end() {
    // No worker until the stream is open, so that every step shows however loaded the machine.
    let mut app = app_with(FetchSection::default(), false).await;
    let key = app.create_key("acme").await;
    let upload = app.upload(&key, landscape_jpeg()).await;
    let input = json!({"upload_id": upload, "groups": ["4x5", "iso"], "dpi": 72});
    let (status, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();

    // Watch it: the event stream shows the steps in order and ends at the terminal state.
    let events = app.client.get(app.url(&format!("/v1/jobs/{id}/events"))).bearer_auth(&key).send().await.unwrap();
    app.start_worker();
    let events = tintype_test_support::sse::collect(events, 10_000).await;
    assert_eq!(events[0].data["state"], "queued", "the stream opens on the current view");
    let mut steps: Vec<String> = events.iter().filter_map(|e| e.data["step"].as_str().map(str::to_owned)).collect();
    steps.dedup();
    for step in ["fetching", "decoding", "resizing", "encoding", "zipping", "storing"] {
        assert!(steps.iter().any(|s| s == step), "{step} in {steps:?}");
    }
    let order = ["fetching", "decoding", "resizing", "encoding", "zipping", "storing"];
    let firsts: Vec<usize> = order.iter().filter_map(|o| steps.iter().position(|s| s == o)).collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "steps first seen out of order: {steps:?}");
    assert!(steps.iter().all(|s| order.contains(&s.as_str())), "only print's steps: {steps:?}");
    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");

    // Outputs: one ZIP per group under the job's prefix, listed with signed links.
    let names: Vec<&str> = job["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["4x5_print_sizes.zip", "iso_print_sizes.zip"]);
    assert!(job["outputs"].as_array().unwrap().iter().all(|o| o["url"].as_str().is_some_and(|u| u.contains("sig="))));
    let stored = app.blobs_under(&format!("t/acme/jobs/{id}/")).await;
    assert_eq!(stored.len(), 2, "{stored:?}");

    let zip = app.download(&key, &id, "4x5_print_sizes.zip").await.bytes().await.unwrap();
    let entries = unzip(&zip);
    let files: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    // Landscape source, landscape sizes; pixels = round(inches x 72).
    assert_eq!(
        files,
        [
            "4x5_print_sizes/8x10_720x576.jpg",
            "4x5_print_sizes/12x15_1080x864.jpg",
            "4x5_print_sizes/16x20_1440x1152.jpg",
            "4x5_print_sizes/20x25_1800x1440.jpg"
        ]
    );
    for (name, jpeg) in &entries {
        assert_eq!(jfif_density(jpeg), Some((1, 72, 72)), "{name}: density");
        let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
        // Upright and unmirrored: the quadrant colours are where the source had them.
        let (w, h) = img.dimensions();
        for ((x, y), colour) in fixtures::quadrant_samples(w, h) {
            let got = img.get_pixel(x, y).0;
            assert!(got.iter().zip(colour).all(|(a, b)| a.abs_diff(b) < 40), "{name} at {x},{y}: {got:?}");
        }
    }
    let iso = unzip(&app.download(&key, &id, "iso_print_sizes.zip").await.bytes().await.unwrap());
    assert!(iso.iter().any(|(n, _)| n == "iso_print_sizes/A4_842x595.jpg"), "A4 at 72 dpi");

    // The report: quality per file, effective resolution, low-resolution flags.
    let groups = job["result"]["groups"].as_array().unwrap();
    assert_eq!(groups[0]["group"], "4x5");
    assert_eq!(groups[0]["split"], false);
    let eight_by_ten = &groups[0]["files"][0];
    assert_eq!(eight_by_ten["size"], "8x10");
    assert_eq!(eight_by_ten["quality"], 80);
    assert_eq!(eight_by_ten["effective_dpi"], 50.0, "400 px over 8 in");
    assert_eq!(eight_by_ten["low_resolution"], true);
    assert!(
        job["result"]["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("effective dpi"))
    );
    assert_eq!(job["result"]["source"]["orientation"], "landscape");
    app.stop().await;
}

#[tokio::test]
async fn a_single_export_downloads_under_its_name() {
    let app = app(FetchSection::default()).await;
    let key = app.create_key("acme").await;
    let upload = app.upload(&key, landscape_jpeg()).await;
    let input = json!({"upload_id": upload, "mode": "single", "size": "8x10", "orientation": "portrait", "dpi": 72,
        "fit": "crop", "focal": [0.0, 0.0]});
    let (_, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let res = app.download(&key, &id, "export_4x5_8x10_portrait.jpg").await;
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains("export_4x5_8x10_portrait.jpg"), "{disposition}");
    let jpeg = res.bytes().await.unwrap();
    let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (576, 720));
    // Cropped against the left edge: a 320x400 cut of the 600x400 source (x 0..320), so
    // red over blue, and the green quadrant (from x = 300) only in the last 1/16 of a row.
    let red = |p: [u8; 3]| p[0] > 200 && p[1] < 60;
    let green = |p: [u8; 3]| p[1] > 200 && p[0] < 60;
    assert!(red(img.get_pixel(5, 5).0), "top left is red");
    assert!(img.get_pixel(5, 715).0[2] > 200, "bottom left is blue");
    assert!((0..576 * 15 / 16 - 8).all(|x| !green(img.get_pixel(x, 100).0)), "no green before x = 540");
    assert!(green(img.get_pixel(570, 100).0), "the sliver of green at the right edge");
    assert_eq!(job["result"]["files"][0]["name"], "export_4x5_8x10_portrait.jpg");
    app.stop().await;
}

#[tokio::test]
async fn bad_inputs_fail_permanently_with_stable_codes_and_harm_nothing() {
    let app = app(FetchSection::default()).await;
    let key = app.create_key("acme").await;
    let good = landscape_jpeg();
    let good_upload = app.upload(&key, good.clone()).await;
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let mut corrupt = good.clone();
    for b in corrupt.iter_mut().skip(700).step_by(3) {
        *b = 0xFF;
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty_file"),
        ("text", b"hello, this is not an image".to_vec(), "not_an_image"),
        ("truncated jpeg", truncated, "corrupt_image"),
        ("corrupt jpeg", corrupt, "corrupt_image"),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(), "unsupported_format"),
        ("png claiming 20000x20000", fixtures::png_claiming(20_000, 20_000), "image_too_large"),
        // Under 15,000 a side but 144 MP: a decompression bomb refused from its header.
        ("png bomb 12000x12000", fixtures::png_claiming(12_000, 12_000), "image_too_large"),
        ("jpeg claiming 14000x14000", fixtures::with_sof_size(&good, 14_000, 14_000), "image_too_large"),
    ];
    for (name, bytes, code) in cases {
        let upload = app.upload(&key, bytes).await;
        let (status, job) = app.submit(&key, json!({"kind": "print", "input": {"upload_id": upload}})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}");
        let id = job["id"].as_str().unwrap().to_owned();
        let started = std::time::Instant::now();
        let job = app.wait_terminal(&key, &id).await;
        assert_eq!(job["state"], "failed", "{name}: {job}");
        assert_eq!(job["error"]["code"], code, "{name}: {job}");
        assert_eq!(job["error"]["retryable"], false, "{name}");
        assert_eq!(job["attempt"], 1, "{name}: not retried");
        assert!(started.elapsed() < Duration::from_secs(20), "{name}: refused quickly");
        assert!(app.blobs_under(&format!("t/acme/jobs/{id}/")).await.is_empty(), "{name}: no partial output");
    }
    // What was stored before is intact: the good upload still makes a pack.
    let input = json!({"upload_id": good_upload, "groups": ["4x5"], "dpi": 72});
    let (_, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
    let job = app.wait_terminal(&key, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");

    // Invalid inputs are refused at submit time.
    for (input, fragment) in [
        (json!({"upload_id": good_upload, "groups": ["5x5"]}), "unknown group"),
        (json!({"upload_id": good_upload, "groups": ["2x3", "2x3"]}), "listed twice"),
        (json!({"upload_id": good_upload, "mode": "single"}), "needs a size"),
        (json!({"url": "file:///etc/passwd"}), "http"),
    ] {
        let (status, body) = app.submit(&key, json!({"kind": "print", "input": input})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "invalid_input");
        assert!(body["detail"].as_str().unwrap().contains(fragment), "{body}");
    }
    // Another tenant's upload is not found, at submit time (no job is made).
    let other = app.create_key("other").await;
    let (status, body) = app.submit(&other, json!({"kind": "print", "input": {"upload_id": good_upload}})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("upload_not_found")), "{body}");
    let listed = app.client.get(app.url("/v1/jobs")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(listed.json::<serde_json::Value>().await.unwrap()["jobs"], json!([]), "no job was queued");
    app.stop().await;
}

/// A source server on loopback: a good image, a slow one, an oversized one, and a
/// redirect to a private address.
async fn source_server() -> SocketAddr {
    use axum::Router;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;
    let good = landscape_jpeg();
    let app = Router::new()
        .route("/good.jpg", get(move || async move { ([("content-type", "image/jpeg")], good.clone()) }))
        .route(
            "/slow.jpg",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route("/big.jpg", get(|| async { vec![0xFFu8; 3_000_000].into_response() }))
        .route("/private", get(|| async { Redirect::temporary("http://10.1.2.3/a.jpg") }))
        .route("/metadata", get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn url_sources_are_fetched_safely() {
    let source = source_server().await;
    let policy =
        FetchSection { allow_loopback: true, timeout_secs: 2.0, max_bytes: 1_000_000, ..FetchSection::default() };
    let app = app(policy).await;
    let key = app.create_key("acme").await;
    let cases = [
        ("good.jpg", "succeeded", None),
        ("slow.jpg", "failed", Some("fetch_timeout")),
        ("big.jpg", "failed", Some("fetch_too_large")),
        ("private", "failed", Some("url_host_not_allowed")),
        ("metadata", "failed", Some("url_host_not_allowed")),
    ];
    for (path, state, code) in cases {
        let input = json!({"url": format!("http://{source}/{path}"), "groups": ["4x5"], "dpi": 72});
        let (_, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
        let job = app.wait_terminal(&key, job["id"].as_str().unwrap()).await;
        assert_eq!(job["state"], state, "{path}: {job}");
        if let Some(code) = code {
            assert_eq!(job["error"]["code"], code, "{path}: {job}");
        }
    }
    app.stop().await;

    // The default policy refuses loopback outright.
    let strict = app_default_policy().await;
    let key = strict.create_key("acme").await;
    let input = json!({"url": format!("http://{source}/good.jpg")});
    let (_, job) = strict.submit(&key, json!({"kind": "print", "input": input})).await;
    let job = strict.wait_terminal(&key, job["id"].as_str().unwrap()).await;
    assert_eq!(job["error"]["code"], "url_host_not_allowed", "{job}");
    strict.stop().await;
}

async fn app_default_policy() -> TestApp {
    app(FetchSection::default()).await
}

#[tokio::test]
async fn cancelling_stops_between_files() {
    let app = app(FetchSection::default()).await;
    let key = app.create_key("acme").await;
    let source = fixtures::jpeg(&DynamicImage::ImageRgb8(fixtures::noisy(1500, 1000)));
    let upload = app.upload(&key, source).await;
    // Every group at 300 dpi: hundreds of megapixels, seconds of work.
    let (_, job) = app.submit(&key, json!({"kind": "print", "input": {"upload_id": upload}})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    // Cancel the moment it starts encoding (awaited, not polled): seconds of work remain.
    app.wait_for(&id, |job| job.step.as_deref() == Some("encoding")).await;
    let res = app.client.delete(app.url(&format!("/v1/jobs/{id}"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "cancelled", "{job}");
    app.stop().await;
}

#[tokio::test]
async fn an_exif_rotated_upload_comes_out_upright() {
    let app = app(FetchSection::default()).await;
    let key = app.create_key("acme").await;
    // A portrait picture stored sideways with orientation 6 (rotate 90° clockwise to view).
    let upright = fixtures::quadrants(400, 600);
    let stored = fixtures::stored_for(&upright, 6);
    let jpeg = fixtures::with_exif_orientation(&fixtures::jpeg(&DynamicImage::ImageRgb8(stored)), 6, false);
    let upload = app.upload(&key, jpeg).await;
    let input = json!({"upload_id": upload, "mode": "single", "size": "8x12", "dpi": 72});
    let (_, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["source"]["orientation"], "portrait", "orientation applied before choosing sizes");
    let jpeg = app.download(&key, &id, "export_2x3_8x12_portrait.jpg").await.bytes().await.unwrap();
    let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (576, 864));
    for ((x, y), colour) in fixtures::quadrant_samples(576, 864) {
        let got = img.get_pixel(x, y).0;
        assert!(got.iter().zip(colour).all(|(a, b)| a.abs_diff(b) < 40), "at {x},{y}: {got:?}, expected {colour:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_small_limit_splits_the_pack_and_no_zip_exceeds_it() {
    let app = app(FetchSection::default()).await;
    let key = app.create_key("acme").await;
    let noisy = fixtures::jpeg(&DynamicImage::ImageRgb8(fixtures::noisy(900, 600)));
    let upload = app.upload(&key, noisy).await;
    let limit = 1_000_000;
    let input = json!({"upload_id": upload, "groups": ["2x3"], "dpi": 100, "max_zip_bytes": limit});
    let (_, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let job = app.wait_terminal(&key, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let group = &job["result"]["groups"][0];
    assert_eq!(group["split"], true, "{group}");
    let outputs = job["outputs"].as_array().unwrap();
    assert!(outputs.len() >= 2);
    let mut packed = 0;
    for (n, output) in outputs.iter().enumerate() {
        assert_eq!(output["name"], format!("2x3_print_sizes_part{}.zip", n + 1));
        let bytes = app.download(&key, &id, output["name"].as_str().unwrap()).await.bytes().await.unwrap();
        assert!(bytes.len() as u64 <= limit, "{}: {} bytes", output["name"], bytes.len());
        assert_eq!(output["bytes"], bytes.len() as u64);
        packed += unzip(&bytes).len();
    }
    let skipped = group["skipped"].as_array().unwrap().len();
    assert_eq!(packed + skipped, 8, "every 2x3 size is packed once or reported");
    let qualities: Vec<u64> =
        group["files"].as_array().unwrap().iter().map(|f| f["quality"].as_u64().unwrap()).collect();
    assert!(qualities.iter().all(|q| (60..=80).contains(q)), "{qualities:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_source_over_the_size_limit_is_refused_before_decoding() {
    let sections =
        Sections { print: PrintSection { max_source_bytes: 50_000, ..PrintSection::default() }, ..Sections::default() };
    let server = ServerConfig { max_attempts: 1, ..ServerConfig::default() };
    let app = TestApp::spawn_with(TestOptions { sections, server, ..TestOptions::default() }).await;
    let key = app.create_key("acme").await;
    let big = fixtures::jpeg(&DynamicImage::ImageRgb8(fixtures::noisy(400, 300)));
    assert!(big.len() > 50_000);
    let upload = app.upload(&key, big).await;
    // Refused at submit time, before any worker reads it.
    let (status, problem) = app.submit(&key, json!({"kind": "print", "input": {"upload_id": upload}})).await;
    assert_eq!((status.as_u16(), problem["code"].as_str()), (413, Some("file_too_large")), "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn free_plan_outputs_carry_the_watermark() {
    let app = app(FetchSection::default()).await;
    let grey = fixtures::jpeg(&DynamicImage::ImageRgb8(image::RgbImage::from_pixel(400, 500, image::Rgb([200; 3]))));
    let mut marked_pixels = Vec::new();
    for plan in ["free", "pro"] {
        let key = app.create_key_on(plan, plan).await;
        let upload = app.upload(&key, grey.clone()).await;
        let input = json!({"upload_id": upload, "mode": "single", "size": "8x10", "dpi": 72});
        let (_, job) = app.submit(&key, json!({"kind": "print", "input": input})).await;
        assert_eq!(job["input"]["watermark"], if plan == "free" { json!(true) } else { Value::Null }, "{plan}");
        let id = job["id"].as_str().unwrap().to_owned();
        assert_eq!(app.wait_terminal(&key, &id).await["state"], "succeeded");
        let jpeg = app.download(&key, &id, "export_4x5_8x10_portrait.jpg").await.bytes().await.unwrap();
        let img = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        marked_pixels.push(img.pixels().filter(|p| p.0.iter().any(|c| c.abs_diff(200) > 30)).count());
    }
    assert!(marked_pixels[0] > 2000, "free: the watermark is visible ({} pixels)", marked_pixels[0]);
    assert_eq!(marked_pixels[1], 0, "pro: no watermark");
    app.stop().await;
}
