//! Thumbnails from camera-style files: EXIF read into typed fields (fixtures made by
//! exiftool, see `fixtures/photos/make_photo_fixtures.sh`), every EXIF orientation applied,
//! renditions that never upscale and keep the aspect ratio, sRGB from a Display P3 source,
//! HEIC, encoders whose files carry no metadata, and the perceptual hash telling a
//! re-encoded copy from a different photo.

use std::f64::consts::TAU;

use image::{ImageFormat, Rgb, RgbImage};
use tintype_imaging::encode::{JpegOptions, encode_rgb};
use tintype_imaging::exif::{self, ExifFields};
use tintype_imaging::limits::Format;
use tintype_imaging::thumbnail::{ThumbFormat, ThumbOptions, cascade, distance, encode_all, phash, prepare};
use tintype_imaging::{Limits, probe};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/photos/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-4)
}

#[test]
fn exif_fields_from_a_camera_jpeg() {
    let e = exif::read(&fixture("camera.jpg"), Format::Jpeg);
    assert_eq!(e.make.as_deref(), Some("Tintype"));
    assert_eq!(e.model.as_deref(), Some("Fixture Cam 1"));
    assert_eq!(e.lens.as_deref(), Some("Fixture 35mm F1.8"));
    // 18:30:05.250 at +02:00 is 16:30:05.250 UTC.
    assert_eq!(e.taken_at.map(|t| t.to_rfc3339()).as_deref(), Some("2024-07-14T16:30:05.250+00:00"));
    assert_eq!(e.taken_offset_minutes, Some(120));
    assert!(close(e.exposure_time, 1.0 / 250.0), "{:?}", e.exposure_time);
    assert!(close(e.f_number, 2.8));
    assert_eq!(e.iso, Some(400));
    assert!(close(e.focal_length_mm, 35.0));
    assert!(close(e.gps_latitude, 48.858370), "{:?}", e.gps_latitude);
    assert!(close(e.gps_longitude, 2.294481), "{:?}", e.gps_longitude);
    assert!(close(e.gps_altitude, 35.5));
    assert_eq!(e.orientation, Some(1));
}

#[test]
fn exif_south_west_below_sea_level_and_no_offset() {
    let e = exif::read(&fixture("south-west.jpg"), Format::Jpeg);
    assert!(close(e.gps_latitude, -33.8688), "{:?}", e.gps_latitude);
    assert!(close(e.gps_longitude, -151.2093), "{:?}", e.gps_longitude);
    assert!(close(e.gps_altitude, -12.0));
    // No offset: the wall time is kept as if it were UTC, and the offset is unknown.
    assert_eq!(e.taken_at.map(|t| t.to_rfc3339()).as_deref(), Some("2023-12-31T23:59:59+00:00"));
    assert_eq!(e.taken_offset_minutes, None);
    assert_eq!(e.lens, None);
}

#[test]
fn exif_from_png_and_heic_containers() {
    let png = exif::read(&fixture("camera.png"), Format::Png);
    assert_eq!(png.model.as_deref(), Some("Fixture PNG"));
    assert_eq!(png.taken_at.map(|t| t.to_rfc3339()).as_deref(), Some("2022-02-02T10:00:00+00:00"));
    let heic = exif::read(&fixture("camera.heic"), Format::Heic);
    assert_eq!(heic.make.as_deref(), Some("Apple"));
    assert_eq!(heic.model.as_deref(), Some("iPhone Fixture"));
    // 05:05:05 at -07:00 is 12:05:05 UTC.
    assert_eq!(heic.taken_at.map(|t| t.to_rfc3339()).as_deref(), Some("2025-05-05T12:05:05+00:00"));
    assert_eq!(exif::read(b"\x89PNG\r\n\x1a\nbroken", Format::Png), ExifFields::default());
}

const RED: [u8; 3] = [230, 20, 20];
const GREEN: [u8; 3] = [20, 200, 20];
const BLUE: [u8; 3] = [20, 20, 230];
const WHITE: [u8; 3] = [255, 255, 255];

fn near(got: &Rgb<u8>, want: [u8; 3]) -> bool {
    got.0.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 24)
}

