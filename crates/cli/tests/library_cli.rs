//! The photo library from the command line, as a user runs it: `tintype run ingest` (no
//! server: renditions and `photo.json` out) and `tintype import DIR --album NAME` into a
//! running `tintype serve` (duplicates skipped by content, a second run sends nothing it
//! sent before, failures listed with their code and a non-zero exit).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tintype");

fn tintype(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).env_remove("TINTYPE_CONFIG").env_remove("TINTYPE_API_KEY");
    cmd
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../imaging/tests/fixtures/photos").join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_ingest_writes_renditions_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let result = run(tintype(dir.path()).args(["run", "ingest"]).arg(fixture("orient-6.jpg")).arg("--out").arg(&out));
    assert!(result.status.success());
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    let want = [
        "1024.avif",
        "1024.jpg",
        "1024.webp",
        "256.avif",
        "256.jpg",
        "256.webp",
        "512.avif",
        "512.jpg",
        "512.webp",
        "photo.json",
    ];
    assert_eq!(files, want, "renditions and metadata only, no scratch left behind");
    let jpeg = image::open(out.join("512.jpg")).unwrap();
    assert_eq!((jpeg.width(), jpeg.height()), (64, 96), "upright and never upscaled");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("photo.json")).unwrap()).unwrap();
    assert_eq!(meta["photo"]["exif"]["orientation"], 6);
    assert_eq!(meta["photo"]["exif"]["make"], "Tintype");
    assert_eq!(meta["renditions"].as_array().unwrap().len(), 9);

    let bad = dir.path().join("bad.jpg");
    std::fs::write(&bad, b"\xFF\xD8\xFF\xE0 not really").unwrap();
    let failed = run(tintype(dir.path()).args(["run", "ingest"]).arg(&bad).arg("--out").arg(dir.path().join("o2")));
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("corrupt_image"));
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Server {
    let log = std::fs::File::create(data.join("serve.log")).unwrap();
    let mut child =
        tintype(data).args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(log).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("tintype listening on ").unwrap().to_owned();
    Server { child, base }
}

fn import(data: &Path, server: &Server, dir: &Path) -> Output {
    run(tintype(data).args(["import", "--server", &server.base, "--album", "Trip"]).arg(dir))
}

#[tokio::test]
async fn import_a_folder_twice_sends_only_what_is_missing() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let photos = tempfile::tempdir().unwrap();
    std::fs::create_dir(photos.path().join("day 2")).unwrap();
    std::fs::copy(fixture("camera.jpg"), photos.path().join("IMG_0001.JPG")).unwrap();
    std::fs::copy(fixture("camera.heic"), photos.path().join("day 2/IMG_0002.HEIC")).unwrap();
    let cut = std::fs::read(fixture("camera.jpg")).unwrap();
    std::fs::write(photos.path().join("cut.jpg"), &cut[..cut.len() / 2]).unwrap();
    std::fs::write(photos.path().join("notes.txt"), b"not a photo").unwrap();
    std::fs::copy(fixture("camera.jpg"), photos.path().join(".hidden.jpg")).unwrap();

    let first = import(data.path(), &server, photos.path());
    assert!(!first.status.success(), "a file failed");
    let text = stdout(&first);
    assert!(text.contains("imported 2, duplicates 0, failed 1, of 3 files"), "{text}");
    assert!(text.contains("cut.jpg: corrupt_image"), "{text}");
    assert!(text.contains("album \"Trip\": 2 photos added"), "{text}");

    // Again, with one new file: only that one is sent.
    std::fs::copy(fixture("orient-3.jpg"), photos.path().join("day 2/IMG_0003.JPG")).unwrap();
    let second = import(data.path(), &server, photos.path());
    let text = stdout(&second);
    let new_bytes = std::fs::metadata(fixture("orient-3.jpg")).unwrap().len();
    assert!(text.contains("imported 1, duplicates 2, failed 1, of 4 files"), "{text}");
    assert!(text.contains(&format!("sent {new_bytes} bytes")), "{text}");

    let get = |path: &str| reqwest::get(format!("{}{path}", server.base));
    let albums: serde_json::Value = get("/v1/albums").await.unwrap().json().await.unwrap();
    assert_eq!(albums["albums"][0]["name"], "Trip");
    assert_eq!(albums["albums"][0]["photo_count"], 3);
    let page: serde_json::Value = get("/v1/photos").await.unwrap().json().await.unwrap();
    assert_eq!(page["photos"].as_array().unwrap().len(), 3);
}
