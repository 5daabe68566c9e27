//! The print renderer without a job around it: the ZIP limit on hard-to-compress images,
//! splitting, names, the quality report, crop focal points, watermark, JFIF density and ICC.

#[path = "../../imaging/tests/fixtures/mod.rs"]
mod fixtures;

use image::RgbImage;
use tintype_imaging::Interrupt;
use tintype_imaging::catalog::{self, Orientation, orientation_of};
use tintype_imaging::encode::jfif_density;
use tintype_imaging::geometry::Fit;
use tintype_imaging::watermark::Watermark;
use tintype_pipelines::print::plan::{MAX_QUALITY, MIN_QUALITY};
use tintype_pipelines::print::render::{GroupPack, Quiet, Settings, Target, render_group};
use tintype_pipelines::zipstream::write_stored;

fn spool() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn settings(dpi: u32) -> Settings {
    Settings { dpi, fit: Fit::Stretch, icc: None, watermark: None, threads: 2, interrupt: Interrupt::never() }
}

fn targets(group: &str, src: &RgbImage, s: &Settings) -> Vec<Target> {
    let orientation = orientation_of(src.width(), src.height());
    catalog::sizes(group)
        .unwrap()
        .iter()
        .map(|size| Target::new(size, orientation, src.dimensions(), s).unwrap())
        .collect()
}

/// Writes every ZIP of a pack and checks it against the plan: exact size, under the
/// limit, every kept file exactly once.
fn check_zips(pack: &GroupPack, limit: u64, targets: usize) -> Vec<Vec<u8>> {
    let mut seen = 0;
    let zips: Vec<Vec<u8>> = pack
        .zips
        .iter()
        .map(|z| {
            let bytes = write_stored(Vec::new(), pack.entries(z).unwrap()).unwrap();
            assert_eq!(bytes.len() as u64, z.bytes, "{}: planned size is exact", z.name);
            assert!(z.bytes <= limit, "{}: {} bytes over the limit {limit}", z.name, z.bytes);
            let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
            seen += archive.len();
            bytes
        })
        .collect();
    assert_eq!(seen, pack.files.len());
    assert_eq!(pack.files.len() + pack.skipped.len(), targets, "every size is either packed or reported skipped");
    for f in &pack.files {
        assert!((MIN_QUALITY..=MAX_QUALITY).contains(&f.quality), "quality {}", f.quality);
    }
    zips
}

#[test]
fn a_noisy_image_never_exceeds_the_limit() {
    let dir = spool();
    let src = fixtures::noisy(900, 600);
    let s = settings(100);
    let t = targets("2x3", &src, &s);
    for limit in [40_000_000, 12_000_000, 6_000_000, 3_000_000] {
        let pack = render_group(&src, "2x3", &t, &s, limit, dir.path(), &Quiet).unwrap();
        check_zips(&pack, limit, t.len());
        if pack.split {
            assert!(pack.zips.len() > 1);
            let q = pack.files[0].quality;
            assert!(pack.files.iter().all(|f| f.quality == q), "a split group shares one quality");
            for (i, z) in pack.zips.iter().enumerate() {
                assert_eq!(z.name, format!("2x3_print_sizes_part{}.zip", i + 1));
            }
        } else {
            assert_eq!(pack.zips.len(), 1);
            assert_eq!(pack.zips[0].name, "2x3_print_sizes.zip");
        }
    }
}

#[test]
fn quality_steps_down_before_splitting() {
    let dir = spool();
    let src = fixtures::noisy(900, 600);
    let s = settings(100);
    let t = targets("4x5", &src, &s);
    let roomy = render_group(&src, "4x5", &t, &s, 200_000_000, dir.path(), &Quiet).unwrap();
    assert!(roomy.files.iter().all(|f| f.quality == MAX_QUALITY) && !roomy.split);
    let at_80: u64 = roomy.zips[0].bytes;
    // 85% of the size at 80 needs a lower quality but no split.
    let tight = render_group(&src, "4x5", &t, &s, at_80 * 85 / 100, dir.path(), &Quiet).unwrap();
    check_zips(&tight, at_80 * 85 / 100, t.len());
    assert!(!tight.split, "a small squeeze lowers the quality");
    let q = tight.files[0].quality;
    assert!(q < MAX_QUALITY && q > MIN_QUALITY, "quality {q}");
    assert!(tight.encodes <= 2 * t.len(), "estimate, then verify: {} encodes for {} files", tight.encodes, t.len());
    // A quarter of it cannot fit even at 60: parts.
    let split = render_group(&src, "4x5", &t, &s, at_80 / 4, dir.path(), &Quiet).unwrap();
    check_zips(&split, at_80 / 4, t.len());
    assert!(split.split && split.zips.len() >= 2, "{:?}", split.zips);
}

#[test]
fn a_file_too_big_for_any_zip_is_reported_not_packed() {
    let dir = spool();
    let src = fixtures::noisy(900, 600);
    let s = settings(150);
    let t = targets("iso", &src, &s);
    let roomy = render_group(&src, "iso", &t, &s, 500_000_000, dir.path(), &Quiet).unwrap();
    let a1_at_80 = roomy.files.last().unwrap().bytes;
    let limit = a1_at_80 / 4;
    let pack = render_group(&src, "iso", &t, &s, limit, dir.path(), &Quiet).unwrap();
    check_zips(&pack, limit, t.len());
    assert!(pack.skipped.iter().any(|sk| sk.size == "A1" && sk.code == "too_large_for_zip"), "{:?}", pack.skipped);
}