#[test]
fn every_orientation_comes_out_upright() {
    // The stored 96x64 image: red top-left, green top-right, blue bottom-left, white
    // bottom-right. What a viewer shows at the upright top-left and top-right corners:
    let cases = [
        (1, (96, 64), RED, GREEN),
        (2, (96, 64), GREEN, RED),
        (3, (96, 64), WHITE, BLUE),
        (4, (96, 64), BLUE, WHITE),
        (5, (64, 96), RED, BLUE),
        (6, (64, 96), BLUE, RED),
        (7, (64, 96), WHITE, GREEN),
        (8, (64, 96), GREEN, WHITE),
    ];
    for (n, size, top_left, top_right) in cases {
        let prepared = prepare(&fixture(&format!("orient-{n}.jpg")), &Limits::default(), 1024).expect("prepare");
        assert_eq!((prepared.width, prepared.height), size, "orientation {n}: upright size");
        let px = &prepared.pixels;
        assert_eq!(px.dimensions(), size, "orientation {n}: pixels");
        let (w, _) = px.dimensions();
        assert!(near(px.get_pixel(4, 4), top_left), "orientation {n}: top-left {:?}", px.get_pixel(4, 4));
        assert!(near(px.get_pixel(w - 5, 4), top_right), "orientation {n}: top-right {:?}", px.get_pixel(w - 5, 4));
        // And every rendition keeps the upright aspect.
        for (size_asked, img) in cascade(&prepared, &[256, 48]).expect("cascade") {
            let (rw, rh) = img.dimensions();
            assert_eq!(rw.max(rh), size_asked.min(96), "orientation {n} at {size_asked}");
            assert_eq!(rw < rh, size.0 < size.1, "orientation {n} at {size_asked}: still portrait/landscape");
        }
    }
}

/// A photo-like image: smooth colour fields from a few sinusoids whose phases come from
/// `seed`, plus a little deterministic noise.
fn photo(width: u32, height: u32, seed: u32) -> RgbImage {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        f64::from(state) / f64::from(u32::MAX)
    };
    let waves: Vec<[f64; 4]> = (0..6).map(|_| [rnd() * 6.0 + 1.0, rnd() * 6.0 + 1.0, rnd() * TAU, rnd()]).collect();
    let mut noise = rnd;
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (f64::from(x) / f64::from(width), f64::from(y) / f64::from(height));
        let mut c = [0.0f64; 3];
        for (i, [fx, fy, phase, amp]) in waves.iter().enumerate() {
            c[i % 3] += amp * (fx * u * TAU + fy * v * TAU + phase).sin();
        }
        let n = noise() * 8.0;
        Rgb(c.map(|c| (128.0 + c * 60.0 + n).clamp(0.0, 255.0) as u8))
    })
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    encode_rgb(img, &JpegOptions { quality, dpi: 72, icc: None }).expect("encode")
}

#[test]
fn renditions_never_upscale_keep_the_aspect_and_carry_no_metadata() {
    let large = jpeg(&photo(3000, 2000, 1), 90);
    let prepared = prepare(&large, &Limits::default(), 1024).expect("prepare");
    assert_eq!((prepared.width, prepared.height), (3000, 2000));
    assert!(prepared.pixels.width() >= 1024 && prepared.pixels.width() < 3000, "decoded reduced");
    let images = cascade(&prepared, &[1024, 512, 256]).expect("cascade");
    let sizes: Vec<_> = images.iter().map(|(s, img)| (*s, img.dimensions())).collect();
    assert_eq!(sizes, [(1024, (1024, 683)), (512, (512, 341)), (256, (256, 171))]);

    let small = prepare(&jpeg(&photo(300, 200, 2), 90), &Limits::default(), 1024).expect("prepare");
    let images = cascade(&small, &[1024, 512, 256]).expect("cascade");
    let sizes: Vec<_> = images.iter().map(|(s, img)| (*s, img.dimensions())).collect();
    assert_eq!(sizes, [(1024, (300, 200)), (512, (300, 200)), (256, (256, 171))], "never upscaled");

    // The camera fixture has GPS: no rendition of it may carry any EXIF.
    let camera = prepare(&fixture("camera.jpg"), &Limits::default(), 1024).expect("prepare");
    let images = cascade(&camera, &[256]).expect("cascade");
    let encoded = encode_all(&images, &ThumbFormat::ALL, &ThumbOptions::default()).expect("encode");
    assert_eq!(encoded.len(), 3);
    for e in &encoded {
        assert!(!e.bytes.windows(4).any(|w| w == b"Exif"), "{:?} has EXIF", e.format);
        assert!(!e.bytes.windows(7).any(|w| w == b"Tintype"), "{:?} has the camera make", e.format);
        match e.format {
            ThumbFormat::Jpeg | ThumbFormat::WebP => {
                let format = if e.format == ThumbFormat::Jpeg { ImageFormat::Jpeg } else { ImageFormat::WebP };
                let back = image::load_from_memory_with_format(&e.bytes, format).expect("decodes").into_rgb8();
                assert_eq!(back.dimensions(), (96, 64));
                assert!(near(back.get_pixel(4, 4), RED), "{:?}", back.get_pixel(4, 4));
            }
            ThumbFormat::Avif => assert_eq!(&e.bytes[4..12], b"ftypavif", "an AVIF file"),
        }
    }
}

