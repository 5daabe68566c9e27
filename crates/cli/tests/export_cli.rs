//! `tintype run export FILE... --out DIR` as a user runs it: a ZIP of the files, names made
//! unique ignoring case, the summary line; a missing file is an error before any job.
//! `tintype submit export ... --wait` does the same through `tintype serve`.

use std::path::Path;
use std::process::Command;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tintype");

fn tintype(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).env_remove("TINTYPE_CONFIG").env("RUST_LOG", "warn");
    cmd
}

#[test]
fn run_export_zips_files_here() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("a.jpg"), b"\xFF\xD8\xFFfirst").unwrap();
    std::fs::write(input.join("A.JPG"), b"\xFF\xD8\xFFsecond").unwrap();
    std::fs::write(input.join("notes.txt"), "notes\n".repeat(100)).unwrap();
    let out = dir.path().join("out");
    let run = tintype(&dir.path().join("data"))
        .args(["run", "export"])
        .args(["a.jpg", "A.JPG", "notes.txt"].map(|n| input.join(n)))
        .arg("--out")
        .arg(&out)
        .args(["--name", "trip"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("trip.zip: 3 of 3 items"), "{stdout}");
    let entries: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(entries, ["trip.zip"], "only the ZIP is left in --out");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(out.join("trip.zip")).unwrap()).unwrap();
    let names: Vec<String> =
        (0..zip.len()).map(|i| zip.by_index_raw(i).unwrap().name().unwrap().into_owned()).collect();
    assert_eq!(names, ["a.jpg", "A (1).JPG", "notes.txt"]);
}

/// A memory budget smaller than the items: items that fit wait for their share (in item
/// order, so never for a later one), larger ones go to temp files, and every byte still
/// arrives in order. A deadlock here would hang the run (the harness's timeout fails it).
#[test]
fn a_small_memory_budget_still_exports_every_item_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    // 1 MiB budget, items held in memory up to 700 KB: two such items never fit together.
    let sizes = [600_000usize, 650_000, 3_000_000, 10, 690_000, 2_000_000, 600_000, 1];
    let mut files = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        // Named .txt: deflated, so the in-memory and on-file deflate paths both run.
        let path = input.join(format!("item{i}.txt"));
        let bytes: Vec<u8> = (0..*size).map(|b| (b * 7 + i * 13) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        files.push((path, bytes));
    }
    let out = dir.path().join("out");
    let run = tintype(&dir.path().join("data"))
        .env("TINTYPE_EXPORT__MEMORY_BYTES", "1048576")
        .env("TINTYPE_EXPORT__MEMORY_ITEM_BYTES", "700000")
        .env("TINTYPE_EXPORT__CONCURRENCY", "4")
        .args(["run", "export"])
        .args(files.iter().map(|(p, _)| p))
        .arg("--out")
        .arg(&out)
        .args(["--name", "budget"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(out.join("budget.zip")).unwrap()).unwrap();
    assert_eq!(zip.len(), files.len());
    for (i, (path, bytes)) in files.iter().enumerate() {
        // The test's zip build reads stored entries only: inflate the raw data here.
        let mut entry = zip.by_index_raw(i).unwrap();
        assert_eq!(entry.name().unwrap(), path.file_name().unwrap().to_str().unwrap());
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut raw).unwrap();
        let mut got = Vec::new();
        if entry.compression() == zip::CompressionMethod::Stored {
            got = raw;
        } else {
            std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&raw[..]), &mut got).unwrap();
        }
        assert!(got == *bytes, "item {i} differs");
        assert_eq!(entry.crc32(), crc32fast::hash(bytes), "item {i}'s CRC");
    }
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = tintype(&dir.path().join("data"))
        .args(["run", "export", "/nonexistent/photo.jpg", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("cannot read /nonexistent/photo.jpg"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn submit_export_uploads_follows_and_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("beach.jpg"), b"\xFF\xD8\xFFbeach").unwrap();
    std::fs::write(input.join("notes.txt"), "notes\n".repeat(1000)).unwrap();
    let mut serve = tintype(&dir.path().join("data"));
    serve.args(["serve", "--listen", "127.0.0.1:0"]);
    let (mut server, base) = common::spawn_listening(&mut serve, &dir.path().join("serve.log"));
    let out = dir.path().join("downloads");
    // The third item is a loopback URL: the default fetch rules refuse it, so the export
    // is partial (two of three) and still succeeds.
    let run = tintype(&dir.path().join("data"))
        .args(["submit", "--server", &base, "--wait", "export"])
        .args([input.join("beach.jpg"), input.join("notes.txt")])
        .arg(format!("{base}/healthz"))
        .arg("--out")
        .arg(&out)
        .args(["--name", "holiday"])
        .output()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("holiday.zip: 2 of 3 items"), "{stdout}");
    assert!(stdout.contains("failed: item 3 (url "), "{stdout}");
    assert!(stderr.contains("step: fetching"), "progress followed: {stderr}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(out.join("holiday.zip")).unwrap()).unwrap();
    let entries: Vec<(String, bool)> = (0..zip.len())
        .map(|i| {
            let e = zip.by_index_raw(i).unwrap();
            (e.name().unwrap().into_owned(), e.compression() == zip::CompressionMethod::Stored)
        })
        .collect();
    // The types come from the names the CLI uploaded: the JPEG is stored, the text deflated.
    let stored = |name: &str, stored: bool| (name.to_owned(), stored);
    assert_eq!(entries, [stored("beach.jpg", true), stored("notes.txt", false), stored("export_report.txt", false)]);
}

#[test]
fn run_export_refuses_an_album() {
    let dir = tempfile::tempdir().unwrap();
    let run = tintype(&dir.path().join("data"))
        .args(["run", "export", "--album", "alb_x", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("tintype submit export --album"));
}

#[test]
fn a_killed_runs_scratch_folder_is_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // What a run killed mid-way leaves: its scratch folder, with a pid no process has.
    let stale = out.join(".tintype-run-killed");
    std::fs::create_dir_all(stale.join("blobs")).unwrap();
    std::fs::write(stale.join("pid"), "4194999").unwrap();
    std::fs::write(stale.join("run.db"), "x").unwrap();
    let input = dir.path().join("a.txt");
    std::fs::write(&input, "a").unwrap();
    let run =
        tintype(&dir.path().join("data")).args(["run", "export"]).arg(&input).arg("--out").arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let entries: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(entries, ["export.zip"]);
}
