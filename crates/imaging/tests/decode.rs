//! Decoding and probing, table by table: every supported format and pixel type comes out
//! as upright 8-bit RGB with alpha on white; EXIF orientations 1–8 (both byte orders);
//! CMYK JPEGs (Adobe-inverted or not, naively or through a real press profile, checked
//! against littleCMS); which ICC profiles are kept; JPEG structure the decoder must read
//! as the probe does; and every kind of bad input, with a check that header-level
//! refusals come from `probe` alone. Fixtures are built in memory but for one CMYK JPEG
//! and its reference render (see `fixtures`).

use std::time::Duration;

mod fixtures;

use fixtures::*;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage, Rgba};
use tintype_codes::Coded;
use tintype_imaging::decode::{Decoded, decode, decode_with};
use tintype_imaging::limits::Format;
use tintype_imaging::{ImageInfo, ImagingError, Interrupt, Limits, probe};

/// Largest per-channel difference accepted (JPEG is lossy).
const TOLERANCE: i16 = 12;

/// Pixels to check: position and expected colour.
type Samples = Vec<((u32, u32), [u8; 3])>;
/// A decode case: name, input, expected size, pixels to check.
type Decodes = (&'static str, Vec<u8>, (u32, u32), Samples);
/// An ICC case: name, input, the profile expected in the output.
type KeepsProfile<'a> = (&'static str, Vec<u8>, Option<&'a [u8]>);
/// A refusal: name, input, limits, error code, words in the message, stage.
type Refused<'a> = (&'static str, Vec<u8>, &'a Limits, &'static str, &'static str, Stage);

/// Decodes `bytes` with default limits and checks the size and some pixels.
fn check(name: &str, bytes: &[u8], size: (u32, u32), samples: Samples) -> Decoded {
    let decoded = decode(bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decoded.pixels.dimensions(), size, "{name}: size");
    for ((x, y), want) in samples {
        let got = decoded.pixels.get_pixel(x, y).0;
        let close = got.iter().zip(want).all(|(&g, w)| (i16::from(g) - i16::from(w)).abs() <= TOLERANCE);
        assert!(close, "{name}: pixel ({x},{y}) is {got:?}, expected {want:?}");
    }
    decoded
}

fn dynamic(image: RgbImage) -> DynamicImage {
    DynamicImage::ImageRgb8(image)
}

#[test]
fn decodes_every_format() {
    let image = dynamic(quadrants(64, 48));
    let cases = [
        ("jpeg", jpeg(&image), Format::Jpeg),
        ("png", encode(&image, ImageFormat::Png), Format::Png),
        ("webp (lossless)", encode(&image, ImageFormat::WebP), Format::WebP),
        ("tiff", encode(&image, ImageFormat::Tiff), Format::Tiff),
    ];
    for (name, bytes, format) in cases {
        let decoded = check(name, &bytes, (64, 48), quadrant_samples(64, 48));
        assert_eq!(decoded.info, ImageInfo { format, width: 64, height: 48 }, "{name}");
        assert_eq!(probe(&bytes, &Limits::default()), Ok(decoded.info), "{name}: probe");
    }
}

#[test]
fn converts_pixel_types_to_rgb8() {
    let transparent = |image: DynamicImage| -> Vec<u8> { encode(&image, ImageFormat::Png) };
    let rgba = ImageBuffer::from_vec(3, 1, vec![0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 0, 128]).expect("rgba");
    let over_white = vec![((0, 0), WHITE), ((1, 0), RED), ((2, 0), [127; 3])];
    let gray = GrayImage::from_pixel(8, 8, Luma([100]));
    let cases: Vec<Decodes> = vec![
        (
            "16-bit png",
            encode(&dynamic(quadrants(64, 48)).into_rgb16().into(), ImageFormat::Png),
            (64, 48),
            quadrant_samples(64, 48),
        ),
        (
            "16-bit png, rounding",
            encode(&ImageBuffer::from_pixel(2, 2, Rgb([0x7FFFu16, 0x0101, 0xFFFF])).into(), ImageFormat::Png),
            (2, 2),
            vec![((1, 1), [127, 1, 255])],
        ),
        ("gray png", encode(&gray.clone().into(), ImageFormat::Png), (8, 8), vec![((3, 3), [100; 3])]),
        (
            "gray 16-bit png",
            encode(&ImageBuffer::from_pixel(8, 8, Luma([100u16 * 257])).into(), ImageFormat::Png),
            (8, 8),
            vec![((3, 3), [100; 3])],
        ),
        ("gray jpeg", jpeg(&gray.into()), (8, 8), vec![((3, 3), [100; 3])]),
        ("rgba png: alpha onto white", transparent(DynamicImage::ImageRgba8(rgba.clone())), (3, 1), over_white.clone()),
        ("rgba webp", encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::WebP), (3, 1), over_white.clone()),
        ("rgba tiff", encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Tiff), (3, 1), over_white),
        (
            "gray+alpha png",
            transparent(ImageBuffer::from_pixel(2, 2, LumaA([0u8, 0])).into()),
            (2, 2),
            vec![((0, 0), WHITE)],
        ),
        (
            "rgba 16-bit png",
            transparent(ImageBuffer::from_pixel(2, 2, Rgba([0u16, 0, 0, 0])).into()),
            (2, 2),
            vec![((1, 1), WHITE)],
        ),
    ];
    for (name, bytes, size, samples) in cases {
        check(name, &bytes, size, samples);
    }
}