fn srgb_to_linear(v: f64) -> f64 {
    if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
}

fn linear_to_srgb(v: f64) -> f64 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.003_130_8 { v * 12.92 } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 }
}

#[test]
fn a_display_p3_source_comes_out_in_srgb() {
    let p3 = moxcms::ColorProfile::new_display_p3().encode().expect("P3 profile");
    let colour = [200u8, 100, 50];
    let img = RgbImage::from_pixel(64, 64, Rgb(colour));
    let tagged = encode_rgb(&img, &JpegOptions { quality: 100, dpi: 72, icc: Some(p3) }).expect("encode");
    let prepared = prepare(&tagged, &Limits::default(), 1024).expect("prepare");
    assert!(prepared.converted_profile);
    // Display P3 to sRGB (both D65, both with the sRGB curve): the published matrix.
    let m = [[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]];
    let lin = colour.map(|c| srgb_to_linear(f64::from(c) / 255.0));
    let want: Vec<f64> =
        m.iter().map(|row| linear_to_srgb(row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2]) * 255.0).collect();
    let got = prepared.pixels.get_pixel(32, 32);
    for (g, w) in got.0.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() <= 4.0, "got {got:?}, want {want:?}");
    }
    assert!(got.0[0] > colour[0] + 10, "P3 red is redder in sRGB: {got:?}");
}

#[test]
fn heic_decodes_upright_through_libheif() {
    let bytes = fixture("camera.heic");
    let info = probe(&bytes, &Limits::default()).expect("probe");
    assert_eq!((info.format, info.width, info.height), (Format::Heic, 96, 64));
    let prepared = prepare(&bytes, &Limits::default(), 1024).expect("prepare");
    assert_eq!(prepared.pixels.dimensions(), (96, 64));
    let px = &prepared.pixels;
    assert!(near(px.get_pixel(4, 4), RED), "{:?}", px.get_pixel(4, 4));
    assert!(near(px.get_pixel(91, 59), WHITE), "{:?}", px.get_pixel(91, 59));
    // A HEIC cut short is refused, not decoded into garbage.
    let err = prepare(&bytes[..bytes.len() / 2], &Limits::default(), 1024).expect_err("truncated");
    assert!(matches!(err, tintype_imaging::ImagingError::Corrupt(_)), "{err:?}");
}

#[test]
fn a_resized_reencoded_copy_hashes_near_and_a_different_photo_far() {
    let hash_of = |bytes: &[u8]| phash(&prepare(bytes, &Limits::default(), 1024).expect("prepare").pixels);
    for seed in [1, 7, 42] {
        let original = photo(2400, 1600, seed);
        let base = hash_of(&jpeg(&original, 92));
        let copy = tintype_imaging::resize::resize_whole(
            &original,
            tintype_imaging::geometry::SourceRect::whole(2400, 1600),
            900,
            600,
        )
        .expect("resize");
        let near_copy = hash_of(&jpeg(&copy, 60));
        assert!(distance(base, near_copy) < 10, "seed {seed}: copy at {}", distance(base, near_copy));
        let other = hash_of(&jpeg(&photo(2400, 1600, seed + 1000), 92));
        assert!(distance(base, other) >= 10, "seed {seed}: other at {}", distance(base, other));
    }
}
