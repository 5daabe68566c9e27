//! Decoding an upload to upright 8-bit RGB, within [`Limits`]. [`decode`] runs [`probe`]
//! first, so a decompression bomb is refused from its header before anything is
//! allocated. Then the decode's peak memory is estimated from the header (the decoder's
//! buffers at their real sample depth, a progressive JPEG's coefficients, the output,
//! the metadata) and refused over `max_decode_bytes`; a JPEG's scans are counted and
//! refused over `max_scans`. The decoders read through an [`Interrupt`]-checked input,
//! so a cancel or the deadline ([`decode_with`]) stops even one long libjpeg call.
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
//! limits set too (sides at `max_side`; allocations at 16 MiB while it reads the metadata,
//! then at `max_decode_bytes`). Progressive JPEGs also need libjpeg's coefficient buffer
//! (about 3 bytes a pixel for 4:2:0), which the estimate counts.
//!
//! libjpeg reads the frame size itself before allocating anything; a size other than the
//! walker's is refused as corrupt, so the size checked is the size decoded.
//!
//! After decoding: alpha is composited onto white, 16-bit and float samples are rounded to
//! 8 bits, grey is expanded to RGB, and the EXIF orientation is applied so the pixels come
//! out upright, each row written straight to its upright place (`orient`): a JPEG's rows
//! as libjpeg delivers them (CMYK converted batch by batch), other formats' while
//! converting to 8-bit RGB. No second full-size copy is made, but for an 8-bit RGB PNG,
//! TIFF or WebP turned a quarter (counted in the estimate).
//!
//! An embedded RGB profile over [`MAX_KEPT_ICC`] is not kept: the pixels are converted to
//! sRGB through it instead, so outputs do not each carry megabytes of profile.
//!
//! ICC: [`Decoded::icc`] is the profile the output pixels are in, `None` meaning sRGB. The
//! embedded profile is kept only when it is an RGB profile (header colour space `RGB `)
//! and the source was not CMYK, i.e. when the output pixels are still in that profile's
//! space (a grey source expanded to R = G = B stays in an RGB profile's space). A CMYK
//! source's pixels are sRGB after conversion (exactly so through its profile, roughly so
//! by the naive formula), so it has none, and neither does a grey profile's source (the
//! pixels are RGB now). Callers treat a missing profile as sRGB, and the encoder then
//! embeds none.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageError, Pixel, RgbImage};

use crate::error::Step;
use crate::interrupt::{Checked, Interrupt};
use crate::limits::{Format, ImageInfo, Limits, probe};
use crate::orient::{Upright, swaps_sides};
use crate::{ImagingError, cmyk, jpeg};

/// Largest embedded RGB profile kept with the pixels (1 MiB); a larger one is applied
/// (the pixels converted to sRGB through it) and dropped.
pub const MAX_KEPT_ICC: usize = 1 << 20;

/// Working memory a decoder needs beyond the buffers counted (libjpeg's tables and row
/// buffers, a PNG decoder's inflate window and scanline, TIFF strips), in the estimate.
const WORKING_BYTES: u64 = 16 << 20;

/// Metadata the `image` decoders may read before the pixels (a PNG's inflated iCCP and
/// text chunks among them): more is refused rather than inflated.
const MAX_METADATA: u64 = 16 << 20;

/// Rows libjpeg decodes per batch: the interrupt is checked between batches.
const JPEG_BATCH_ROWS: usize = 16;

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
/// decoder would need more memory than the limits allow; [`ImagingError::TooComplex`]
/// for a JPEG of more scans than allowed or metadata too large to read.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, ImagingError> {
    decode_with(bytes, limits, u32::MAX, &Interrupt::never())
}

/// Like [`decode`], but a JPEG may come out smaller: libjpeg scales it by the smallest
/// `n/8` (DCT scaling, much faster than decoding whole and resizing) whose longest side
/// is still at least `longest` (or the whole image, when that is smaller). Other formats
/// decode whole. Thumbnails ask for the largest rendition's size.
pub fn decode_reduced(bytes: &[u8], limits: &Limits, longest: u32) -> Result<Decoded, ImagingError> {
    decode_with(bytes, limits, longest, &Interrupt::never())
}