#[test]
fn applies_every_exif_orientation_in_both_byte_orders() {
    let upright = quadrants(48, 32);
    for orientation in 1..=8 {
        for big_endian in [false, true] {
            let name = format!("jpeg, orientation {orientation}, big endian {big_endian}");
            let stored = stored_for(&upright, orientation);
            let bytes = with_exif_orientation(&jpeg(&dynamic(stored.clone())), orientation, big_endian);
            let decoded = check(&name, &bytes, (48, 32), quadrant_samples(48, 32));
            assert_eq!((decoded.info.width, decoded.info.height), stored.dimensions(), "{name}: stored size");
        }
    }
}

#[test]
fn orientation_moves_each_pixel_exactly() {
    let px = |i: u8| Rgb([i * 30, 255 - i * 30, i]);
    // Stored 4x2 `a b c d / e f g h` with orientation 6 (rotate 90° clockwise) is 2x4
    // upright: `e a / f b / g c / h d`.
    let stored = RgbImage::from_fn(4, 2, |x, y| px((y * 4 + x) as u8));
    let rotated = [[4, 0], [5, 1], [6, 2], [7, 3]];
    let bytes = png_with(&dynamic(stored), None, Some(exif_tiff(6, false)));
    let decoded = decode(&bytes, &Limits::default()).expect("decode");
    assert_eq!(decoded.pixels, RgbImage::from_fn(2, 4, |x, y| px(rotated[y as usize][x as usize])));

    // Every orientation on a lossless PNG: the upright picture comes back pixel for pixel.
    let upright = RgbImage::from_fn(2, 4, |x, y| px((y * 2 + x) as u8));
    for orientation in 1..=8 {
        let stored = stored_for(&upright, orientation);
        let bytes = png_with(&dynamic(stored), None, Some(exif_tiff(orientation, orientation % 2 == 0)));
        let decoded = decode(&bytes, &Limits::default()).expect("decode");
        assert_eq!(decoded.pixels, upright, "png, orientation {orientation}");
    }
}

#[test]
fn converts_cmyk_jpegs() {
    // Adobe CMYK is stored inverted (255 = no ink): red is C=255 M=0 Y=0 K=255 stored.
    let adobe_red = cmyk_jpeg(32, 32, |_, _| [255, 0, 0, 255], None);
    let adobe_red_with = |icc: &[u8]| cmyk_jpeg(32, 32, |_, _| [255, 0, 0, 255], Some(icc));
    let plain_red = strip_segments(&cmyk_jpeg(32, 32, |_, _| [0, 255, 255, 0], None), 0xEE);
    let quadrant_cmyk = |image: RgbImage| {
        let (w, h) = image.dimensions();
        cmyk_jpeg(
            w,
            h,
            move |x, y| {
                let [r, g, b] = image.get_pixel(x, y).0;
                [r, g, b, 255]
            },
            None,
        )
    };
    let rotated = with_exif_orientation(&quadrant_cmyk(stored_for(&quadrants(48, 32), 6)), 6, true);
    let red = vec![((0, 0), RED), ((16, 16), RED), ((31, 31), RED)];
    let cases: Vec<Decodes> = vec![
        ("adobe (inverted) red square", adobe_red, (32, 32), red.clone()),
        ("plain cmyk (no APP14) red square", plain_red, (32, 32), red.clone()),
        ("adobe quadrants", quadrant_cmyk(quadrants(64, 48)), (64, 48), quadrant_samples(64, 48)),
        ("adobe, orientation 6", rotated, (48, 32), quadrant_samples(48, 32)),
        // Profiles moxcms cannot use leave the naive formula in charge.
        ("adobe red, a CMYK header with no tables", adobe_red_with(&icc_profile(b"CMYK")), (32, 32), red.clone()),
        ("adobe red, an RGB profile", adobe_red_with(&icc_profile(b"RGB ")), (32, 32), red.clone()),
    ];
    for (name, bytes, size, samples) in cases {
        check(name, &bytes, size, samples);
    }
}