#[test]
fn names_sizes_density_and_report() {
    let dir = spool();
    let landscape = fixtures::quadrants(600, 400);
    let s = settings(72);
    let t = targets("4x5", &landscape, &s);
    let pack = render_group(&landscape, "4x5", &t, &s, 20_000_000, dir.path(), &Quiet).unwrap();
    let zips = check_zips(&pack, 20_000_000, t.len());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zips[0].clone())).unwrap();
    let names: Vec<String> =
        (0..archive.len()).map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned()).collect();
    // A landscape source gets landscape sizes: 8x10 at 72 dpi is 720x576.
    for expected in ["4x5_print_sizes/8x10_720x576.jpg", "4x5_print_sizes/20x25_1800x1440.jpg"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    let mut jpeg = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name("4x5_print_sizes/8x10_720x576.jpg").unwrap(), &mut jpeg).unwrap();
    assert_eq!(jfif_density(&jpeg), Some((1, 72, 72)), "density is the dpi");
    let decoded = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (720, 576));
    // Effective dpi: 600 source px over 10 in wide = 60; 400 px over 8 in = 50.
    let eight_by_ten = t.iter().find(|t| t.size.label == "8x10").unwrap();
    assert!((eight_by_ten.effective_dpi() - 50.0).abs() < 1e-9);
    assert_eq!(eight_by_ten.inches, (10.0, 8.0));
}

#[test]
fn the_issue_example_24_mp_at_24x36_is_about_167_dpi() {
    let size = catalog::find_in("2x3", "24x36").unwrap();
    let t = Target::new(size, Orientation::Landscape, (6000, 4000), &settings(300)).unwrap();
    assert_eq!((t.width, t.height), (10800, 7200));
    assert!((t.effective_dpi() - 166.666).abs() < 0.01, "{}", t.effective_dpi());
}

#[test]
fn crop_keeps_the_focal_corner() {
    // Quadrants: a crop to a square around a corner keeps that corner's colour dominant.
    let src = fixtures::quadrants(400, 200);
    for (focal, colour) in [
        ((0.0, 0.0), fixtures::RED),
        ((1.0, 0.0), fixtures::GREEN),
        ((0.0, 1.0), fixtures::BLUE),
        ((1.0, 1.0), fixtures::YELLOW),
    ] {
        let s = Settings { fit: Fit::Crop { focal }, ..settings(72) };
        let size = catalog::find_in("square", "8x8").unwrap();
        let t = Target::new(size, Orientation::Square, src.dimensions(), &s).unwrap();
        assert_eq!(t.rect.width, t.rect.height, "a square cut");
        let jpeg = tintype_pipelines::print::render::encode_one(&src, &t, 90, &s).unwrap();
        let out = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        // The cut lies against the focal corner's side: the pixel near that corner keeps
        // its colour, and the cut shows the left or right half of the source.
        let (w, h) = out.dimensions();
        let (x, y) = (((w - 1) as f64 * focal.0) as u32, ((h - 1) as f64 * focal.1) as u32);
        let corner = out.get_pixel(x.clamp(4, w - 5), y.clamp(4, h - 5)).0;
        assert!(close(corner, colour), "focal {focal:?}: corner {corner:?}, expected {colour:?}");
        let expected_left = if focal.0 == 0.0 { 0.0 } else { 200.0 };
        assert_eq!(t.rect.left, expected_left, "focal {focal:?}");
    }
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (i16::from(*x) - i16::from(y)).abs() < 40)
}

#[test]
fn watermark_and_icc_reach_the_files() {
    let src = RgbImage::from_pixel(300, 200, image::Rgb([200, 200, 200]));
    let icc = fixtures::icc_profile(b"RGB ");
    let plain = Settings { icc: Some(icc.clone()), ..settings(72) };
    let marked = Settings { watermark: Some(Watermark::preview()), ..plain.clone() };
    let size = catalog::find_in("4x5", "8x10").unwrap();
    let t = Target::new(size, Orientation::Landscape, src.dimensions(), &plain).unwrap();
    let a = tintype_pipelines::print::render::encode_one(&src, &t, 80, &plain).unwrap();
    let b = tintype_pipelines::print::render::encode_one(&src, &t, 80, &marked).unwrap();
    let decoded_a = image::load_from_memory(&a).unwrap().to_rgb8();
    let decoded_b = image::load_from_memory(&b).unwrap().to_rgb8();
    let differing = decoded_a.pixels().zip(decoded_b.pixels()).filter(|(p, q)| !close(p.0, q.0)).count();
    assert!(differing > 1000, "the watermark is visible: {differing} pixels differ");
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&a)).unwrap();
    let embedded = image::ImageDecoder::icc_profile(&mut decoder).unwrap();
    assert_eq!(embedded.as_deref(), Some(icc.as_slice()), "the source's profile is carried");
}
