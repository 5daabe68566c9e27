//! Decoding an upload to upright 8-bit RGB, within [`Limits`]. [`decode`] runs [`probe`]
//! first, so a decompression bomb is refused from its header before anything is
//! allocated; the output buffer is then at most 3 bytes × `max_pixels` (4 for CMYK).
//!
//! Decoders: every JPEG goes to libjpeg (`mozjpeg`), straight to RGB (libjpeg expands
//! grey), or for CMYK and YCCK sources to CMYK, which `cmyk` turns into sRGB through the
//! embedded CMYK profile (the naive formula when there is none it can use), inverted first
//! when an Adobe APP14 segment says the samples are stored inverted (zune-jpeg, behind
//! `image`, assumes every CMYK file is, so plain CMYK comes out wrong there). libjpeg was
//! also the faster: a 24 MP baseline photo-like JPEG (14.7 MB) took 162 ms against 200 ms
//! through `image`/zune-jpeg on a 2-core machine (a very smooth 1.2 MB one: 70 ms against
//! 66 ms). Frame size, EXIF orientation, ICC chunks and the Adobe segment come from the
//! `jpeg` module's marker walker, the same one [`probe`] reads the size with. A JPEG with
//! no end-of-image marker after its first scan is truncated and refused as corrupt (both
//! decoders would pad it silently). PNG, WebP and TIFF go to the `image` crate with its
//! limits set too (sides at `max_side`; allocations at 8 bytes × `max_pixels` + 64 MiB,
//! the largest allowed image as 16-bit RGBA). Progressive JPEGs also need libjpeg's
//! coefficient buffer (about 3 bytes a pixel).
//!
//! After decoding: alpha is composited onto white, 16-bit samples are rounded to 8 bits,
//! grey is expanded to RGB, and the EXIF orientation is applied so the pixels come out
//! upright.
//!
//! ICC: [`Decoded::icc`] is the profile the output pixels are in, `None` meaning sRGB. The
//! embedded profile is kept only when it is an RGB profile (header colour space `RGB `)
//! and the source was not CMYK, i.e. when the output pixels are still in that profile's
//! space (a grey source expanded to R = G = B stays in an RGB profile's space). A CMYK
//! source's pixels are sRGB after conversion (exactly so through its profile, roughly so
//! by the naive formula), so it has none, and neither does a grey profile's source (the
//! pixels are RGB now). Callers treat a missing profile as sRGB, and the encoder then
//! embeds none.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageError, Pixel, Rgb, RgbImage};

use crate::limits::{Format, ImageInfo, Limits, probe};
use crate::{ImagingError, cmyk, jpeg};

/// A decoded image: upright 8-bit RGB pixels, the ICC profile they are in (if kept) and
/// what the header said (stored, pre-orientation dimensions).
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Upright pixels, alpha flattened onto white.
    pub pixels: RgbImage,
    /// The ICC profile the pixels are in: the embedded RGB profile when the pixels are
    /// still in its space, `None` for sRGB (a CMYK source converted to sRGB among them).
    pub icc: Option<Vec<u8>>,
    /// Format and stored dimensions from [`probe`].
    pub info: ImageInfo,
    /// The whole image's upright size: `info`'s, turned by the orientation (the pixels
    /// may be smaller after [`decode_reduced`]).
    pub upright: (u32, u32),
}

/// Decodes `bytes` to upright 8-bit RGB within `limits`.
///
/// Errors: everything [`probe`] refuses; [`ImagingError::Corrupt`] for truncated or
/// damaged data; [`ImagingError::UnsupportedFormat`] for a variant of a known format the
/// decoder lacks (a TIFF compression, say); [`ImagingError::ImageTooLarge`] when the
/// decoder would need more memory than the limits allow.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, ImagingError> {
    decode_reduced(bytes, limits, u32::MAX)
}

