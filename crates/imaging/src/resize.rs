//! Lanczos3 resampling of an RGB8 source rectangle into an output delivered in bands of
//! rows, so that a print output (A1 at 300 dpi is 209 MB as RGB) never exists whole in
//! memory.
//!
//! Each band is one fast_image_resize call (SIMD detected at run time; for 8-bit pixels it
//! runs the vertical pass first over just the columns the horizontal pass reads) on the
//! whole source with a fractional crop box: the band's share of the source rectangle.
//! Filter coefficients are computed against the whole image's bounds, so rows near a band
//! edge see the same source rows as in a whole resize. fast_image_resize picks its
//! fixed-point precision per call, so a banded output can differ from a whole resize by
//! a rounding step (at most 2 of 255 in the tests); there is no visible seam. (An earlier
//! version ran its own f32 vertical pass to be bit-identical; it was 5x slower than
//! fast_image_resize's AVX2 pass and dominated the print pack's time.)

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

use crate::ImagingError;
use crate::geometry::SourceRect;

/// A good default band height: 256 rows of a 10800 px wide output are 8.3 MB. Much
/// smaller bands are slower (fast_image_resize recomputes its coefficients per call).
pub const DEFAULT_BAND_ROWS: u32 = 256;

/// One band of output: the index of its first row and its RGB8 pixels,
/// `width * rows * 3` bytes.
pub type Band = (u32, Vec<u8>);

/// Resizes a source rectangle to `dst_w` x `dst_h`, yielding successive bands of at most
/// `band_rows` rows, top to bottom. Every band but the last has exactly `band_rows` rows.
pub struct BandResizer<'a> {
    pixels: &'a [u8],
    src_w: u32,
    src_h: u32,
    rect: SourceRect,
    dst_w: u32,
    dst_h: u32,
    band_rows: u32,
    next_row: u32,
    scratch: ResizeScratch,
}

/// Buffers a resizer reuses from band to band: fast_image_resize's own and one band of
/// output (see [`BandResizer::next_band`]); they can also pass from one output to the
/// next ([`BandResizer::with_scratch`], [`BandResizer::into_scratch`]).
pub struct ResizeScratch {
    resizer: Resizer,
    band: Vec<u8>,
}

impl Default for ResizeScratch {
    fn default() -> Self {
        ResizeScratch { resizer: Resizer::new(), band: Vec::new() }
    }
}

impl std::fmt::Debug for ResizeScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResizeScratch").field("band_capacity", &self.band.capacity()).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for BandResizer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BandResizer")
            .field("src", &(self.src_w, self.src_h))
            .field("rect", &self.rect)
            .field("dst", &(self.dst_w, self.dst_h))
            .field("band_rows", &self.band_rows)
            .field("next_row", &self.next_row)
            .finish_non_exhaustive()
    }
}

impl<'a> BandResizer<'a> {
    /// Resizes `rect` of `src`. Errors with [`ImagingError::InvalidGeometry`] for a zero
    /// output side or band height, or a rectangle that is empty or leaves the image.
    pub fn new(
        src: &'a RgbImage,
        rect: SourceRect,
        dst_w: u32,
        dst_h: u32,
        band_rows: u32,
    ) -> Result<Self, ImagingError> {
        Self::from_rgb8(src.as_raw(), src.width(), src.height(), rect, dst_w, dst_h, band_rows)
    }

    /// As [`BandResizer::new`], from packed RGB8 rows (`src_w * src_h * 3` bytes).
    pub fn from_rgb8(
        pixels: &'a [u8],
        src_w: u32,
        src_h: u32,
        rect: SourceRect,
        dst_w: u32,
        dst_h: u32,
        band_rows: u32,
    ) -> Result<Self, ImagingError> {
        let invalid = |why: String| Err(ImagingError::InvalidGeometry(why));
        if dst_w == 0 || dst_h == 0 || band_rows == 0 {
            return invalid(format!("output {dst_w}x{dst_h} in bands of {band_rows} rows"));
        }
        let expected = src_w as usize * src_h as usize * 3;
        if pixels.len() != expected {
            return invalid(format!("{src_w}x{src_h} RGB8 needs {expected} bytes, got {}", pixels.len()));
        }
        let (sw, sh) = (f64::from(src_w), f64::from(src_h));
        let SourceRect { left, top, width, height } = rect;
        let fits = [left, top, width, height].iter().all(|v| v.is_finite())
            && left >= 0.0
            && top >= 0.0
            && width > 0.0
            && height > 0.0
            && left < sw
            && top < sh
            && left + width <= sw
            && top + height <= sh;
        if !fits {
            return invalid(format!("{rect:?} is not inside a {src_w}x{src_h} image"));
        }
        let scratch = ResizeScratch::default();
        Ok(BandResizer { pixels, src_w, src_h, rect, dst_w, dst_h, band_rows, next_row: 0, scratch })
    }

