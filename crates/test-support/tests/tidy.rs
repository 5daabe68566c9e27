//! House-style checks over the whole workspace (rust-analyzer's tidy idea): every Rust
//! file opens with a `//!` paragraph saying what it owns, and no file grows past 600 lines
//! (a concept that wants splitting).

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
