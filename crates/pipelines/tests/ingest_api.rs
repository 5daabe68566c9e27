//! The photo library end to end through the HTTP API on the embedded default (SQLite and
//! the local blob store): the presigned upload flow (a wrong checksum stores nothing,
//! confirming twice is one job), `ingest` (EXIF, orientation, renditions, deduplication),
//! the library routes (timeline, detail, content negotiation with 304 and the AVIF
//! fallback, original, similar, duplicates, albums, delete), tenant isolation on every
//! route, and hostile files that fail with a stable code and keep the original.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tintype_imaging::encode::{JpegOptions, encode_rgb};
use tintype_pipelines::Sections;
use tintype_pipelines::ingest::IngestSection;
use tintype_server::ServerConfig;
use tintype_test_support::{TestApp, TestOptions};

async fn app(avif: bool) -> TestApp {
    let sections =
        Sections { ingest: IngestSection { avif, threads: 2, ..IngestSection::default() }, ..Sections::default() };
    let server = ServerConfig { max_attempts: 1, ..ServerConfig::default() };
    TestApp::spawn_with(TestOptions { sections, server, ..TestOptions::default() }).await
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../imaging/tests/fixtures/photos/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A photo-like image (smooth colour fields, seeded) as a JPEG.
fn photo_jpeg(width: u32, height: u32, seed: u32, quality: u8) -> Vec<u8> {
    let f = |x: u32, y: u32, k: u32| {
        let (u, v) = (f64::from(x) / f64::from(width), f64::from(y) / f64::from(height));
        let s = f64::from(seed * 7 + k);
        (128.0 + 90.0 * (u * (3.0 + s % 5.0) + v * (2.0 + s % 3.0) + s).sin()) as u8
    };
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([f(x, y, 1), f(x, y, 2), f(x, y, 3)]));
    encode_rgb(&img, &JpegOptions { quality, dpi: 72, icc: None }).expect("encode")
}

