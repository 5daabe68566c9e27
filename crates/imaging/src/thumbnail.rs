//! A photo's renditions: one decode, a cascade of resizes, encodes in parallel, and a
//! perceptual hash. Pure and synchronous like the rest of the crate; the `ingest` job
//! calls it on a blocking thread.
//!
//! 1. [`prepare`] decodes once, at the smallest size that serves the largest rendition
//!    (libjpeg DCT scaling: a 24 MP JPEG wanted at 1024 px decodes at 1/4 or 1/2 size),
//!    applies the EXIF orientation (HEIF: the container's transforms) and converts an
//!    embedded RGB profile (Display P3, Adobe RGB) to sRGB, so every rendition is sRGB
//!    and carries no profile, no EXIF and no GPS (the encoders write none).
//! 2. [`cascade`] resizes to each size on the longest edge, never upscaling, keeping
//!    the aspect ratio: each size from the next larger one (Lanczos3), so the cost falls
//!    with the size.
//! 3. [`encode_all`] encodes (size, format) pairs on up to `threads` threads: JPEG
//!    (mozjpeg), WebP (libwebp, lossy) and AVIF (rav1e through `ravif`, 8-bit AV1, one
//!    thread per encode, so the total stays within `threads`).
//! 4. [`phash`]: a 64-bit DCT perceptual hash (`image_hasher`: each of the 8×8 lowest
//!    frequencies of a DCT over a 16×16 grey reduction against their median), taken from
//!    the decoded pixels, so that a re-encoded or resized copy hashes alike. [`PHASH_PARAMS`] names the
//!    settings; hashes are only comparable under the same name.

use std::sync::Mutex;

use image::{DynamicImage, RgbImage};

use crate::ImagingError;
use crate::decode::{Decoded, decode_reduced};
use crate::encode::{JpegOptions, encode_rgb};
use crate::geometry::SourceRect;
use crate::limits::{Format, Limits};
use crate::resize::resize_whole;

/// A rendition's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThumbFormat {
    /// Baseline JPEG.
    Jpeg,
    /// Lossy WebP.
    WebP,
    /// AVIF (AV1 still image).
    Avif,
}

impl ThumbFormat {
    /// Every format, in the order browsers prefer them least to most.
    pub const ALL: [ThumbFormat; 3] = [ThumbFormat::Jpeg, ThumbFormat::WebP, ThumbFormat::Avif];

    /// File extension of its blob.
    pub fn ext(self) -> &'static str {
        match self {
            ThumbFormat::Jpeg => "jpg",
            ThumbFormat::WebP => "webp",
            ThumbFormat::Avif => "avif",
        }
    }

    /// Name, as stored with the rendition and used in MIME types.
    pub fn name(self) -> &'static str {
        match self {
            ThumbFormat::Jpeg => "jpeg",
            ThumbFormat::WebP => "webp",
            ThumbFormat::Avif => "avif",
        }
    }

    /// The format with this [`ThumbFormat::name`].
    pub fn from_name(name: &str) -> Option<ThumbFormat> {
        ThumbFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ThumbFormat::Jpeg => "image/jpeg",
            ThumbFormat::WebP => "image/webp",
            ThumbFormat::Avif => "image/avif",
        }
    }

    /// The format with this extension.
    pub fn from_ext(ext: &str) -> Option<ThumbFormat> {
        ThumbFormat::ALL.into_iter().find(|f| f.ext() == ext)
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThumbOptions {
    /// JPEG quality, 1..=100.
    pub jpeg_quality: u8,
    /// WebP quality, 1..=100.
    pub webp_quality: u8,
    /// AVIF quality, 1..=100.
    pub avif_quality: u8,
    /// rav1e speed, 1 (slowest, smallest) ..= 10 (fastest).
    pub avif_speed: u8,
    /// Threads an [`encode_all`] call may use (1 or more).
    pub threads: usize,
}

impl Default for ThumbOptions {
    /// JPEG q85, WebP q85, AVIF q75 at speed 8, two threads.
    fn default() -> Self {
        ThumbOptions { jpeg_quality: 85, webp_quality: 85, avif_quality: 75, avif_speed: 8, threads: 2 }
    }
}

impl ThumbOptions {
    /// Refuses settings the encoders would panic on.
    pub fn validate(&self) -> Result<(), String> {
        for (name, q) in [("jpeg_quality", self.jpeg_quality), ("webp_quality", self.webp_quality)] {
            if !(1..=100).contains(&q) {
                return Err(format!("{name} must be 1..=100, not {q}"));
            }
        }
        if !(1..=100).contains(&self.avif_quality) {
            return Err(format!("avif_quality must be 1..=100, not {}", self.avif_quality));
        }
        if !(1..=10).contains(&self.avif_speed) {
            return Err(format!("avif_speed must be 1..=10, not {}", self.avif_speed));
        }
        if self.threads == 0 {
            return Err("threads must be at least 1".into());
        }
        Ok(())
    }
}

/// A decoded photo ready for resizing: upright sRGB pixels at least as large as the largest
/// rendition (or whole), and the full upright size.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Upright sRGB pixels, possibly reduced by DCT scaling.
    pub pixels: RgbImage,
    /// The photo's full upright width.
    pub width: u32,
    /// The photo's full upright height.
    pub height: u32,
    /// The sniffed format.
    pub format: Format,
    /// Whether an embedded profile was converted to sRGB.
    pub converted_profile: bool,
}

