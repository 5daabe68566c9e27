//! Input limits and the header probe: what an upload is and how big it claims to be,
//! decided from its first bytes and its header alone, before a single pixel is decoded
//! (SPEC §5 "Bad input", §6). [`probe`] sniffs the format from magic bytes (JPEG, PNG,
//! WebP, TIFF and (with the `heic` feature) HEIC/HEIF are decoded; AVIF, GIF, BMP, PDF, SVG, JPEG XL and PSD are
//! recognised and refused by name; anything else is not an image), reads the stored
//! dimensions and checks them against [`Limits`]. JPEG headers are read by the `jpeg`
//! module's marker walker (the one `decode` reads the rest of a JPEG's structure with),
//! PNG's IHDR by hand, WebP and TIFF headers by the `image` crate's decoder constructors,
//! which read no pixels. A JPEG's dimensions are those stored, before EXIF orientation:
//! both sides are checked, so the order is moot.

use std::io::Cursor;

use crate::ImagingError;

/// Limits on every input. The defaults are SPEC §6's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes (25 MB).
    pub max_bytes: u64,
    /// Longest accepted side, in pixels (15,000).
    pub max_side: u32,
    /// Most pixels (width × height) a decode may produce (100 million).
    pub max_pixels: u64,
    /// Most memory one decode may hold at its peak, in bytes, as estimated from the
    /// header before any pixel is decoded: the decoder's own buffers (16-bit and float
    /// samples, alpha, CMYK, a progressive JPEG's coefficients), the 8-bit RGB output and
    /// the metadata read (320 MB: a 100 MP baseline JPEG fits, a 100 MP progressive or
    /// 16-bit one does not).
    pub max_decode_bytes: u64,
    /// Most scans a JPEG may have (100): each progressive scan is another pass over the
    /// whole image, so a small file of thousands of empty scans decodes for minutes.
    pub max_scans: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 25_000_000,
            max_side: 15_000,
            max_pixels: 100_000_000,
            max_decode_bytes: 320_000_000,
            max_scans: 100,
        }
    }
}

impl Limits {
    /// Refuses an estimated decode cost over [`Limits::max_decode_bytes`].
    pub(crate) fn check_cost(&self, width: u32, height: u32, cost: u64) -> Result<(), ImagingError> {
        if cost <= self.max_decode_bytes {
            return Ok(());
        }
        let (needs, limit) = (cost.div_ceil(1_000_000), self.max_decode_bytes / 1_000_000);
        let reason = format!("decoding it needs about {needs} MB; the limit is {limit} MB");
        Err(ImagingError::ImageTooLarge { width, height, reason })
    }
}

/// The image formats this crate decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JPEG (baseline or progressive; RGB, grayscale, CMYK or YCCK).
    Jpeg,
    /// PNG (any bit depth, with or without alpha).
    Png,
    /// WebP (lossy or lossless; the first frame of an animation).
    WebP,
    /// TIFF (the first image).
    Tiff,
    /// HEIC/HEIF (the primary image; with the `heic` feature, through libheif).
    Heic,
}

impl Format {
    /// Lower-case name, as used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::WebP => "webp",
            Format::Tiff => "tiff",
            Format::Heic => "heic",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
            Format::Tiff => "image/tiff",
            Format::Heic => "image/heic",
        }
    }

    /// The `image` crate's name for it (HEIC is not decoded there).
    pub(crate) fn to_image(self) -> Result<image::ImageFormat, ImagingError> {
        match self {
            Format::Jpeg => Ok(image::ImageFormat::Jpeg),
            Format::Png => Ok(image::ImageFormat::Png),
            Format::WebP => Ok(image::ImageFormat::WebP),
            Format::Tiff => Ok(image::ImageFormat::Tiff),
            Format::Heic => Err(ImagingError::UnsupportedFormat("heic".into())),
        }
    }
}

/// What the header says: the format and the stored (pre-orientation) dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    /// The sniffed format.
    pub format: Format,
    /// Stored width in pixels.
    pub width: u32,
    /// Stored height in pixels.
    pub height: u32,
}

/// Identifies `bytes` and checks them against `limits` without decoding any pixel.
///
/// Errors: [`ImagingError::Empty`], [`ImagingError::FileTooLarge`],
/// [`ImagingError::UnsupportedFormat`] (a recognised format we do not decode),
/// [`ImagingError::NotAnImage`], [`ImagingError::Corrupt`] (unreadable header) and
/// [`ImagingError::ImageTooLarge`] (a side over `max_side` or more than `max_pixels`).
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<ImageInfo, ImagingError> {
    if bytes.is_empty() {
        return Err(ImagingError::Empty);
    }
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(ImagingError::FileTooLarge { bytes: size, limit: limits.max_bytes });
    }
    let format = sniff(bytes)?;
    let (width, height) = match format {
        Format::Jpeg => {
            let frame = crate::jpeg::read_header(bytes)?.frame;
            (frame.width, frame.height)
        }
        Format::Png => png_dimensions(bytes)?,
        Format::WebP | Format::Tiff => header_dimensions(bytes, format)?,
        Format::Heic => heic_dimensions(bytes)?,
    };
    if width == 0 || height == 0 {
        return Err(ImagingError::Corrupt(format!("the {} header says {width}x{height}", format.name())));
    }
    check_size(width, height, limits)?;
    Ok(ImageInfo { format, width, height })
}

