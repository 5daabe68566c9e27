//! `tintype run print` (no server) and `tintype submit print --wait` (through `serve`),
//! as a user runs them: files in, ZIPs or a JPEG out, non-zero exit with the error code.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_tintype");

fn tintype(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).env_remove("TINTYPE_CONFIG").env_remove("TINTYPE_API_KEY");
    cmd
}

/// A 600x400 landscape JPEG: a gradient with a red square.
fn write_jpeg(path: &Path) {
    let img = image::RgbImage::from_fn(600, 400, |x, y| {
        if (100..200).contains(&x) && (100..200).contains(&y) {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([(x / 3) as u8, (y / 2) as u8, 128])
        }
    });
    img.save(path).unwrap();
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn zip_names(path: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len()).map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned()).collect()
}

#[test]
fn run_print_makes_packs_and_single_exports_locally() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("art.jpg");
    write_jpeg(&input);
    let out = dir.path().join("out");
    let pack = run(tintype(dir.path())
        .args(["run", "print"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--groups", "4x5,iso", "--dpi", "72"]));
    assert!(pack.status.success());
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["4x5_print_sizes.zip", "iso_print_sizes.zip"], "results only, no scratch left behind");
    assert!(zip_names(&out.join("4x5_print_sizes.zip")).contains(&"4x5_print_sizes/8x10_720x576.jpg".to_owned()));
    let stdout = String::from_utf8_lossy(&pack.stdout);
    assert!(stdout.contains("8x10_720x576.jpg") && stdout.contains("LOW RESOLUTION"), "{stdout}");

    let single = run(tintype(dir.path()).args(["run", "print"]).arg(&input).arg("--out").arg(&out).args([
        "--mode",
        "single",
        "--size",
        "8x10",
        "--orientation",
        "landscape",
        "--fit",
        "crop",
        "--focal",
        "0.3,0.6",
        "--dpi",
        "100",
        "--json",
    ]));
    assert!(single.status.success());
    let result: serde_json::Value = serde_json::from_slice(&single.stdout).unwrap();
    assert_eq!(result["files"][0]["name"], "export_4x5_8x10_landscape.jpg");
    let jpeg = std::fs::read(out.join("export_4x5_8x10_landscape.jpg")).unwrap();
    let img = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (1000, 800));
}

#[test]
fn run_print_exits_non_zero_with_the_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.jpg");
    std::fs::write(&bad, b"not an image at all").unwrap();
    let out = dir.path().join("out");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![bad.display().to_string()], "not_an_image"),
        (vec![bad.display().to_string(), "--groups".into(), "7x7".into()], "invalid_input"),
        (vec![bad.display().to_string(), "--mode".into(), "single".into()], "invalid_input"),
        (vec![dir.path().join("missing.jpg").display().to_string()], "cannot read"),
    ];
    for (args, expected) in cases {
        let result = run(tintype(dir.path()).args(["run", "print"]).args(&args).arg("--out").arg(&out));
        assert_eq!(result.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn submit_print_waits_and_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("art.jpg");
    write_jpeg(&input);
    let mut serve = tintype(dir.path());
    serve.args(["serve", "--listen", "127.0.0.1:0"]);
    let (mut server, base) = common::spawn_listening(&mut serve, &dir.path().join("serve.log"));
    let out = dir.path().join("downloads");
    let result = run(tintype(dir.path())
        .args(["submit", "--server", &base, "--wait", "print"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["--groups", "3x4", "--dpi", "72", "--watermark"]));
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(result.status.success());
    let zip = out.join("3x4_print_sizes.zip");
    assert!(zip_names(&zip).contains(&"3x4_print_sizes/6x8_576x432.jpg".to_owned()));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut jpeg = Vec::new();
    archive.by_name("3x4_print_sizes/6x8_576x432.jpg").unwrap().read_to_end(&mut jpeg).unwrap();
    assert!(image::load_from_memory(&jpeg).is_ok());
}
