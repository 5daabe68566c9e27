//! Print outputs end to end, without the pipeline: catalog size → geometry → banded
//! Lanczos3 resize → watermark → banded JPEG encoding, then the JPEG read back (size,
//! JFIF density, ICC profile) with the `image` crate.

use std::io::Cursor;
use tintype_codes::Coded;

use image::{ImageDecoder, RgbImage};
use tintype_imaging::ImagingError;
use tintype_imaging::catalog;
use tintype_imaging::encode::{JpegOptions, JpegWriter, encode_bands, encode_rgb, jfif_density};
use tintype_imaging::geometry::{Fit, source_rect};
use tintype_imaging::resize::{Band, BandResizer, resize_whole};
use tintype_imaging::watermark::Watermark;

/// A deterministic noisy image (xorshift): the hardest case for JPEG size and for seams.
fn noise(width: u32, height: u32, seed: u32) -> RgbImage {
    let mut state = seed.max(1);
    RgbImage::from_fn(width, height, |x, y| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state >> 26 // small noise on a gradient: photo-like, compressible
        };
        let base = (x * 3 + y * 2) % 192;
        image::Rgb([(base + next()) as u8, (base / 2 + next()) as u8, (255 - base - next()) as u8])
    })
}

fn decode(jpeg: &[u8]) -> (RgbImage, Option<Vec<u8>>) {
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(jpeg)).unwrap();
    let icc = decoder.icc_profile().unwrap();
    let img = image::DynamicImage::from_decoder(decoder).unwrap().to_rgb8();
    (img, icc)
}

/// Resizes and encodes one output in bands; returns the JPEG.
fn print(src: &RgbImage, dst: (u32, u32), fit: Fit, opts: &JpegOptions, watermark: bool) -> Vec<u8> {
    let rect = source_rect(src.width(), src.height(), dst.0, dst.1, fit).unwrap();
    let bands = BandResizer::new(src, rect, dst.0, dst.1, 16).unwrap().map(|band| {
        let (first, mut pixels) = band?;
        if watermark {
            Watermark::preview().apply(&mut pixels, first, dst.0, dst.1);
        }
        Ok((first, pixels))
    });
    let mut out = Vec::new();
    let bytes = encode_bands(dst.0, dst.1, opts, bands, &mut out).unwrap();
    assert_eq!(bytes, out.len() as u64);
    out
}

fn opts(quality: u8, dpi: u16) -> JpegOptions {
    JpegOptions { quality, dpi, icc: None }
}

#[test]
fn outputs_have_the_size_and_density_asked_for() {
    let landscape = noise(360, 240, 7);
    let portrait = noise(240, 360, 8);
    // (source, size label, dpi, fit) -> decoded size; dpi read back from the header.
    let cases = [
        (&portrait, "8x10", 30, Fit::Stretch, (240, 300)),
        (&landscape, "8x10", 30, Fit::Stretch, (300, 240)),
        (&landscape, "A4", 72, Fit::Crop { focal: (0.0, 1.0) }, (842, 595)),
        (&portrait, "8.5x11", 20, Fit::Crop { focal: (1.0, 0.0) }, (170, 220)),
        (&portrait, "4x6", 150, Fit::Stretch, (600, 900)),
        (&landscape, "16x20", 10, Fit::Stretch, (200, 160)),
    ];
    for (src, label, dpi, fit, expected) in cases {
        let size = catalog::find(label).unwrap();
        let orientation = catalog::orientation_of(src.width(), src.height());
        let dst = size.pixels(u32::from(dpi), orientation);
        assert_eq!(dst, expected, "{label} at {dpi}");
        let jpeg = print(src, dst, fit, &opts(80, dpi), false);
        assert_eq!(jfif_density(&jpeg), Some((1, dpi, dpi)), "{label} at {dpi}");
        let (img, icc) = decode(&jpeg);
        assert_eq!(img.dimensions(), expected, "{label} at {dpi}");
        assert_eq!(icc, None);
    }
}

#[test]
fn density_read_back() {
    let img = noise(64, 48, 3);
    for dpi in [72, 150, 300, 600] {
        let jpeg = encode_rgb(&img, &opts(80, dpi)).unwrap();
        assert_eq!(jfif_density(&jpeg), Some((1, dpi, dpi)), "{dpi} dpi");
        assert!(!jpeg.windows(2).any(|w| w == [0xFF, 0xC2]), "baseline, not progressive");
    }
}