    /// Output size (width, height).
    pub fn dimensions(&self) -> (u32, u32) {
        (self.dst_w, self.dst_h)
    }

    /// Uses buffers left by an earlier output.
    pub fn with_scratch(mut self, scratch: ResizeScratch) -> Self {
        self.scratch = scratch;
        self
    }

    /// Gives back the buffers for the next output.
    pub fn into_scratch(self) -> ResizeScratch {
        self.scratch
    }

    /// The next band, in the reused buffer: `(first row, pixels)`. The lending form of
    /// the iterator (which copies each band out).
    pub fn next_band(&mut self) -> Option<Result<(u32, &mut [u8]), ImagingError>> {
        if self.next_row >= self.dst_h {
            return None;
        }
        let first = self.next_row;
        let rows = self.band_rows.min(self.dst_h - first);
        self.next_row += rows;
        match self.band(first, rows) {
            Ok(()) => Some(Ok((first, self.scratch.band.as_mut_slice()))),
            Err(e) => {
                self.next_row = self.dst_h; // fused: nothing after an error
                Some(Err(e))
            }
        }
    }

    /// Resizes output rows `first..first + rows` out of order (samples for size
    /// estimates); does not move the iterator.
    pub fn rows_at(&mut self, first: u32, rows: u32) -> Result<&[u8], ImagingError> {
        if rows == 0 || first.checked_add(rows).is_none_or(|end| end > self.dst_h) {
            return Err(ImagingError::InvalidGeometry(format!("rows {first}+{rows} of {}", self.dst_h)));
        }
        self.band(first, rows)?;
        Ok(&self.scratch.band)
    }

    /// Resizes output rows `first..first + rows` into the scratch band.
    fn band(&mut self, first: u32, rows: u32) -> Result<(), ImagingError> {
        let invalid = |e: &dyn std::fmt::Display| {
            ImagingError::InvalidGeometry(format!("resizing rows {first}..{}: {e}", first + rows))
        };
        let src = ImageRef::new(self.src_w, self.src_h, self.pixels, PixelType::U8x3).map_err(|e| invalid(&e))?;
        let ResizeScratch { resizer, band } = &mut self.scratch;
        // Every byte is overwritten: resizing only writes when the band grows.
        band.resize(self.dst_w as usize * 3 * rows as usize, 0);
        let mut dst = Image::from_slice_u8(self.dst_w, rows, band, PixelType::U8x3).map_err(|e| invalid(&e))?;
        // This band's share of the source rectangle (fractional rows).
        let scale = self.rect.height / f64::from(self.dst_h);
        let top = self.rect.top + f64::from(first) * scale;
        let height = (f64::from(rows) * scale).min(self.rect.top + self.rect.height - top);
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .use_alpha(false)
            .crop(self.rect.left, top, self.rect.width, height);
        resizer.resize(&src, &mut dst, &options).map_err(|e| invalid(&e))?;
        Ok(())
    }
}

impl Iterator for BandResizer<'_> {
    type Item = Result<Band, ImagingError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_band().map(|band| band.map(|(first, pixels)| (first, pixels.to_vec())))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.dst_h - self.next_row).div_ceil(self.band_rows) as usize;
        (left, Some(left))
    }
}