async fn json_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Presigns, PUTs and confirms `bytes`; returns the confirm's job id.
async fn import(app: &TestApp, key: &str, name: &str, bytes: &[u8]) -> String {
    let body = json!({"filename": name, "bytes": bytes.len(), "sha256": sha256(bytes), "content_type": "image/jpeg"});
    let (status, presigned) =
        json_of(app.client.post(app.url("/v1/uploads/presign")).bearer_auth(key).json(&body).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::CREATED, "{presigned}");
    let put = app
        .client
        .put(presigned["url"].as_str().unwrap())
        .header(header::CONTENT_TYPE, presigned["headers"]["content-type"].as_str().unwrap())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let id = presigned["upload_id"].as_str().unwrap();
    let (status, confirmed) =
        json_of(app.client.post(app.url(&format!("/v1/uploads/{id}/confirm"))).bearer_auth(key).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{confirmed}");
    confirmed["job"]["id"].as_str().unwrap().to_owned()
}

/// Waits for the job and returns its result document.
async fn finished(app: &TestApp, key: &str, job: &str) -> Value {
    let done = app.wait_terminal(key, job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    done["result"].clone()
}

async fn get(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    json_of(app.client.get(app.url(path)).bearer_auth(key).send().await.unwrap()).await
}

#[tokio::test]
async fn presign_put_confirm_and_the_library() {
    let app = app(true).await;
    let key = app.create_key("family").await;
    let bytes = fixture("camera.jpg");

    // A PUT of other bytes is refused and stores nothing.
    let body = json!({"filename": "IMG_0001.JPG", "bytes": bytes.len(), "sha256": sha256(&bytes), "content_type": "image/jpeg"});
    let (status, presigned) =
        json_of(app.client.post(app.url("/v1/uploads/presign")).bearer_auth(&key).json(&body).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::CREATED, "{presigned}");
    assert_eq!(presigned["method"], "PUT");
    assert!(presigned["expires_at"].is_string());
    let url = presigned["url"].as_str().unwrap().to_owned();
    let mut wrong = bytes.clone();
    wrong[100] ^= 0xFF;
    let res = app.client.put(&url).body(wrong).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "checksum_mismatch");
    assert!(app.blobs_under("t/family/").await.is_empty(), "nothing stored");
    // Confirming before the bytes arrived is a conflict, and makes no job.
    let id = presigned["upload_id"].as_str().unwrap();
    let res = app.client.post(app.url(&format!("/v1/uploads/{id}/confirm"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // A tampered signature is refused.
    let res = app.client.put(url.replace("sig=", "sig=0")).body(bytes.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The right bytes; confirming twice is one job, on the high queue.
    let res = app.client.put(&url).body(bytes.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let confirm = || async {
        json_of(app.client.post(app.url(&format!("/v1/uploads/{id}/confirm"))).bearer_auth(&key).send().await.unwrap())
            .await
    };
    let (status, first) = confirm().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, second) = confirm().await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first["job"]["id"], second["job"]["id"], "one job");
    assert_eq!(first["job"]["queue"], "high");
    let result = finished(&app, &key, first["job"]["id"].as_str().unwrap()).await;
    let photo = result["photo_id"].as_str().unwrap().to_owned();
    assert_eq!(result["duplicate"], false);

    // The same content again: presign says so and nothing is sent.
    let (status, dup) =
        json_of(app.client.post(app.url("/v1/uploads/presign")).bearer_auth(&key).json(&body).send().await.unwrap())
            .await;
    assert_eq!((status, dup["duplicate_of"].as_str()), (StatusCode::OK, Some(photo.as_str())));

    // Detail: EXIF in typed fields, renditions of every size and format, no upscaling.
    let (status, p) = get(&app, &key, &format!("/v1/photos/{photo}")).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!((p["width"].as_u64(), p["height"].as_u64()), (Some(96), Some(64)));
    assert_eq!(p["file_name"], "IMG_0001.JPG");
    assert_eq!(p["exif"]["make"], "Tintype");
    assert_eq!(p["exif"]["iso"], 400);
    assert_eq!(p["taken_at"], "2024-07-14T16:30:05.250Z");
    assert!((p["exif"]["gps"]["latitude"].as_f64().unwrap() - 48.85837).abs() < 1e-4);
    assert_eq!(p["phash"].as_str().map(str::len), Some(16));
    let renditions = p["renditions"].as_array().unwrap();
    assert_eq!(renditions.len(), 9, "{renditions:?}");
    assert!(renditions.iter().all(|r| r["width"].as_u64().unwrap() <= 96), "never upscaled");
    assert_eq!(app.blobs_under(&format!("t/family/photos/{photo}/")).await.len(), 9);

    // Timeline.
    let (_, page) = get(&app, &key, "/v1/photos").await;
    assert_eq!(page["photos"].as_array().unwrap().len(), 1);
    assert_eq!(page["photos"][0]["id"], photo.as_str());
    let (_, found) = get(&app, &key, "/v1/photos?q=fixture%20cam").await;
    assert_eq!(found["photos"].as_array().unwrap().len(), 1, "search by camera");
    let (_, none) = get(&app, &key, "/v1/photos?q=nothing-like-it").await;
    assert!(none["photos"].as_array().unwrap().is_empty());
    let (_, ranged) = get(&app, &key, "/v1/photos?from=2025-01-01").await;
    assert!(ranged["photos"].as_array().unwrap().is_empty(), "taken in 2024");

    // Content negotiation, ETag and 304.
    let thumb = |accept: &'static str| {
        app.client
            .get(app.url(&format!("/v1/photos/{photo}/thumb/256")))
            .bearer_auth(&key)
            .header(header::ACCEPT, accept)
    };
    for (accept, mime) in [
        ("image/avif,image/webp,image/*,*/*;q=0.8", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("*/*", "image/jpeg"),
    ] {
        let res = thumb(accept).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], mime, "{accept}");
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(h[header::VARY], "Accept");
        let etag = h[header::ETAG].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong: {etag}");
        let again = thumb(accept).header(header::IF_NONE_MATCH, &etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag.as_str());
    }
    let res = app.client.get(app.url(&format!("/v1/photos/{photo}/thumb/300"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "no such size");

    // The original, through a signed link, is the uploaded file.
    let res = app.client.get(app.url(&format!("/v1/photos/{photo}/original"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let link = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(app.client.get(&link).send().await.unwrap().bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn orientation_duplicates_albums_and_delete() {
    let app = app(false).await;
    let key = app.create_key("family").await;

    // A direct upload that starts ingest; orientation 6 turns 96x64 into 64x96.
    let res = app
        .client
        .post(app.url("/v1/uploads?ingest=true&filename=turned.jpg"))
        .bearer_auth(&key)
        .body(fixture("orient-6.jpg"))
        .send()
        .await
        .unwrap();
    let (status, up) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let turned = finished(&app, &key, up["job"]["id"].as_str().unwrap()).await;
    assert_eq!((turned["width"].as_u64(), turned["height"].as_u64()), (Some(64), Some(96)));
    let turned = turned["photo_id"].as_str().unwrap().to_owned();

    // AVIF is off here: a client asking for it gets WebP, but not for a year.
    let res = app
        .client
        .get(app.url(&format!("/v1/photos/{turned}/thumb/512")))
        .bearer_auth(&key)
        .header(header::ACCEPT, "image/avif,image/webp,*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/webp");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=60", "a fallback is not immutable");

    // A photo and its resized, re-encoded copy are near duplicates; a different photo is not.
    let original = photo_jpeg(1600, 1200, 3, 92);
    let copy = {
        let img = image::load_from_memory(&original).unwrap().resize(800, 600, image::imageops::FilterType::Triangle);
        encode_rgb(&img.into_rgb8(), &JpegOptions { quality: 60, dpi: 72, icc: None }).unwrap()
    };
    let other = photo_jpeg(1600, 1200, 11, 92);
    let mut ids = Vec::new();
    for (name, bytes) in [("a.jpg", &original), ("b.jpg", &copy), ("c.jpg", &other)] {
        let job = import(&app, &key, name, bytes).await;
        ids.push(finished(&app, &key, &job).await["photo_id"].as_str().unwrap().to_owned());
    }
    let (_, pairs) = get(&app, &key, "/v1/photos/duplicates").await;
    let pairs = pairs["pairs"].as_array().unwrap().clone();
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    let pair = [pairs[0]["a"].as_str().unwrap(), pairs[0]["b"].as_str().unwrap()];
    assert!(pair.contains(&ids[0].as_str()) && pair.contains(&ids[1].as_str()), "{pairs:?}");
    let (_, similar) = get(&app, &key, &format!("/v1/photos/{}/similar", ids[0])).await;
    let similar: Vec<&str> =
        similar["similar"].as_array().unwrap().iter().map(|s| s["photo"]["id"].as_str().unwrap()).collect();
    assert_eq!(similar, [ids[1].as_str()]);

    // The same bytes uploaded directly again are the same upload, so the same job.
    let res = app
        .client
        .post(app.url("/v1/uploads?ingest=true"))
        .bearer_auth(&key)
        .body(original.clone())
        .send()
        .await
        .unwrap();
    let (status, again) = json_of(res).await;
    assert_eq!((status, again["duplicate"].as_bool()), (StatusCode::OK, Some(true)));
    let again = finished(&app, &key, again["job"]["id"].as_str().unwrap()).await;
    assert_eq!(again["photo_id"], ids[0].as_str());
    // A second ingest job of that upload links to the existing photo and stores nothing.
    let input = json!({"kind": "ingest", "input": {"upload_id": again_upload(&app, &ids[0]).await}});
    let (status, job) = app.submit(&key, input).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let dup = finished(&app, &key, job["id"].as_str().unwrap()).await;
    assert_eq!((dup["duplicate"].as_bool(), dup["duplicate_of"].as_str()), (Some(true), Some(ids[0].as_str())));
    let (_, page) = get(&app, &key, "/v1/photos").await;
    assert_eq!(page["photos"].as_array().unwrap().len(), 4, "no second photo");

    // Albums.
    let albums = app.url("/v1/albums");
    let (status, album) =
        json_of(app.client.post(&albums).bearer_auth(&key).json(&json!({"name": "Summer"})).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::CREATED, "{album}");
    let album_id = album["id"].as_str().unwrap().to_owned();
    let res = app.client.post(&albums).bearer_auth(&key).json(&json!({"name": "Summer"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let add = json!({"photo_ids": [ids[0], ids[1], "pho_nope"]});
    let (_, added) = json_of(
        app.client
            .post(app.url(&format!("/v1/albums/{album_id}/photos")))
            .bearer_auth(&key)
            .json(&add)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(added["added"], 2);
    let (_, listed) = get(&app, &key, &format!("/v1/photos?album={album_id}")).await;
    assert_eq!(listed["photos"].as_array().unwrap().len(), 2);

    // Delete one: every blob goes, and the album works without it.
    let res = app.client.delete(app.url(&format!("/v1/photos/{}", ids[0]))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(app.blobs_under(&format!("t/family/photos/{}/", ids[0])).await.is_empty());
    assert!(
        !app.blobs_under("t/family/uploads/").await.iter().any(|k| k.ends_with(&sha256(&original))),
        "original gone"
    );
    let (status, _) = get(&app, &key, &format!("/v1/photos/{}", ids[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = get(&app, &key, &format!("/v1/photos?album={album_id}")).await;
    assert_eq!(listed["photos"].as_array().unwrap().len(), 1);
    let (_, album) = get(&app, &key, &format!("/v1/albums/{album_id}")).await;
    assert_eq!(album["photo_count"], 1);
}

async fn again_upload(app: &TestApp, photo: &str) -> String {
    app.library.get_photo("family", photo).await.unwrap().expect("the photo").upload_id
}

#[tokio::test]
async fn another_tenant_sees_nothing_and_dedup_stays_within_a_tenant() {
    let app = app(false).await;
    let (a, b) = (app.create_key("alice").await, app.create_key("bob").await);
    let bytes = fixture("camera.jpg");
    let job = import(&app, &a, "mine.jpg", &bytes).await;
    let photo = finished(&app, &a, &job).await["photo_id"].as_str().unwrap().to_owned();
    let (_, album) = json_of(
        app.client.post(app.url("/v1/albums")).bearer_auth(&a).json(&json!({"name": "A"})).send().await.unwrap(),
    )
    .await;
    let album = album["id"].as_str().unwrap().to_owned();

    for path in [
        format!("/v1/photos/{photo}"),
        format!("/v1/photos/{photo}/thumb/256"),
        format!("/v1/photos/{photo}/original"),
        format!("/v1/photos/{photo}/similar"),
        format!("/v1/albums/{album}"),
    ] {
        let res = app.client.get(app.url(&path)).bearer_auth(&b).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (_, page) = get(&app, &b, "/v1/photos").await;
    assert!(page["photos"].as_array().unwrap().is_empty());
    let res = app.client.delete(app.url(&format!("/v1/photos/{photo}"))).bearer_auth(&b).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.client.delete(app.url(&format!("/v1/albums/{album}"))).bearer_auth(&b).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Bob cannot put Alice's photo into his album.
    let (_, bobs) = json_of(
        app.client.post(app.url("/v1/albums")).bearer_auth(&b).json(&json!({"name": "B"})).send().await.unwrap(),
    )
    .await;
    let add = json!({"photo_ids": [photo]});
    let url = app.url(&format!("/v1/albums/{}/photos", bobs["id"].as_str().unwrap()));
    let (_, added) = json_of(app.client.post(&url).bearer_auth(&b).json(&add).send().await.unwrap()).await;
    assert_eq!(added["added"], 0);
    // Bob confirming Alice's upload id finds nothing.
    let upload = app.library.get_photo("alice", &photo).await.unwrap().unwrap().upload_id;
    let res = app.client.post(app.url(&format!("/v1/uploads/{upload}/confirm"))).bearer_auth(&b).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Nor any other route that names her upload, album or photo: each answers as for an
    // id that does not exist, and nothing of hers changes.
    let album_url = |rest: &str| app.url(&format!("/v1/albums/{album}{rest}"));
    let writes = [
        app.client.get(app.url(&format!("/v1/uploads/{upload}"))),
        app.client.patch(album_url("")).json(&json!({"name": "Mine now"})),
        app.client.post(album_url("/photos")).json(&json!({"photo_ids": [photo]})),
        app.client.delete(album_url(&format!("/photos/{photo}"))),
    ];
    for req in writes {
        let res = req.bearer_auth(&b).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{}", res.url());
    }
    let (_, albums) = get(&app, &b, "/v1/albums").await;
    assert!(albums["albums"].as_array().is_some_and(|a| a.len() == 1), "only his own album: {albums}");
    let (_, duplicates) = get(&app, &b, "/v1/photos/duplicates").await;
    assert!(!duplicates.to_string().contains(&photo), "{duplicates}");
    let (status, hers) = get(&app, &a, &format!("/v1/albums/{album}")).await;
    assert_eq!((status, hers["name"].as_str()), (StatusCode::OK, Some("A")), "{hers}");

    // The same content from Bob is his own photo: presign does not say "duplicate".
    let body = json!({"bytes": bytes.len(), "sha256": sha256(&bytes), "content_type": "image/jpeg"});
    let (status, presigned) =
        json_of(app.client.post(app.url("/v1/uploads/presign")).bearer_auth(&b).json(&body).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::CREATED, "{presigned}");
    assert!(presigned.get("duplicate_of").is_none());
    let job = import(&app, &b, "his.jpg", &bytes).await;
    let his = finished(&app, &b, &job).await["photo_id"].as_str().unwrap().to_owned();
    assert_ne!(his, photo);
}

#[tokio::test]
async fn hostile_files_fail_with_a_code_and_keep_the_original() {
    let app = app(false).await;
    let key = app.create_key("family").await;
    let good = fixture("camera.jpg");
    // A header claiming 60000x60000 (a decompression bomb), HEICs claiming the same, a
    // truncated JPEG, a HEIC cut short, and text.
    let mut bomb = good.clone();
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline frame");
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let heic = fixture("camera.heic");
    // A HEIC whose image spatial extents (`ispe`, the size libheif reports before
    // decoding anything) claim 30000x30000 and 60000x60000 (past libheif's own limit).
    let huge_heic = |side: u32| {
        let mut h = heic.clone();
        let at = h.windows(4).position(|w| w == b"ispe").expect("an ispe box") + 8;
        h[at..at + 4].copy_from_slice(&side.to_be_bytes());
        h[at + 4..at + 8].copy_from_slice(&side.to_be_bytes());
        h
    };
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("bomb.jpg", bomb, "image_too_large"),
        ("huge.heic", huge_heic(30_000), "image_too_large"),
        ("huger.heic", huge_heic(60_000), "image_too_large"),
        ("cut.jpg", good[..good.len() / 2].to_vec(), "corrupt_image"),
        ("cut.heic", heic[..heic.len() / 2].to_vec(), "corrupt_image"),
        ("notes.txt", b"not a photo at all".to_vec(), "not_an_image"),
    ];
    for (name, bytes, code) in cases {
        let job = import(&app, &key, name, &bytes).await;
        let done = app.wait_terminal(&key, &job).await;
        assert_eq!(done["state"], "failed", "{name}: {done}");
        assert_eq!(done["error"]["code"], code, "{name}: {done}");
        // The original is kept.
        let kept = app.blobs_under(&format!("t/family/uploads/{}", sha256(&bytes))).await;
        assert_eq!(kept.len(), 1, "{name}: original kept");
    }
    let (_, page) = get(&app, &key, "/v1/photos").await;
    assert!(page["photos"].as_array().unwrap().is_empty(), "no photo from a bad file");
    assert!(app.blobs_under("t/family/photos/").await.is_empty());

    // And a real HEIC goes in.
    let job = import(&app, &key, "IMG_0001.HEIC", &heic).await;
    let result = finished(&app, &key, &job).await;
    assert_eq!(result["format"], "heic");
    let (_, p) = get(&app, &key, &format!("/v1/photos/{}", result["photo_id"].as_str().unwrap())).await;
    assert_eq!(p["exif"]["model"], "iPhone Fixture");
}

/// The sweeper removes presigned uploads never confirmed, an hour after their URL
/// expired, with the bytes a client PUT for them, but keeps bytes a filed upload holds,
/// and anything not yet expired.
#[tokio::test]
async fn expired_presigns_are_swept_with_their_bytes_unless_filed() {
    use tintype_blobs::{PutOptions, bytes_stream, layout};
    use tintype_catalog::NewPendingUpload;
    let app = app(false).await;
    let key = app.create_key("family").await;
    let now = chrono::Utc::now();
    let pending = |bytes: &[u8], expires_at: chrono::DateTime<chrono::Utc>| NewPendingUpload {
        tenant: "family".into(),
        sha256: sha256(bytes),
        bytes: bytes.len() as u64,
        content_type: "image/jpeg".into(),
        filename: None,
        blob_key: layout::upload("family", &sha256(bytes)).unwrap().as_str().to_owned(),
        expires_at,
    };
    let put = |bytes: Vec<u8>| async {
        let key = layout::upload("family", &sha256(&bytes)).unwrap();
        app.blobs.put(&key, bytes_stream(bytes), PutOptions::default()).await.unwrap();
        key.as_str().to_owned()
    };
    // Abandoned: PUT two hours ago, never confirmed.
    let abandoned = photo_jpeg(64, 48, 1, 80);
    let abandoned_key = put(abandoned.clone()).await;
    let a = app.catalog.create_pending_upload(pending(&abandoned, now - chrono::Duration::hours(2))).await.unwrap();
    // Filed through another presign; this one expired unconfirmed.
    let filed = photo_jpeg(64, 48, 2, 80);
    let job = import(&app, &key, "filed.jpg", &filed).await;
    let photo = finished(&app, &key, &job).await["photo_id"].as_str().unwrap().to_owned();
    let b = app.catalog.create_pending_upload(pending(&filed, now - chrono::Duration::hours(2))).await.unwrap();
    // Within its grace: kept.
    let late = photo_jpeg(64, 48, 3, 80);
    let late_key = put(late.clone()).await;
    let c = app.catalog.create_pending_upload(pending(&late, now - chrono::Duration::minutes(10))).await.unwrap();

    let report = app.sweeper.sweep_once(true).await.unwrap();
    assert_eq!(report.chores_removed, 2, "{report:?}");
    assert_eq!(app.catalog.get_pending_upload(&a.id).await.unwrap(), None);
    assert_eq!(app.catalog.get_pending_upload(&b.id).await.unwrap(), None);
    assert!(app.catalog.get_pending_upload(&c.id).await.unwrap().is_some(), "still in its grace");
    let uploads = app.blobs_under("t/family/uploads/").await;
    assert!(!uploads.contains(&abandoned_key), "abandoned bytes removed: {uploads:?}");
    assert!(uploads.contains(&late_key), "bytes in their grace kept");
    assert!(uploads.contains(b.blob_key.as_str()), "filed bytes kept");
    let res = app.client.get(app.url(&format!("/v1/photos/{photo}/original"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "the filed photo keeps its original");
    // The late client can still confirm.
    let res =
        app.client.post(app.url(&format!("/v1/uploads/{}/confirm", c.id))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(app.sweeper.sweep_once(true).await.unwrap().chores_removed, 0);
}