/// [`decode_reduced`] that stops when `interrupt` says so: with
/// [`ImagingError::Cancelled`] or [`ImagingError::TimedOut`] (step
/// [`Step::Decode`]).
pub fn decode_with(
    bytes: &[u8],
    limits: &Limits,
    longest: u32,
    interrupt: &Interrupt,
) -> Result<Decoded, ImagingError> {
    interrupt.check(Step::Decode)?;
    let info = probe(bytes, limits)?;
    let decoded = match info.format {
        Format::Jpeg => decode_jpeg_file(bytes, info, limits, longest, interrupt)?,
        #[cfg(feature = "heic")]
        Format::Heic => {
            // libheif's interleaved RGB and our copy of it.
            let area = u64::from(info.width) * u64::from(info.height);
            limits.check_cost(info.width, info.height, area * 6 + WORKING_BYTES)?;
            let (pixels, icc) = crate::heic::decode(bytes, &info)?;
            let icc = icc.filter(|profile| is_rgb_profile(profile));
            let upright = (info.width, info.height);
            Decoded { pixels, icc, info, upright }
        }
        _ => {
            let (pixels, orientation, icc) = decode_with_image(bytes, &info, limits, interrupt)?;
            let icc = icc.filter(|profile| is_rgb_profile(profile));
            let upright = upright(&info, orientation);
            Decoded { pixels, icc, info, upright }
        }
    };
    interrupt.check(Step::Decode)?;
    Ok(apply_large_profile(decoded))
}

/// A JPEG: the scans counted, the cost checked, then libjpeg.
fn decode_jpeg_file(
    bytes: &[u8],
    info: ImageInfo,
    limits: &Limits,
    longest: u32,
    interrupt: &Interrupt,
) -> Result<Decoded, ImagingError> {
    let header = jpeg::read_header(bytes)?;
    let tail = header.tail();
    if !tail.end {
        return Err(ImagingError::Corrupt("jpeg: truncated (no end-of-image marker)".into()));
    }
    if tail.scans > limits.max_scans {
        return Err(ImagingError::TooComplex(format!("jpeg: {} scans; the limit is {}", tail.scans, limits.max_scans)));
    }
    let icc = header.icc_profile();
    let scale = dct_scale(info.width.max(info.height), longest);
    let scaled = |side: u32| (u64::from(side) * u64::from(scale)).div_ceil(8);
    let frame = header.frame;
    let coefficients = if frame.buffered(header.first_scan_components) { frame.coefficient_bytes() } else { 0 };
    let cost = scaled(info.width) * scaled(info.height) * 3
        + coefficients
        + icc.as_ref().map_or(0, |p| p.len() as u64)
        + WORKING_BYTES;
    limits.check_cost(info.width, info.height, cost)?;
    let orientation = header.orientation();
    let pixels = decode_jpeg(bytes, &header, icc.as_deref(), scale, orientation, interrupt)?;
    // CMYK comes out as sRGB: its profile (used or not) no longer describes the pixels.
    let icc = icc.filter(|profile| frame.components != 4 && is_rgb_profile(profile));
    let upright = upright(&info, orientation);
    Ok(Decoded { pixels, icc, info, upright })
}

/// A profile over [`MAX_KEPT_ICC`] applied to the pixels and dropped.
fn apply_large_profile(mut decoded: Decoded) -> Decoded {
    if let Some(profile) = decoded.icc.take_if(|profile| profile.len() > MAX_KEPT_ICC) {
        // One that does not convert is dropped all the same: the pixels read as sRGB.
        crate::colour::rgb_to_srgb(&mut decoded.pixels, &profile);
    }
    decoded
}

/// The stored size, sides swapped by the orientations that turn the image a quarter.
fn upright(info: &ImageInfo, orientation: Orientation) -> (u32, u32) {
    if swaps_sides(orientation) { (info.height, info.width) } else { (info.width, info.height) }
}