/// Through-profile CMYK against littleCMS: largest accepted mean absolute error (over
/// the image, per channel) and largest accepted error at one pixel, in 8-bit levels.
/// Measured on `CMYK_FOGRA39` (see `fixtures/make_cmyk_fixture.py`): moxcms against
/// littleCMS, means of 0.43 (R), 0.88 (G) and 1.23 (B), at most 5 at one pixel (the two
/// interpolate the profile's 5-point grid differently); the naive formula, means of 25.6,
/// 26.3 and 25.5, at most 121.
const PROFILE_MEAN: f64 = 2.0;
const PROFILE_MAX: u8 = 8;

/// The worst channel's mean absolute difference, and the largest difference anywhere.
fn difference(got: &RgbImage, want: &RgbImage) -> (f64, u8) {
    assert_eq!(got.dimensions(), want.dimensions());
    let mut sums = [0u64; 3];
    let mut max = 0;
    for (g, w) in got.pixels().zip(want.pixels()) {
        for c in 0..3 {
            let d = g[c].abs_diff(w[c]);
            sums[c] += u64::from(d);
            max = max.max(d);
        }
    }
    let pixels = f64::from(got.width() * got.height());
    (sums.iter().map(|&s| s as f64 / pixels).fold(0.0, f64::max), max)
}

#[test]
fn converts_cmyk_through_its_icc_profile_as_littlecms_does() {
    let reference = image::load_from_memory_with_format(CMYK_FOGRA39_SRGB, ImageFormat::Png).expect("png").into_rgb8();
    let profile = jpeg_icc_profile(CMYK_FOGRA39).expect("the fixture has a profile");
    // The fixture's ink amounts (Pillow stored them inverted), encoded again by mozjpeg:
    // inverted with its Adobe segment, and as plain ink amounts without one. (A second
    // JPEG generation at quality 95 moves the measured errors by 0.02 at most.)
    let stored = cmyk_samples(CMYK_FOGRA39);
    let at = |x: u32, y: u32| -> [u8; 4] {
        let i = ((y * 64 + x) * 4) as usize;
        stored[i..i + 4].try_into().expect("4")
    };
    let adobe = cmyk_jpeg(64, 64, at, Some(&profile));
    let plain = strip_segments(&cmyk_jpeg(64, 64, |x, y| at(x, y).map(|v| 255 - v), Some(&profile)), 0xEE);
    let cases = [
        ("fixture (Pillow, Adobe)", CMYK_FOGRA39.to_vec()),
        ("re-encoded, Adobe (inverted)", adobe),
        ("re-encoded, plain ink amounts", plain),
    ];
    for (name, bytes) in cases {
        let decoded = decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.icc, None, "{name}: the output is sRGB, so it carries no profile");
        let (mean, max) = difference(&decoded.pixels, &reference);
        assert!(mean < PROFILE_MEAN && max <= PROFILE_MAX, "{name}: mean {mean:.2}, max {max} off littleCMS");
    }

    // Without its profile the same file goes through the naive formula, which must fail
    // the bounds by far (or the test could not tell the two apart).
    let naive = decode(&strip_segments(CMYK_FOGRA39, 0xE2), &Limits::default()).expect("naive");
    let (mean, max) = difference(&naive.pixels, &reference);
    assert!(mean > 4.0 * PROFILE_MEAN && max > 4 * PROFILE_MAX, "naive: mean {mean:.2}, max {max}");
}

