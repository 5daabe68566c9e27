//! The error-code registry against `docs/api.md`: every code the workspace defines (each
//! crate's `codes::ALL`) is in the doc's "Error codes" table with its kind, nothing is
//! documented that is not defined, and no name is defined twice. A tidy check makes sure
//! every `codes!` block of the workspace is one of the lists collected here.

use std::collections::BTreeMap;
use std::path::Path;

use tintype_codes::Code;

/// Every crate's list of codes.
fn lists() -> Vec<(&'static str, &'static [Code])> {
    vec![
        ("codes (common)", tintype_codes::common::ALL),
        ("db", tintype_db::error::ALL),
        ("queue", tintype_queue::error::ALL),
        ("catalog", tintype_catalog::ALL),
        ("library", tintype_library::ALL),
        ("blobs", tintype_blobs::ALL),
        ("imaging", tintype_imaging::error::ALL),
        ("kinds", tintype_kinds::ALL),
        ("worker", tintype_worker::error::ALL),
        ("fetch", tintype_fetch::ALL),
        ("pipelines print", tintype_pipelines::print::ALL),
        ("pipelines print quotas", tintype_pipelines::print::spec::ALL),
        ("plans", tintype_plans::ALL),
        ("pipelines export", tintype_pipelines::export::ALL),
        ("server", tintype_server::error::ALL),
    ]
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent).expect("workspace root")
}

/// `code -> kind` from the doc's table.
fn documented() -> BTreeMap<String, String> {
    let doc = std::fs::read_to_string(workspace().join("docs/api.md")).expect("docs/api.md");
    let section = doc.split("## Error codes").nth(1).expect("an \"## Error codes\" section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut codes = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let code = cells[1].trim_matches('`').to_owned();
        assert!(codes.insert(code.clone(), cells[2].to_owned()).is_none(), "{code} documented twice");
    }
    codes
}

#[test]
fn every_code_is_documented_once_with_its_kind() {
    let mut defined: BTreeMap<String, (String, &str)> = BTreeMap::new();
    for (krate, list) in lists() {
        for code in list {
            let previous = defined.insert(code.name().to_owned(), (code.kind().name().to_owned(), krate));
            assert!(previous.is_none(), "{} is defined twice ({krate} and {:?})", code.name(), previous.map(|p| p.1));
        }
    }
    let documented = documented();
    let missing: Vec<String> = defined
        .iter()
        .filter(|(code, (kind, _))| documented.get(*code) != Some(kind))
        .map(|(code, (kind, krate))| format!("| `{code}` | {kind} | ... |   (defined in {krate})"))
        .collect();
    let stale: Vec<&String> = documented.keys().filter(|c| !defined.contains_key(*c)).collect();
    assert!(missing.is_empty(), "docs/api.md lacks (or has another kind for) these rows:\n{}", missing.join("\n"));
    assert!(stale.is_empty(), "docs/api.md documents codes nothing defines: {stale:?}");
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_codes_block_is_collected() {
    let mut files = Vec::new();
    for krate in std::fs::read_dir(workspace().join("crates")).expect("crates").flatten() {
        let src = krate.path().join("src");
        if src.is_dir() && krate.file_name() != "codes" {
            rust_files(&src, &mut files);
        }
    }
    let blocks: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            let n = text.lines().filter(|l| l.trim_start().starts_with("tintype_codes::codes! {")).count();
            std::iter::repeat_n(f.display().to_string(), n)
        })
        .collect();
    // The codes crate's own block is `common`; every other crate's blocks are collected.
    assert_eq!(blocks.len() + 1, lists().len(), "a codes! block is not in lists(): {blocks:#?}");
}