/// Like [`decode`], but a JPEG may come out smaller: libjpeg scales it by the smallest
/// `n/8` (DCT scaling, much faster than decoding whole and resizing) whose longest side
/// is still at least `longest` (or the whole image, when that is smaller). Other formats
/// decode whole. Thumbnails ask for the largest rendition's size.
pub fn decode_reduced(bytes: &[u8], limits: &Limits, longest: u32) -> Result<Decoded, ImagingError> {
    let info = probe(bytes, limits)?;
    if info.format == Format::Jpeg {
        let header = jpeg::read_header(bytes)?;
        if !header.has_end() {
            return Err(ImagingError::Corrupt("jpeg: truncated (no end-of-image marker)".into()));
        }
        let icc = header.icc_profile();
        let scale = dct_scale(info.width.max(info.height), longest);
        let orientation = header.orientation();
        let pixels = orient(decode_jpeg(bytes, &header, icc.as_deref(), scale)?, orientation);
        // CMYK comes out as sRGB: its profile (used or not) no longer describes the pixels.
        let icc = icc.filter(|profile| header.frame.components != 4 && is_rgb_profile(profile));
        let upright = upright(&info, orientation);
        return Ok(Decoded { pixels, icc, info, upright });
    }
    #[cfg(feature = "heic")]
    if info.format == Format::Heic {
        let (pixels, icc) = crate::heic::decode(bytes, &info)?;
        let icc = icc.filter(|profile| is_rgb_profile(profile));
        let upright = (info.width, info.height);
        return Ok(Decoded { pixels, icc, info, upright });
    }
    let (image, orientation, icc) = decode_with_image(bytes, &info, limits)?;
    let pixels = orient(to_rgb(image), orientation);
    let icc = icc.filter(|profile| is_rgb_profile(profile));
    let upright = upright(&info, orientation);
    Ok(Decoded { pixels, icc, info, upright })
}

/// The stored size, sides swapped by the orientations that turn the image a quarter.
fn upright(info: &ImageInfo, orientation: Orientation) -> (u32, u32) {
    use Orientation::{Rotate90, Rotate90FlipH, Rotate270, Rotate270FlipH};
    if matches!(orientation, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH) {
        (info.height, info.width)
    } else {
        (info.width, info.height)
    }
}

/// Bytes the `image` decoders may allocate: the largest allowed image at 8 bytes a pixel
/// (16-bit RGBA) plus 64 MiB of working memory.
fn alloc_budget(limits: &Limits) -> u64 {
    limits.max_pixels.saturating_mul(8).saturating_add(64 << 20)
}

/// Decodes with the `image` crate, returning the native pixels, the orientation and the
/// embedded profile. Unreadable metadata is ignored rather than fatal.
fn decode_with_image(
    bytes: &[u8],
    info: &ImageInfo,
    limits: &Limits,
) -> Result<(DynamicImage, Orientation, Option<Vec<u8>>), ImagingError> {
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(alloc_budget(limits));
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), info.format.to_image()?);
    reader.limits(image_limits);
    let error = |e| image_error(e, info);
    let mut decoder = reader.into_decoder().map_err(error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let needed = decoder.total_bytes();
    if needed > alloc_budget(limits) {
        return Err(ImagingError::ImageTooLarge {
            width: info.width,
            height: info.height,
            reason: format!("decoding needs {needed} bytes; the limit is {}", alloc_budget(limits)),
        });
    }
    let image = DynamicImage::from_decoder(decoder).map_err(error)?;
    Ok((image, orientation, icc))
}

/// Maps an `image` error: limits to too large, unsupported variants to unsupported,
/// everything else (bad data, early end of input) to corrupt.
fn image_error(error: ImageError, info: &ImageInfo) -> ImagingError {
    let name = info.format.name();
    match error {
        ImageError::Limits(e) => {
            ImagingError::ImageTooLarge { width: info.width, height: info.height, reason: e.to_string() }
        }
        ImageError::Unsupported(e) => ImagingError::UnsupportedFormat(format!("{name}: {e}")),
        other => ImagingError::Corrupt(format!("{name}: {other}")),
    }
}

/// An ICC profile whose header says it describes RGB data.
fn is_rgb_profile(profile: &[u8]) -> bool {
    profile.len() >= 128 && &profile[16..20] == b"RGB " && &profile[36..40] == b"acsp"
}

/// Applies an EXIF orientation to RGB pixels (flips in place, rotations by copy).
fn orient(pixels: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return pixels;
    }
    let mut image = DynamicImage::ImageRgb8(pixels);
    image.apply_orientation(orientation);
    image.into_rgb8()
}

