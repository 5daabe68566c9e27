//! Baseline JPEG encoding with mozjpeg, fed band by band so a print output never exists
//! whole in memory: [`JpegWriter`] takes rows in order and streams compressed bytes to
//! any `io::Write`. Settings are mozjpeg's fastest (libjpeg-turbo-compatible) profile:
//! baseline, Huffman tables not optimised (optimising them makes libjpeg buffer every
//! coefficient of the image), no trellis, no progressive scans. The JFIF header carries
//! the density in dots per inch; an ICC profile is written as chunked APP2 markers.
//!
//! libjpeg reports errors by unwinding; every call into it is wrapped in `catch_unwind`
//! and turned into [`ImagingError::Encode`].

use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use image::RgbImage;
use mozjpeg::{ColorSpace, Compress, Marker, PixelDensity, PixelDensityUnit};

use crate::ImagingError;
use crate::resize::Band;

/// JPEG settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegOptions {
    /// libjpeg quality, 1..=100.
    pub quality: u8,
    /// Written to the JFIF header as dots per inch (x and y), 1 or more.
    pub dpi: u16,
    /// An ICC profile to embed (APP2 `ICC_PROFILE` markers), if any.
    pub icc: Option<Vec<u8>>,
}

impl Default for JpegOptions {
    /// Quality 80, 300 dpi, no profile.
    fn default() -> Self {
        JpegOptions { quality: 80, dpi: 300, icc: None }
    }
}

/// The largest side a JPEG can have.
pub const MAX_SIDE: u32 = 65_500;

/// A JPEG being written: RGB8 rows go in top to bottom, compressed bytes come out to the
/// writer as they are made. Dropping it before [`JpegWriter::finish`] abandons the file.
pub struct JpegWriter<W: Write> {
    compress: Option<mozjpeg::compress::CompressStarted<Counting<W>>>,
    width: u32,
    height: u32,
    next_row: u32,
}

impl<W: Write> std::fmt::Debug for JpegWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpegWriter")
            .field("size", &(self.width, self.height))
            .field("next_row", &self.next_row)
            .finish_non_exhaustive()
    }
}

impl<W: Write> JpegWriter<W> {
    /// Starts a `width` x `height` JPEG: writes the headers (JFIF with the density, the
    /// ICC profile) to `out`.
    pub fn new(width: u32, height: u32, opts: &JpegOptions, out: W) -> Result<Self, ImagingError> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(encode_error(format!("a JPEG cannot be {width}x{height}")));
        }
        if !(1..=100).contains(&opts.quality) {
            return Err(encode_error(format!("quality {} is outside 1..=100", opts.quality)));
        }
        if opts.dpi == 0 {
            return Err(encode_error("dpi must be at least 1".into()));
        }
        if opts.icc.as_ref().is_some_and(|icc| icc.len() > 255 * ICC_CHUNK) {
            return Err(encode_error("the ICC profile is too large to embed".into()));
        }
        let compress = guarded(move || -> io::Result<_> {
            let mut c = Compress::new(ColorSpace::JCS_RGB);
            // Resets to libjpeg defaults: baseline, no trellis, no scan optimisation.
            c.set_fastest_defaults();
            c.set_optimize_scans(false);
            c.set_optimize_coding(false);
            c.set_quality(f32::from(opts.quality));
            c.set_size(width as usize, height as usize);
            c.set_pixel_density(PixelDensity { unit: PixelDensityUnit::Inches, x: opts.dpi, y: opts.dpi });
            let mut started = c.start_compress(Counting { inner: out, bytes: 0 })?;
            if let Some(icc) = opts.icc.as_deref() {
                for marker in icc_markers(icc) {
                    started.write_marker(Marker::APP(2), &marker);
                }
            }
            Ok(started)
        })?
        .map_err(|e| encode_error(e.to_string()))?;
        Ok(JpegWriter { compress: Some(compress), width, height, next_row: 0 })
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> u32 {
        self.next_row
    }

    /// Writes whole rows starting at `first_row`, which must be the next row expected.
    /// After an error the writer is spent: every later call fails.
    pub fn write_rows(&mut self, first_row: u32, pixels: &[u8]) -> Result<(), ImagingError> {
        let row_bytes = self.width as usize * 3;
        let rows = pixels.len() / row_bytes;
        let problem = if first_row != self.next_row {
            Some(format!("rows must come in order: got row {first_row}, expected {}", self.next_row))
        } else if pixels.is_empty() || !pixels.len().is_multiple_of(row_bytes) {
            Some(format!("{} bytes are not whole rows of {row_bytes} bytes", pixels.len()))
        } else if self.next_row as usize + rows > self.height as usize {
            Some(format!("rows {first_row}..{} are past the height {}", first_row as usize + rows, self.height))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.compress = None;
            return Err(encode_error(problem));
        }
        let compress = self.compress.as_mut().ok_or_else(spent)?;
        match guarded(|| compress.write_scanlines(pixels)) {
            Ok(Ok(())) => {
                self.next_row += rows as u32;
                Ok(())
            }
            Ok(Err(e)) => {
                self.compress = None;
                Err(encode_error(e.to_string()))
            }
            Err(e) => {
                self.compress = None;
                Err(e)
            }
        }
    }

    /// Writes the end of the file; fails unless every row was written. Returns the writer
    /// and the number of bytes written to it.
    pub fn finish(mut self) -> Result<(W, u64), ImagingError> {
        let compress = self.compress.take().ok_or_else(spent)?;
        if self.next_row != self.height {
            return Err(encode_error(format!("got {} rows of {}", self.next_row, self.height)));
        }
        let counting = guarded(move || compress.finish())?.map_err(|e| encode_error(e.to_string()))?;
        Ok((counting.inner, counting.bytes))
    }
}