/// Resizes `rect` of `src` to a whole `dst_w` x `dst_h` image at once: for small outputs
/// (previews, quality estimates); print outputs use [`BandResizer`].
pub fn resize_whole(src: &RgbImage, rect: SourceRect, dst_w: u32, dst_h: u32) -> Result<RgbImage, ImagingError> {
    let mut bands = BandResizer::new(src, rect, dst_w, dst_h, dst_h)?;
    let (_, pixels) = bands.next().unwrap_or_else(|| Ok((0, Vec::new())))?;
    RgbImage::from_raw(dst_w, dst_h, pixels)
        .ok_or_else(|| ImagingError::InvalidGeometry("resized buffer has the wrong size".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{Fit, source_rect};
    use tintype_codes::Coded;

    /// A deterministic noisy image (xorshift), the worst case for seams.
    pub(crate) fn noise(width: u32, height: u32, seed: u32) -> RgbImage {
        let mut state = seed.max(1);
        RgbImage::from_fn(width, height, |_, _| {
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            };
            image::Rgb([next(), next(), next()])
        })
    }

    fn collect(bands: BandResizer<'_>, band_rows: u32) -> Vec<u8> {
        let (w, h) = bands.dimensions();
        let mut out = Vec::new();
        for band in bands {
            let (first, pixels) = band.unwrap();
            assert_eq!(first as usize, out.len() / (w as usize * 3), "bands in order");
            let rows = pixels.len() / (w as usize * 3);
            assert!(rows as u32 == band_rows || first + rows as u32 == h, "only the last band is short");
            out.extend_from_slice(&pixels);
        }
        out
    }

    /// fast_image_resize on the whole output at once (both passes), for reference.
    fn fir_whole(img: &RgbImage, rect: SourceRect, dst: (u32, u32)) -> Vec<u8> {
        let src = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3).unwrap();
        let mut out = Image::new(dst.0, dst.1, PixelType::U8x3);
        let options = ResizeOptions::new().crop(rect.left, rect.top, rect.width, rect.height);
        Resizer::new().resize(&src, &mut out, &options).unwrap();
        out.into_vec()
    }

    /// Banded output for every band height is within one rounding step (±2) of
    /// fast_image_resize's whole resize, on noise (the worst case for seams).
    fn check(src: (u32, u32), dst: (u32, u32), fit: Fit) {
        let img = noise(src.0, src.1, src.0 * 31 + dst.1);
        let rect = source_rect(src.0, src.1, dst.0, dst.1, fit).unwrap();
        let whole = resize_whole(&img, rect, dst.0, dst.1).unwrap().into_raw();
        assert_eq!(whole.len(), dst.0 as usize * dst.1 as usize * 3);
        let reference = fir_whole(&img, rect, dst);
        assert_eq!(whole, reference, "{src:?} -> {dst:?} {fit:?}: one band is fast_image_resize's whole resize");
        for band_rows in [1, 7, 16, 64, dst.1.saturating_sub(1).max(1), dst.1 + 5] {
            let banded = collect(BandResizer::new(&img, rect, dst.0, dst.1, band_rows).unwrap(), band_rows);
            let worst = banded.iter().zip(&whole).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            assert!(worst <= 2, "{src:?} -> {dst:?} {fit:?} in bands of {band_rows}: off by {worst}");
        }
    }

    #[test]
    fn banded_equals_whole() {
        let focal = |x, y| Fit::Crop { focal: (x, y) };
        let cases = [
            ((300, 200), (120, 90), Fit::Stretch),    // downscale
            ((120, 80), (250, 333), Fit::Stretch),    // upscale, odd height
            ((301, 207), (97, 131), focal(0.2, 0.8)), // downscale, fractional crop
            ((90, 140), (211, 149), focal(1.0, 0.0)), // upscale, crop at a corner
            ((200, 100), (200, 100), Fit::Stretch),   // identity (copy path)
            ((200, 100), (200, 50), Fit::Stretch),    // vertical only
            ((640, 480), (101, 97), focal(0.0, 1.0)), // heavy downscale, corner
        ];
        for (src, dst, fit) in cases {
            check(src, dst, fit);
        }
    }

    #[test]
    fn resampling_keeps_flat_colour() {
        let img = RgbImage::from_pixel(50, 40, image::Rgb([200, 10, 99]));
        let out = resize_whole(&img, SourceRect::whole(50, 40), 173, 31).unwrap();
        assert!(out.pixels().all(|p| p.0 == [200, 10, 99]));
    }

    #[test]
    fn invalid_inputs() {
        let img = noise(10, 10, 1);
        let whole = SourceRect::whole(10, 10);
        let rect = |left, top, width, height| SourceRect { left, top, width, height };
        let cases = [
            (whole, (0, 10), 4),
            (whole, (10, 10), 0),
            (rect(5.0, 0.0, 6.0, 10.0), (10, 10), 4),
            (rect(0.0, -1.0, 5.0, 5.0), (10, 10), 4),
            (rect(0.0, 0.0, 0.0, 5.0), (10, 10), 4),
            (rect(0.0, 0.0, f64::NAN, 5.0), (10, 10), 4),
        ];
        for (rect, (w, h), band_rows) in cases {
            let err = BandResizer::new(&img, rect, w, h, band_rows).unwrap_err();
            assert_eq!(err.code(), "invalid_geometry", "{rect:?} {w}x{h} / {band_rows}");
        }
        let short = BandResizer::from_rgb8(&[0; 10], 2, 2, SourceRect::whole(2, 2), 1, 1, 1);
        assert_eq!(short.unwrap_err().code(), "invalid_geometry");
    }
}