#[test]
fn higher_quality_means_more_bytes() {
    let img = noise(256, 192, 11);
    let sizes: Vec<usize> =
        [40, 60, 70, 80, 95].iter().map(|&q| encode_rgb(&img, &opts(q, 300)).unwrap().len()).collect();
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "sizes by quality: {sizes:?}");
}

#[test]
fn icc_profile_round_trip() {
    let img = noise(40, 30, 5);
    // A small profile, and one that needs several APP2 markers.
    for len in [0, 3_000, 150_000] {
        let icc: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let jpeg = encode_rgb(&img, &JpegOptions { icc: Some(icc.clone()), ..opts(80, 300) }).unwrap();
        let (decoded, read) = decode(&jpeg);
        assert_eq!(decoded.dimensions(), (40, 30));
        assert_eq!(read, (len > 0).then_some(icc), "{len}-byte profile");
    }
}

#[test]
fn banded_output_equals_whole_output() {
    let src = noise(500, 333, 21);
    let dst = (210, 280);
    let fit = Fit::Crop { focal: (0.8, 0.1) };
    let rect = source_rect(500, 333, dst.0, dst.1, fit).unwrap();
    let mut whole = resize_whole(&src, rect, dst.0, dst.1).unwrap();
    Watermark::preview().apply_image(&mut whole);
    let (banded, _) = decode(&print(&src, dst, fit, &opts(90, 300), true));
    let (reference, _) = decode(&encode_rgb(&whole, &opts(90, 300)).unwrap());
    // Resampling may differ by 1 at band edges; after JPEG that can move a few levels.
    let worst = banded.as_raw().iter().zip(reference.as_raw()).map(|(a, b)| a.abs_diff(*b)).max();
    assert!(worst.unwrap() <= 4, "banded and whole differ by {worst:?}");
    // And the watermark is there: compare with the plain output.
    let (plain, _) = decode(&print(&src, dst, fit, &opts(90, 300), false));
    let changed =
        plain.pixels().zip(banded.pixels()).filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 24));
    let fraction = changed.count() as f64 / f64::from(dst.0 * dst.1);
    assert!((0.02..=0.30).contains(&fraction), "watermark changed {fraction:.3}");
}

/// Bands that do not add up to the image are an Encode error, never a panic.
#[test]
fn wrong_rows_are_an_encode_error() {
    let (w, h) = (32u32, 20u32);
    let rows = |first: u32, n: u32| Ok((first, vec![128u8; (w * n * 3) as usize]));
    let cases: Vec<(&str, Vec<Result<Band, ImagingError>>)> = vec![
        ("too few rows", vec![rows(0, 8), rows(8, 8)]),
        ("too many rows", vec![rows(0, 16), rows(16, 8)]),
        ("no rows", vec![]),
        ("out of order", vec![rows(0, 8), rows(12, 8)]),
        ("partial row", vec![Ok((0, vec![1u8; (w * 3 + 5) as usize]))]),
        ("empty band", vec![Ok((0, Vec::new()))]),
        ("band error", vec![rows(0, 8), Err(ImagingError::InvalidGeometry("x".into()))]),
    ];
    for (name, bands) in cases {
        let err = encode_bands(w, h, &opts(80, 300), bands, Vec::new()).unwrap_err();
        let expected = if name == "band error" { "invalid_geometry" } else { "encode_failed" };
        assert_eq!(err.code(), expected, "{name}: {err}");
    }
    // A spent writer stays spent.
    let mut writer = JpegWriter::new(w, h, &opts(80, 300), Vec::new()).unwrap();
    assert!(writer.write_rows(5, &[0; 96]).is_err());
    assert!(writer.write_rows(0, &[0; 96]).is_err());
    assert_eq!(writer.finish().unwrap_err().code(), "encode_failed");
}

/// A failing writer is an Encode error too.
#[test]
fn write_failure_is_an_encode_error() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let img = noise(200, 200, 9);
    let bands = [Ok((0, img.into_raw()))];
    let err = encode_bands(200, 200, &opts(80, 300), bands, Full).unwrap_err();
    assert_eq!(err.code(), "encode_failed", "{err}");
}