/// Encodes a whole image of `width` x `height` from bands (as [`crate::resize::BandResizer`]
/// yields them), streaming to `out`; returns the bytes written. The first error from
/// the bands, a band out of order or a wrong total row count is an error, never a panic.
pub fn encode_bands<W: Write>(
    width: u32,
    height: u32,
    opts: &JpegOptions,
    bands: impl IntoIterator<Item = Result<Band, ImagingError>>,
    out: W,
) -> Result<u64, ImagingError> {
    let mut writer = JpegWriter::new(width, height, opts, out)?;
    for band in bands {
        let (first_row, pixels) = band?;
        writer.write_rows(first_row, &pixels)?;
    }
    writer.finish().map(|(_, bytes): (W, u64)| bytes)
}

/// Encodes a small image held whole (previews, quality estimates).
pub fn encode_rgb(img: &RgbImage, opts: &JpegOptions) -> Result<Vec<u8>, ImagingError> {
    let mut writer = JpegWriter::new(img.width(), img.height(), opts, Vec::new())?;
    writer.write_rows(0, img.as_raw())?;
    writer.finish().map(|(bytes, _)| bytes)
}

/// The JFIF APP0 density of a JPEG: (unit, x, y), unit 1 = dots per inch, 2 = per cm,
/// 0 = aspect ratio only. `None` if the bytes are not a JPEG or have no JFIF header
/// before the image data.
pub fn jfif_density(jpeg: &[u8]) -> Option<(u8, u16, u16)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    loop {
        if *jpeg.get(pos)? != 0xFF {
            return None;
        }
        while *jpeg.get(pos)? == 0xFF {
            pos += 1; // fill bytes
        }
        let marker = *jpeg.get(pos)?;
        pos += 1;
        match marker {
            0x01 | 0xD0..=0xD8 => continue, // markers without a length
            0xD9 | 0xDA => return None,     // end of image, start of scan
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*jpeg.get(pos)?, *jpeg.get(pos + 1)?]));
        let body = jpeg.get(pos + 2..pos + len.max(2))?;
        if marker == 0xE0 && body.len() >= 12 && body.starts_with(b"JFIF\0") {
            let be = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
            return Some((body[7], be(8), be(10)));
        }
        pos += len.max(2);
    }
}

/// ICC profile bytes per APP2 marker: 65,533 payload bytes less the 14-byte header.
const ICC_CHUNK: usize = 65_519;

/// The APP2 payloads carrying an ICC profile: `ICC_PROFILE\0`, sequence number (from 1),
/// count, data. (mozjpeg 0.10's `write_icc_profile` numbers from 0, which readers such
/// as zune-jpeg reject as corrupt.)
fn icc_markers(icc: &[u8]) -> Vec<Vec<u8>> {
    let count = icc.len().div_ceil(ICC_CHUNK);
    icc.chunks(ICC_CHUNK)
        .enumerate()
        .map(|(i, chunk)| {
            let mut marker = Vec::with_capacity(14 + chunk.len());
            marker.extend_from_slice(b"ICC_PROFILE\0");
            marker.extend([(i + 1) as u8, count as u8]);
            marker.extend_from_slice(chunk);
            marker
        })
        .collect()
}

/// A writer that counts the bytes it passes on.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn encode_error(message: String) -> ImagingError {
    ImagingError::Encode(message)
}

fn spent() -> ImagingError {
    encode_error("the JPEG writer already failed or finished".into())
}

/// Runs a call into libjpeg, turning its unwinding errors ("libjpeg fatal error: ...")
/// into [`ImagingError::Encode`]. Any other panic (from the caller's writer, say) keeps
/// unwinding.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ImagingError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| match payload.downcast::<String>() {
        Ok(message) if message.starts_with("libjpeg") => encode_error(*message),
        Ok(other) => resume_unwind(other),
        Err(other) => resume_unwind(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tintype_codes::Coded;

    fn check(jpeg: &[u8], expected: Option<(u8, u16, u16)>) {
        assert_eq!(jfif_density(jpeg), expected, "{jpeg:02x?}");
    }

    const JFIF_300: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 1, 0x01, 0x2C, 0x01, 0x2C, 0, 0, 0xFF,
        0xD9,
    ];

    #[test]
    fn parses_jfif_density() {
        check(JFIF_300, Some((1, 300, 300)));
        // An APP1 segment before the JFIF one, and fill bytes.
        let mut with_app1 = vec![0xFF, 0xD8, 0xFF, 0xFF, 0xE1, 0x00, 0x04, 0xAB, 0xCD];
        with_app1.extend_from_slice(&JFIF_300[2..]);
        check(&with_app1, Some((1, 300, 300)));
        check(b"", None);
        check(b"\x89PNG\r\n", None);
        check(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2], None); // scan before any JFIF
        check(&JFIF_300[..12], None); // truncated
        check(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00], None); // bad length, no loop
    }

    #[test]
    fn options_are_checked() {
        let cases = [
            (0, 10, JpegOptions::default()),
            (10, MAX_SIDE + 1, JpegOptions::default()),
            (10, 10, JpegOptions { quality: 0, ..JpegOptions::default() }),
            (10, 10, JpegOptions { quality: 101, ..JpegOptions::default() }),
            (10, 10, JpegOptions { dpi: 0, ..JpegOptions::default() }),
        ];
        for (w, h, opts) in cases {
            let err = JpegWriter::new(w, h, &opts, Vec::new()).unwrap_err();
            assert_eq!(err.code(), "encode_failed", "{w}x{h} {opts:?}");
        }
    }
}
