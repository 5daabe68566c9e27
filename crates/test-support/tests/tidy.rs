//! House-style checks over the whole workspace (rust-analyzer's tidy idea): every Rust
//! file opens with a `//!` paragraph saying what it owns, and no file grows past 600 lines
//! (a concept that wants splitting), and the crates depend on each other only as
//! ARCHITECTURE.md says.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace_files() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(files.len() > 20, "found the workspace's files");
    files
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let undocumented: Vec<_> =
        workspace_files().into_iter().filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!")).collect();
    assert!(undocumented.is_empty(), "files without a leading //! doc: {undocumented:#?}");
}

#[test]
fn no_file_is_over_600_lines() {
    let big: Vec<_> = workspace_files()
        .into_iter()
        .map(|f| (std::fs::read_to_string(&f).unwrap().lines().count(), f))
        .filter(|(n, _)| *n > 600)
        .collect();
    assert!(big.is_empty(), "files over 600 lines: {big:#?}");
}

/// The dependency rules ARCHITECTURE.md states as invariants, read from the manifests'
/// `[dependencies]`: `server` holds specs, never runners; `queue` knows no images, HTTP,
/// blobs or other components; `imaging` has no I/O or async runtime; `worker` no HTTP;
/// `blobs` no jobs or tables.
#[test]
fn crates_depend_only_as_the_architecture_says() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let deps = |krate: &str| -> Vec<String> {
        let manifest = std::fs::read_to_string(crates.join(krate).join("Cargo.toml")).unwrap();
        let section = manifest.split("[dependencies]").nth(1).unwrap_or_default();
        let section = section.split("\n[").next().unwrap_or_default();
        section
            .lines()
            .filter_map(|l| l.split(['.', ' ', '=']).next())
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let forbidden: [(&str, &[&str]); 6] = [
        ("worker", &["axum", "tintype-server", "reqwest"]),
        ("blobs", &["tintype-queue", "tintype-worker", "tintype-catalog", "tintype-db"]),
        ("server", &["tintype-worker", "tintype-pipelines", "tintype-imaging", "anyhow"]),
        ("queue", &["tintype-blobs", "tintype-imaging", "tintype-catalog", "axum", "reqwest"]),
        ("imaging", &["tokio", "reqwest", "tintype-blobs", "tintype-queue"]),
        ("kinds", &["tintype-worker", "tokio"]),
    ];
    for (krate, banned) in forbidden {
        let have = deps(krate);
        assert!(have.len() > 1, "read {krate}'s dependencies: {have:?}");
        for name in banned {
            assert!(!have.iter().any(|d| d == name), "{krate} must not depend on {name}");
        }
    }
}
