//! Independent ZIP readers on an archive a test made: Python's `zipfile` (every CRC
//! checked, and the names, methods, times and flags it reports), Info-ZIP `unzip -t`,
//! `7z t` (p7zip) and `bsdtar` (libarchive, extracting every entry to nowhere). Each must
//! accept the archive. A reader that is not installed is skipped with a note, except
//! under `TINTYPE_TEST_REQUIRE_ALL` (CI), where it is a failure.

use std::path::Path;
use std::process::Command;

/// What Python's `zipfile` says of one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ZipEntry {
    /// Its name.
    pub name: String,
    /// 0 stored, 8 deflated.
    pub method: u16,
    /// Extracted size.
    pub size: u64,
    /// DOS time as `(year, month, day, hour, minute, second)`.
    pub date_time: (u16, u8, u8, u8, u8, u8),
    /// General-purpose flags.
    pub flags: u16,
}

const PYTHON: &str = r#"
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    assert bad is None, "bad CRC in " + str(bad)
    print(json.dumps([
        {"name": i.filename, "method": i.compress_type, "size": i.file_size,
         "date_time": list(i.date_time), "flags": i.flag_bits}
        for i in z.infolist()]))
"#;

fn have(tool: &str) -> bool {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("TINTYPE_TEST_REQUIRE_ALL").is_none(),
            "{tool} is required (scripts/test installs it)"
        );
        eprintln!("SKIPPED the {tool} check: not installed");
    }
    found
}

fn run(tool: &str, args: &[&str], path: &Path) {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} refused {}:\n{}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks the archive at `path` with every reader; returns Python's view of its entries.
pub fn check(path: &Path) -> Vec<ZipEntry> {
    if have("unzip") {
        run("unzip", &["-tqq"], path);
    }
    if have("7z") {
        run("7z", &["t", "-bd", "-bso0"], path);
    }
    if have("bsdtar") {
        // Every entry extracted to nowhere (libarchive checks each CRC as it goes).
        let out = Command::new("bsdtar")
            .arg("-xOf")
            .arg(path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("bsdtar");
        assert!(out.status.success(), "bsdtar refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new("python3").args(["-c", PYTHON]).arg(path).output().expect("python3 must be installed");
    assert!(out.status.success(), "zipfile refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("zipfile's listing")
}

/// Writes `bytes` to a temp file and checks it.
pub fn check_bytes(bytes: &[u8]) -> Vec<ZipEntry> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.zip");
    std::fs::write(&path, bytes).expect("write");
    check(&path)
}