#[test]
fn keeps_only_rgb_profiles_on_non_cmyk_sources() {
    let (rgb_profile, gray_profile) = (icc_profile(b"RGB "), icc_profile(b"GRAY"));
    let rgb = dynamic(quadrants(16, 16));
    let gray: DynamicImage = GrayImage::from_pixel(16, 16, Luma([90])).into();
    let not_a_profile = vec![7u8; 200];
    let big_profile = [icc_profile(b"RGB "), noise(70_000, 9)].concat();
    let cases: Vec<KeepsProfile> = vec![
        ("rgb png, rgb profile", png_with(&rgb, Some(&rgb_profile), None), Some(&rgb_profile)),
        ("rgb jpeg, rgb profile", jpeg_with_icc(&rgb, Some(&rgb_profile)), Some(&rgb_profile)),
        ("gray png, rgb profile", png_with(&gray, Some(&rgb_profile), None), Some(&rgb_profile)),
        ("gray png, gray profile", png_with(&gray, Some(&gray_profile), None), None),
        ("gray jpeg, gray profile", jpeg_with_icc(&gray, Some(&gray_profile)), None),
        ("rgb jpeg, bytes that are not a profile", jpeg_with_icc(&rgb, Some(&not_a_profile)), None),
        ("rgb png, no profile", png_with(&rgb, None, None), None),
        ("rgb jpeg, 70 kB rgb profile in two APP2 chunks", jpeg_with_icc(&rgb, Some(&big_profile)), Some(&big_profile)),
        ("rgb jpeg, second ICC chunk missing", strip_second_icc_chunk(jpeg_with_icc(&rgb, Some(&big_profile))), None),
        ("cmyk jpeg, cmyk profile", cmyk_jpeg(16, 16, |_, _| [255, 0, 0, 255], Some(&icc_profile(b"CMYK"))), None),
    ];
    for (name, bytes, expected) in cases {
        let decoded = decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.icc.as_deref(), expected, "{name}");
    }
}

#[test]
fn decodes_jpeg_structure_as_the_probe_reads_it() {
    // What libjpeg skips between segments, the walker skips too: the size probed is the
    // size decoded. Each is put right before the frame header.
    let image = jpeg(&dynamic(quadrants(64, 48)));
    let cases: [(&str, &[u8]); 5] = [
        ("fill bytes", &[0xFF, 0xFF, 0xFF]),
        ("garbage", b"garbage"),
        ("stuffed bytes (FF 00) as garbage", &[0xFF, 0x00, 0x00, 0x10, 0xFF, 0x00]),
        ("RSTn and TEM, which have no length", &[0xFF, 0xD0, 0xFF, 0x01, 0xFF, 0xD7]),
        ("a comment", b"\xFF\xFE\x00\x06\xFF\xC0\x12\x34"),
    ];
    for (name, bytes) in cases {
        let input = insert_before_segment(&image, 0xC0, bytes);
        let decoded = check(name, &input, (64, 48), quadrant_samples(64, 48));
        assert_eq!(probe(&input, &Limits::default()), Ok(decoded.info), "{name}: probe");
    }
}

/// Drops the second `ICC_PROFILE` APP2 chunk of a JPEG.
fn strip_second_icc_chunk(jpeg: Vec<u8>) -> Vec<u8> {
    let second = jpeg.windows(14).position(|w| w == b"ICC_PROFILE\0\x02\x02").expect("second chunk");
    let start = second - 4;
    let len = usize::from(u16::from_be_bytes([jpeg[start + 2], jpeg[start + 3]]));
    [&jpeg[..start], &jpeg[start + 2 + len..]].concat()
}

/// Where a refusal must come from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// The header: `probe` alone returns the very same error, before any pixel buffer.
    Probe,
    /// The pixel data: `probe` accepts the input, `decode` refuses it.
    Decode,
}

/// Checks that `bytes` are refused with `code`, a message containing `says`, at `stage`.
fn check_refused(name: &str, bytes: &[u8], limits: &Limits, code: &str, says: &str, stage: Stage) {
    let error = decode(bytes, limits).map(|d| d.info).expect_err(name);
    assert_eq!(error.code(), code, "{name}: {error}");
    assert!(error.to_string().contains(says), "{name}: {error:?} should say {says:?}");
    match stage {
        Stage::Probe => assert_eq!(probe(bytes, limits), Err(error), "{name}: probe"),
        Stage::Decode => assert!(probe(bytes, limits).is_ok(), "{name}: probe should accept it"),
    }
}