/// Decodes `bytes` for renditions up to `largest` px on the longest edge.
/// That is [`decode_reduced`] then [`to_srgb`].
pub fn prepare(bytes: &[u8], limits: &Limits, largest: u32) -> Result<Prepared, ImagingError> {
    Ok(to_srgb(decode_reduced(bytes, limits, largest)?))
}

/// Upright decoded pixels made sRGB (through their embedded profile, if any).
pub fn to_srgb(mut decoded: Decoded) -> Prepared {
    let (width, height) = decoded.upright;
    let converted_profile =
        decoded.icc.as_deref().is_some_and(|profile| crate::colour::rgb_to_srgb(&mut decoded.pixels, profile));
    Prepared { pixels: decoded.pixels, width, height, format: decoded.info.format, converted_profile }
}

/// The size of a rendition of a `width` x `height` image at `size` px on the longest
/// edge: never larger than the image, aspect ratio kept, at least 1 px a side.
pub fn fit_within(width: u32, height: u32, size: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= size {
        return (width, height);
    }
    let scale = |side: u32| ((u64::from(side) * u64::from(size) + u64::from(longest) / 2) / u64::from(longest)).max(1);
    (scale(width) as u32, scale(height) as u32)
}

/// One resized image per size in `sizes` (any order; returned in the same order), each
/// resized from the next larger one.
pub fn cascade(prepared: &Prepared, sizes: &[u32]) -> Result<Vec<(u32, RgbImage)>, ImagingError> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut out: Vec<Option<RgbImage>> = vec![None; sizes.len()];
    let mut from: Option<usize> = None;
    for i in order {
        let (w, h) = fit_within(prepared.width, prepared.height, sizes[i]);
        let src = from.and_then(|j| out[j].as_ref()).unwrap_or(&prepared.pixels);
        let img = if (src.width(), src.height()) == (w, h) {
            src.clone()
        } else {
            resize_whole(src, SourceRect::whole(src.width(), src.height()), w, h)?
        };
        out[i] = Some(img);
        from = Some(i);
    }
    Ok(sizes.iter().copied().zip(out.into_iter().map(|img| img.expect("every size resized"))).collect())
}

/// Encodes `img` as `format`.
pub fn encode(img: &RgbImage, format: ThumbFormat, opts: &ThumbOptions) -> Result<Vec<u8>, ImagingError> {
    opts.validate().map_err(ImagingError::Encode)?;
    let (w, h) = img.dimensions();
    match format {
        ThumbFormat::Jpeg => encode_rgb(img, &JpegOptions { quality: opts.jpeg_quality, dpi: 72, icc: None }),
        ThumbFormat::WebP => {
            if w > 16_383 || h > 16_383 {
                return Err(ImagingError::Encode(format!("a WebP cannot be {w}x{h}")));
            }
            let encoder = webp::Encoder::from_rgb(img.as_raw(), w, h);
            let out = encoder
                .encode_simple(false, f32::from(opts.webp_quality))
                .map_err(|e| ImagingError::Encode(format!("webp: {e:?}")))?;
            Ok(out.to_vec())
        }
        ThumbFormat::Avif => {
            let pixels: Vec<ravif::RGB8> =
                img.as_raw().chunks_exact(3).map(|p| ravif::RGB8::new(p[0], p[1], p[2])).collect();
            let encoded = ravif::Encoder::new()
                .with_quality(f32::from(opts.avif_quality))
                .with_speed(opts.avif_speed)
                .with_num_threads(Some(1))
                .with_bit_depth(ravif::BitDepth::Eight)
                .encode_rgb(ravif::Img::new(&pixels[..], w as usize, h as usize))
                .map_err(|e| ImagingError::Encode(format!("avif: {e}")))?;
            Ok(encoded.avif_file)
        }
    }
}