/// Refuses dimensions over `max_side` (either side) or `max_pixels`.
fn check_size(width: u32, height: u32, limits: &Limits) -> Result<(), ImagingError> {
    let too_large = |reason: String| ImagingError::ImageTooLarge { width, height, reason };
    if width.max(height) > limits.max_side {
        return Err(too_large(format!("the limit is {} pixels a side", limits.max_side)));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(too_large(format!("the limit is {} pixels in all", limits.max_pixels)));
    }
    Ok(())
}

/// Dimensions from a PNG's IHDR chunk, which must come first (read by hand: the PNG
/// decoder's constructor would also inflate an iCCP chunk before the first IDAT).
fn png_dimensions(bytes: &[u8]) -> Result<(u32, u32), ImagingError> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    match bytes.get(8..24) {
        Some(ihdr) if ihdr[..8] == *b"\0\0\0\x0dIHDR" => Ok((be32(&ihdr[8..12]), be32(&ihdr[12..16]))),
        _ => Err(ImagingError::Corrupt("png: no IHDR chunk".into())),
    }
}

/// Dimensions from the header, via the `image` crate's decoder constructor (which reads
/// the RIFF chunk headers or the first IFD; no pixel data).
fn header_dimensions(bytes: &[u8], format: Format) -> Result<(u32, u32), ImagingError> {
    // Default image limits (no side limit, 512 MiB for header metadata): we check the
    // sides ourselves so that an oversized header reads as `ImageTooLarge`, not corrupt.
    image::ImageReader::with_format(Cursor::new(bytes), format.to_image()?)
        .into_dimensions()
        .map_err(|e| ImagingError::Corrupt(format!("unreadable {} header: {e}", format.name())))
}

/// The primary image's size from the HEIF container (libheif parses the boxes; no pixel
/// is decoded).
#[cfg(feature = "heic")]
fn heic_dimensions(bytes: &[u8]) -> Result<(u32, u32), ImagingError> {
    crate::heic::dimensions(bytes)
}

/// Without the `heic` feature a HEIC is recognised and refused by name.
#[cfg(not(feature = "heic"))]
fn heic_dimensions(_bytes: &[u8]) -> Result<(u32, u32), ImagingError> {
    Err(ImagingError::UnsupportedFormat("heic (this build has no HEIC decoder)".into()))
}

/// Names the format from its magic bytes.
fn sniff(bytes: &[u8]) -> Result<Format, ImagingError> {
    let unsupported = |name: &str| Err(ImagingError::UnsupportedFormat(name.to_owned()));
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if at(0, &[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Ok(Format::WebP);
    }
    if at(0, b"II*\0") || at(0, b"MM\0*") || at(0, b"II+\0") || at(0, b"MM\0+") {
        return Ok(Format::Tiff);
    }
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return unsupported("gif");
    }
    if at(4, b"ftyp") {
        return match iso_brand(bytes) {
            Some("heic" | "heif") => Ok(Format::Heic),
            Some(name) => unsupported(name),
            None => Err(ImagingError::NotAnImage),
        };
    }
    if at(0, b"%PDF-") {
        return unsupported("pdf");
    }
    if at(0, b"BM")
        && bytes.get(14..18).is_some_and(|h| [12, 40, 52, 56, 64, 108, 124].contains(&h[0]) && h[1..] == [0, 0, 0])
    {
        return unsupported("bmp");
    }
    if at(0, &[0xFF, 0x0A]) || at(0, b"\0\0\0\x0cJXL \r\n\x87\n") {
        return unsupported("jxl");
    }
    if at(0, b"8BPS") {
        return unsupported("psd");
    }
    if looks_like_svg(bytes) {
        return unsupported("svg");
    }
    Err(ImagingError::NotAnImage)
}

/// The image format an ISO-BMFF `ftyp` box names (major or compatible brand), if any.
fn iso_brand(bytes: &[u8]) -> Option<&'static str> {
    let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let end = size.clamp(16, 256).min(bytes.len());
    // The major brand at 8..12, the minor version at 12..16, compatible brands after.
    let brands: Vec<&[u8]> =
        std::iter::once(bytes.get(8..12)?).chain(bytes.get(16..end).unwrap_or_default().chunks_exact(4)).collect();
    let has = |names: &[&[u8]]| brands.iter().any(|b| names.contains(b));
    if has(&[b"avif", b"avis"]) {
        Some("avif")
    } else if has(&[b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"]) {
        Some("heic")
    } else if has(&[b"mif1", b"msf1"]) {
        Some("heif")
    } else {
        None
    }
}

/// An XML or bare `<svg` document that opens an `<svg` element in its first kilobyte.
fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let head = &head[start..];
    (head.starts_with(b"<?xml") || head.starts_with(b"<svg") || head.starts_with(b"<!DOCTYPE svg"))
        && head.windows(4).any(|w| w.eq_ignore_ascii_case(b"<svg"))
}