#[test]
fn refuses_bad_input_with_a_clear_code() {
    let default = Limits::default();
    let small_files = Limits { max_bytes: 1_000, ..default };
    let few_pixels = Limits { max_pixels: 4_999, ..default };
    // 16 MiB of working memory and the pixels: an 8-bit RGB 100x100 PNG fits (30 kB of
    // pixels), a 16-bit RGBA one (80 kB, then 30 kB of output) does not.
    let tight_memory = Limits { max_decode_bytes: 16_850_000, ..default };
    let no_scans = Limits { max_scans: 0, ..default };
    let image = dynamic(quadrants(64, 48));
    let noisy = dynamic(noisy(128, 128));
    let half = |bytes: Vec<u8>| bytes[..bytes.len() / 2].to_vec();
    let png_of = |w: u32, h: u32| encode(&dynamic(RgbImage::new(w, h)), ImageFormat::Png);
    let ftyp = |brands: &[u8]| [&[0, 0, 0, 24][..], b"ftyp", &brands[..4], &[0; 4], &brands[4..]].concat();
    let noise_bytes = noise(128 * 128 * 4, 3);
    let cmyk = cmyk_jpeg(
        128,
        128,
        |x, y| {
            let i = ((y * 128 + x) * 4) as usize;
            noise_bytes[i..i + 4].try_into().expect("4")
        },
        None,
    );
    let without_eoi = |mut jpeg: Vec<u8>| {
        assert!(jpeg.ends_with(&[0xFF, 0xD9]), "a JPEG ends with EOI");
        jpeg.truncate(jpeg.len() - 2);
        jpeg
    };
    use Stage::*;
    let heic_code = if cfg!(feature = "heic") { "corrupt_image" } else { "unsupported_format" };
    let cases: Vec<Refused> = vec![
        ("empty", vec![], &default, "empty_file", "empty", Probe),
        ("over max_bytes", vec![0; 1_001], &small_files, "file_too_large", "1001 bytes", Probe),
        ("random bytes", noise(4_096, 7), &default, "not_an_image", "", Probe),
        ("text", b"hello, world\n".to_vec(), &default, "not_an_image", "", Probe),
        ("mp4 video", ftyp(b"isomiso2mp41"), &default, "not_an_image", "", Probe),
        ("pdf", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj".to_vec(), &default, "unsupported_format", "pdf", Probe),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(), &default, "unsupported_format", "gif", Probe),
        // With the `heic` feature a bare ftyp box is a HEIF without its boxes: corrupt.
        ("heic", ftyp(b"heicmif1heic"), &default, heic_code, "heic", Probe),
        ("heif (mif1)", ftyp(b"mif1mif1miaf"), &default, heic_code, "heic", Probe),
        ("avif", ftyp(b"avifmif1miaf"), &default, "unsupported_format", "avif", Probe),
        (
            "bmp",
            [&b"BM"[..], &[0; 12], &[40, 0, 0, 0], &[0; 36]].concat(),
            &default,
            "unsupported_format",
            "bmp",
            Probe,
        ),
        (
            "svg",
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            &default,
            "unsupported_format",
            "svg",
            Probe,
        ),
        (
            "png signature, then junk",
            [&b"\x89PNG\r\n\x1a\n"[..], &noise(64, 1)].concat(),
            &default,
            "corrupt_image",
            "IHDR",
            Probe,
        ),
        ("jpeg with no frame", vec![0xFF, 0xD8, 0xFF, 0xD9], &default, "corrupt_image", "no image data", Probe),
        (
            "lossless jpeg (SOF3)",
            retag_segment(&jpeg(&image), 0xC0, 0xC3),
            &default,
            "unsupported_format",
            "lossless",
            Probe,
        ),
        (
            "jpeg with two frame headers",
            insert_segment(&jpeg(&image), 0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]),
            &default,
            "corrupt_image",
            "two frame headers",
            Probe,
        ),
        (
            "jpeg cut inside a segment after its first scan",
            without_eoi(jpeg(&image)).into_iter().chain([0xFF, 0xFE, 0x01, 0x00, 0xFF, 0xD9]).collect(),
            &default,
            "corrupt_image",
            "truncated",
            Decode,
        ),
        ("truncated jpeg", half(jpeg(&noisy)), &default, "corrupt_image", "truncated", Decode),
        ("truncated cmyk jpeg", half(cmyk.clone()), &default, "corrupt_image", "truncated", Decode),
        (
            "jpeg without quantisation tables",
            strip_segments(&jpeg(&image), 0xDB),
            &default,
            "corrupt_image",
            "jpeg",
            Decode,
        ),
        (
            "truncated tiff (its IFD comes last)",
            half(encode(&noisy, ImageFormat::Tiff)),
            &default,
            "corrupt_image",
            "tiff",
            Probe,
        ),
        ("truncated png", half(encode(&noisy, ImageFormat::Png)), &default, "corrupt_image", "png", Decode),
        ("truncated webp", half(encode(&noisy, ImageFormat::WebP)), &default, "corrupt_image", "webp", Decode),
        (
            "png claiming 100000x100000",
            png_claiming(100_000, 100_000),
            &default,
            "image_too_large",
            "15000 pixels a side",
            Probe,
        ),
        (
            "jpeg claiming 60000x60000",
            with_sof_size(&jpeg(&image), 60_000, 60_000),
            &default,
            "image_too_large",
            "60000x60000",
            Probe,
        ),
        ("png 15001x1", png_of(15_001, 1), &default, "image_too_large", "15000 pixels a side", Probe),
        ("png 1x15001", png_of(1, 15_001), &default, "image_too_large", "15000 pixels a side", Probe),
        (
            "webp 15001x1",
            encode(&dynamic(RgbImage::new(15_001, 1)), ImageFormat::WebP),
            &default,
            "image_too_large",
            "a side",
            Probe,
        ),
        (
            "tiff 15001x1",
            encode(&dynamic(RgbImage::new(15_001, 1)), ImageFormat::Tiff),
            &default,
            "image_too_large",
            "a side",
            Probe,
        ),
        (
            "16-bit RGBA png over the decode budget",
            encode(&DynamicImage::ImageRgba16(ImageBuffer::new(100, 100)), ImageFormat::Png),
            &tight_memory,
            "image_too_large",
            "decoding it needs about 17 MB; the limit is 16 MB",
            Decode,
        ),
        ("jpeg over max_scans", jpeg(&image), &no_scans, "image_too_complex", "1 scans; the limit is 0", Decode),
        (
            "png 100x50 over a 4999-pixel cap",
            png_of(100, 50),
            &few_pixels,
            "image_too_large",
            "4999 pixels in all",
            Probe,
        ),
    ];
    for (name, bytes, limits, code, says, stage) in cases {
        check_refused(name, &bytes, limits, code, says, stage);
    }
}