/// Converts any decoded pixel type to 8-bit RGB, compositing alpha onto white.
fn to_rgb(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(img) => map(&img, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(img) => map(&img, |p| [over_white(p[0], p[1]); 3]),
        DynamicImage::ImageRgba8(img) => {
            map(&img, |p| [over_white(p[0], p[3]), over_white(p[1], p[3]), over_white(p[2], p[3])])
        }
        DynamicImage::ImageLuma16(img) => map(&img, |p| [to_8(p[0]); 3]),
        DynamicImage::ImageLumaA16(img) => map(&img, |p| [over_white16(p[0], p[1]); 3]),
        DynamicImage::ImageRgb16(img) => map(&img, |p| [to_8(p[0]), to_8(p[1]), to_8(p[2])]),
        DynamicImage::ImageRgba16(img) => {
            map(&img, |p| [over_white16(p[0], p[3]), over_white16(p[1], p[3]), over_white16(p[2], p[3])])
        }
        // Float TIFFs and future variants: through 16-bit RGBA, keeping the alpha.
        other => to_rgb(DynamicImage::ImageRgba16(other.to_rgba16())),
    }
}

/// A new RGB image with `f` applied to every pixel's channels.
fn map<P: Pixel>(src: &ImageBuffer<P, Vec<P::Subpixel>>, f: impl Fn(&[P::Subpixel]) -> [u8; 3]) -> RgbImage {
    let mut out = RgbImage::new(src.width(), src.height());
    for (o, s) in out.pixels_mut().zip(src.pixels()) {
        *o = Rgb(f(s.channels()));
    }
    out
}

/// An 8-bit sample with alpha `a`, composited onto white.
fn over_white(c: u8, a: u8) -> u8 {
    let (c, a) = (u32::from(c), u32::from(a));
    ((c * a + 255 * (255 - a) + 127) / 255) as u8
}

/// A 16-bit sample with alpha `a`, composited onto white, as 8 bits.
fn over_white16(c: u16, a: u16) -> u8 {
    let (c, a) = (u64::from(c), u64::from(a));
    to_8(((c * a + 65_535 * (65_535 - a) + 32_767) / 65_535) as u16)
}

/// A 16-bit sample rounded to 8 bits.
fn to_8(v: u16) -> u8 {
    ((u32::from(v) + 128) / 257) as u8
}

/// The smallest libjpeg scale `n` (output = ceil(side × n / 8)) that keeps the longest
/// side at least `longest`, or 8 (whole) when the image is not larger than that.
fn dct_scale(stored_longest: u32, longest: u32) -> u8 {
    let wanted = u64::from(longest.min(stored_longest));
    (1..=8u8).find(|&n| (u64::from(stored_longest) * u64::from(n)).div_ceil(8) >= wanted).unwrap_or(8)
}

/// Decodes a JPEG with libjpeg (`mozjpeg`) straight to RGB, or to CMYK (CMYK and YCCK
/// sources) converted to sRGB by `cmyk` with `profile`, the embedded ICC profile.
/// `scale` is libjpeg's `n/8` output scaling (8 = whole). libjpeg reports fatal errors by
/// unwinding; they are caught and read as corrupt data.
fn decode_jpeg(
    bytes: &[u8],
    header: &jpeg::JpegHeader<'_>,
    profile: Option<&[u8]>,
    scale: u8,
) -> Result<RgbImage, ImagingError> {
    let is_cmyk = header.frame.components == 4;
    let run = || -> std::io::Result<(usize, usize, Vec<u8>)> {
        let mut decompress = mozjpeg::Decompress::new_mem(bytes)?;
        decompress.scale(scale);
        let space = if is_cmyk { mozjpeg::ColorSpace::JCS_CMYK } else { mozjpeg::ColorSpace::JCS_RGB };
        let mut started = decompress.to_colorspace(space)?;
        let (width, height) = (started.width(), started.height());
        let samples = started.read_scanlines::<u8>()?;
        started.finish()?;
        Ok((width, height, samples))
    };
    let (width, height, mut samples) = match std::panic::catch_unwind(run) {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(e)) => return Err(ImagingError::Corrupt(format!("jpeg: {e}"))),
        Err(panic) => {
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            return Err(ImagingError::Corrupt(format!("jpeg: {message}")));
        }
    };
    if is_cmyk {
        // libjpeg, like the walker, takes any Adobe segment to mean inverted CMYK.
        cmyk::to_srgb(&mut samples, width * height, header.adobe.is_some(), profile)?;
    }
    let size = |v: usize| u32::try_from(v).map_err(|_| ImagingError::Corrupt("jpeg: size".into()));
    RgbImage::from_raw(size(width)?, size(height)?, samples)
        .ok_or_else(|| ImagingError::Corrupt("jpeg: short pixel data".into()))
}