/// Decodes with the `image` crate to upright 8-bit RGB, returning the orientation and
/// the embedded profile. Unreadable metadata is ignored rather than fatal.
fn decode_with_image(
    bytes: &[u8],
    info: &ImageInfo,
    limits: &Limits,
    interrupt: &Interrupt,
) -> Result<(RgbImage, Orientation, Option<Vec<u8>>), ImagingError> {
    let stopped = Cell::new(None);
    let error = |e| stopped.take().unwrap_or_else(|| image_error(e, info));
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    // What the decoder reads before the pixels (a PNG's iCCP is inflated then) is held
    // to the metadata allowance; the pixels then get the whole budget.
    image_limits.max_alloc = Some(MAX_METADATA.min(limits.max_decode_bytes));
    let input = Checked::new(bytes, interrupt, &stopped);
    let mut reader = image::ImageReader::with_format(input, info.format.to_image()?);
    reader.limits(image_limits.clone());
    let mut decoder = reader.into_decoder().map_err(|e| match (stopped.take(), e) {
        (Some(stop), _) => stop,
        (None, ImageError::Limits(_)) => {
            ImagingError::TooComplex(format!("{}: metadata over {} MiB", info.format.name(), MAX_METADATA >> 20))
        }
        (None, other) => image_error(other, info),
    })?;
    image_limits.max_alloc = Some(limits.max_decode_bytes);
    decoder.set_limits(image_limits).map_err(error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let native = decoder.total_bytes();
    let copies = decoder.color_type() != image::ColorType::Rgb8 || swaps_sides(orientation);
    let output = if copies { u64::from(info.width) * u64::from(info.height) * 3 } else { 0 };
    let metadata = icc.as_ref().map_or(0, |p| p.len() as u64);
    limits.check_cost(info.width, info.height, native + output + metadata + WORKING_BYTES)?;
    let image = DynamicImage::from_decoder(decoder).map_err(error)?;
    interrupt.check(Step::Decode)?;
    Ok((to_upright_rgb(image, orientation)?, orientation, icc))
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

/// Any decoded pixel type as upright 8-bit RGB, alpha composited onto white. 8-bit RGB
/// that stays the same shape is turned in place; everything else is converted row by
/// row into its upright place.
fn to_upright_rgb(image: DynamicImage, orientation: Orientation) -> Result<RgbImage, ImagingError> {
    let image = match image {
        DynamicImage::ImageRgb8(rgb) if !swaps_sides(orientation) => {
            let mut image = DynamicImage::ImageRgb8(rgb);
            image.apply_orientation(orientation);
            return Ok(image.into_rgb8());
        }
        other => other,
    };
    let (width, height) = (image.width(), image.height());
    let mut out = Upright::new(width, height, orientation)?;
    let f32_8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let over_white_f = |c: f32, a: f32| f32_8(c.clamp(0.0, 1.0) * a.clamp(0.0, 1.0) + (1.0 - a.clamp(0.0, 1.0)));
    match image {
        DynamicImage::ImageRgb8(img) => rows(&img, &mut out, |p| [p[0], p[1], p[2]]),
        DynamicImage::ImageLuma8(img) => rows(&img, &mut out, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(img) => rows(&img, &mut out, |p| [over_white(p[0], p[1]); 3]),
        DynamicImage::ImageRgba8(img) => {
            rows(&img, &mut out, |p| [over_white(p[0], p[3]), over_white(p[1], p[3]), over_white(p[2], p[3])])
        }
        DynamicImage::ImageLuma16(img) => rows(&img, &mut out, |p| [to_8(p[0]); 3]),
        DynamicImage::ImageLumaA16(img) => rows(&img, &mut out, |p| [over_white16(p[0], p[1]); 3]),
        DynamicImage::ImageRgb16(img) => rows(&img, &mut out, |p| [to_8(p[0]), to_8(p[1]), to_8(p[2])]),
        DynamicImage::ImageRgba16(img) => {
            rows(&img, &mut out, |p| [over_white16(p[0], p[3]), over_white16(p[1], p[3]), over_white16(p[2], p[3])])
        }
        DynamicImage::ImageRgb32F(img) => rows(&img, &mut out, |p| [f32_8(p[0]), f32_8(p[1]), f32_8(p[2])]),
        DynamicImage::ImageRgba32F(img) => {
            rows(&img, &mut out, |p| [over_white_f(p[0], p[3]), over_white_f(p[1], p[3]), over_white_f(p[2], p[3])])
        }
        // Future variants: through 16-bit RGBA, keeping the alpha.
        other => return to_upright_rgb(DynamicImage::ImageRgba16(other.to_rgba16()), orientation),
    }
    Ok(out.finish())
}

/// Converts `src` row by row with `f` (channels to RGB) into `out`.
fn rows<P: Pixel>(src: &ImageBuffer<P, Vec<P::Subpixel>>, out: &mut Upright, f: impl Fn(&[P::Subpixel]) -> [u8; 3]) {
    let mut row = vec![0u8; src.width() as usize * 3];
    for (y, pixels) in src.rows().enumerate() {
        for (o, p) in row.chunks_exact_mut(3).zip(pixels) {
            o.copy_from_slice(&f(p.channels()));
        }
        out.put_rows(y, &row);
    }
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
/// sources) converted to sRGB by `cmyk` with `profile`, the embedded ICC profile, batch
/// by batch into the upright image. `scale` is libjpeg's `n/8` output scaling (8 =
/// whole). libjpeg reports fatal errors by unwinding; they are caught and read as
/// corrupt data, or as the interrupt's stop when that is what failed the read.
fn decode_jpeg(
    bytes: &[u8],
    header: &jpeg::JpegHeader<'_>,
    profile: Option<&[u8]>,
    scale: u8,
    orientation: Orientation,
    interrupt: &Interrupt,
) -> Result<RgbImage, ImagingError> {
    let is_cmyk = header.frame.components == 4;
    let stopped = Cell::new(None);
    let input = Checked::new(bytes, interrupt, &stopped);
    let run = AssertUnwindSafe(|| -> Result<RgbImage, ImagingError> {
        let io = |e: std::io::Error| ImagingError::Corrupt(format!("jpeg: {e}"));
        let mut decompress = mozjpeg::Decompress::new_reader(input).map_err(io)?;
        let (frame_w, frame_h) = (header.frame.width as usize, header.frame.height as usize);
        if decompress.size() != (frame_w, frame_h) {
            let (w, h) = decompress.size();
            return Err(ImagingError::Corrupt(format!(
                "jpeg: libjpeg reads the frame as {w}x{h}, the header as {frame_w}x{frame_h}"
            )));
        }
        decompress.scale(scale);
        let space = if is_cmyk { mozjpeg::ColorSpace::JCS_CMYK } else { mozjpeg::ColorSpace::JCS_RGB };
        let mut started = decompress.to_colorspace(space).map_err(io)?;
        let (width, height) = (started.width(), started.height());
        let size = |v: usize| u32::try_from(v).map_err(|_| ImagingError::Corrupt("jpeg: size".into()));
        let mut out = Upright::new(size(width)?, size(height)?, orientation)?;
        let converter = is_cmyk.then(|| cmyk::Converter::new(header.adobe.is_some(), profile));
        let channels = if is_cmyk { 4 } else { 3 };
        let mut batch = vec![0u8; width * channels * JPEG_BATCH_ROWS];
        let mut y = 0;
        while y < height {
            interrupt.check(Step::Decode)?;
            let rows = JPEG_BATCH_ROWS.min(height - y);
            let samples = started.read_scanlines_into(&mut batch[..rows * width * channels]).map_err(io)?;
            if let Some(converter) = &converter {
                // libjpeg, like the walker, takes any Adobe segment to mean inverted CMYK.
                converter.convert(samples, rows * width)?;
            }
            out.put_rows(y, &batch[..rows * width * 3]);
            y += rows;
        }
        started.finish().map_err(io)?;
        Ok(out.finish())
    });
    match catch_unwind(run) {
        Ok(Ok(image)) => Ok(image),
        Ok(Err(e)) => Err(stopped.take().unwrap_or(e)),
        Err(panic) => Err(stopped.take().unwrap_or_else(|| {
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            ImagingError::Corrupt(format!("jpeg: {message}"))
        })),
    }
}