#[test]
fn an_interrupt_stops_a_decode_with_its_reason() {
    let bytes = jpeg(&dynamic(noisy(256, 256)));
    let limits = Limits::default();
    let cancelled = decode_with(&bytes, &limits, u32::MAX, &Interrupt::when(|| true)).expect_err("cancelled");
    assert_eq!(cancelled, ImagingError::Cancelled);
    let late = decode_with(&bytes, &limits, u32::MAX, &Interrupt::never().within(Duration::ZERO)).expect_err("late");
    assert_eq!(late.code(), "decode_timeout", "{late}");
    let png = encode(&dynamic(noisy(256, 256)), ImageFormat::Png);
    let stopped = decode_with(&png, &limits, u32::MAX, &Interrupt::when(|| true)).expect_err("cancelled");
    assert_eq!(stopped, ImagingError::Cancelled);
    let calm = decode_with(&bytes, &limits, u32::MAX, &Interrupt::when(|| false).within(Duration::from_secs(60)));
    assert_eq!(calm.expect("decodes").pixels.dimensions(), (256, 256));
}

#[test]
fn an_rgb_png_fits_the_budget_a_16_bit_one_is_refused_from() {
    let tight_memory = Limits { max_decode_bytes: 16_850_000, ..Limits::default() };
    let rgb = encode(&dynamic(RgbImage::new(100, 100)), ImageFormat::Png);
    assert_eq!(decode(&rgb, &tight_memory).expect("fits").pixels.dimensions(), (100, 100));
}

#[test]
fn accepts_images_right_at_the_limits() {
    let exactly = Limits { max_bytes: 0, max_side: 15_000, max_pixels: 5_000, ..Limits::default() };
    let cases = [
        ("15000x1", encode(&dynamic(RgbImage::new(15_000, 1)), ImageFormat::Png), Limits::default()),
        ("100x50 = 5000 pixels", encode(&dynamic(RgbImage::new(100, 50)), ImageFormat::Png), exactly),
    ];
    for (name, bytes, limits) in cases {
        let limits = Limits { max_bytes: bytes.len() as u64, ..limits };
        decode(&bytes, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