/// One encoded rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The size it was asked for (longest edge).
    pub size: u32,
    /// Its encoding.
    pub format: ThumbFormat,
    /// Actual width.
    pub width: u32,
    /// Actual height.
    pub height: u32,
    /// The file.
    pub bytes: Vec<u8>,
}

/// Encodes every `(size image, format)` pair on up to `opts.threads` threads. Results come
/// back in `images` × `formats` order; the first error wins.
pub fn encode_all(
    images: &[(u32, RgbImage)],
    formats: &[ThumbFormat],
    opts: &ThumbOptions,
) -> Result<Vec<Encoded>, ImagingError> {
    opts.validate().map_err(ImagingError::Encode)?;
    let work: Vec<(usize, &(u32, RgbImage), ThumbFormat)> = images
        .iter()
        .flat_map(|image| formats.iter().map(move |&f| (image, f)))
        .enumerate()
        .map(|(i, (image, f))| (i, image, f))
        .collect();
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<Encoded, ImagingError>>>> = Mutex::new(vec![None; work.len()]);
    let run = || {
        loop {
            let i = {
                let mut n = next.lock().expect("work counter");
                let i = *n;
                *n += 1;
                i
            };
            let Some(&(slot, (size, img), format)) = work.get(i) else { break };
            let result = encode(img, format, opts).map(|bytes| Encoded {
                size: *size,
                format,
                width: img.width(),
                height: img.height(),
                bytes,
            });
            results.lock().expect("results")[slot] = Some(result);
        }
    };
    let threads = opts.threads.min(work.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(run);
        }
        run();
    });
    results.into_inner().expect("results").into_iter().map(|r| r.expect("every pair encoded")).collect()
}

/// The settings every stored hash was made with.
pub const PHASH_PARAMS: &str = "image_hasher-3.1/median/dct/8x8";

/// The 64-bit DCT perceptual hash of `img` (see the module docs).
pub fn phash(img: &RgbImage) -> u64 {
    let hasher = image_hasher::HasherConfig::new()
        .hash_alg(image_hasher::HashAlg::Median)
        .preproc_dct()
        .hash_size(8, 8)
        .to_hasher();
    let hash = hasher.hash_image(&DynamicImage::ImageRgb8(img.clone()));
    let mut bits = [0u8; 8];
    for (b, h) in bits.iter_mut().zip(hash.as_bytes()) {
        *b = *h;
    }
    u64::from_be_bytes(bits)
}

/// The Hamming distance between two hashes.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_never_upscales_and_keeps_the_aspect() {
        let cases = [
            ((6000, 4000), 1024, (1024, 683)),
            ((4000, 6000), 256, (171, 256)),
            ((800, 600), 1024, (800, 600)),
            ((1024, 10), 512, (512, 5)),
            ((10_000, 1), 256, (256, 1)),
        ];
        for ((w, h), size, want) in cases {
            assert_eq!(fit_within(w, h, size), want, "{w}x{h} at {size}");
        }
    }

    #[test]
    fn options_the_encoders_would_panic_on_are_refused() {
        let ok = ThumbOptions::default();
        assert!(ok.validate().is_ok());
        for bad in [
            ThumbOptions { avif_speed: 0, ..ok },
            ThumbOptions { avif_speed: 11, ..ok },
            ThumbOptions { avif_quality: 0, ..ok },
            ThumbOptions { webp_quality: 101, ..ok },
            ThumbOptions { threads: 0, ..ok },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn distance_counts_bits() {
        assert_eq!(distance(0, u64::MAX), 64);
        assert_eq!(distance(0b1011, 0b0001), 2);
    }
}
