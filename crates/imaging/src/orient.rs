//! EXIF orientation applied while the pixels are produced, not after: decoded rows are
//! written straight to their upright place, so an image turned a quarter never exists
//! twice in memory. For every orientation, a stored row maps to a line of the upright
//! image (a row or a column, forwards or backwards), so one base and one stride place it.

use image::RgbImage;
use image::metadata::Orientation;

use crate::ImagingError;

/// An upright RGB image being filled from stored rows (top to bottom, in any batches).
pub(crate) struct Upright {
    image: Vec<u8>,
    orientation: Orientation,
    /// Stored (pre-orientation) size.
    width: usize,
    height: usize,
}

/// Whether `orientation` turns the image a quarter (the sides swap).
pub(crate) fn swaps_sides(orientation: Orientation) -> bool {
    use Orientation::{Rotate90, Rotate90FlipH, Rotate270, Rotate270FlipH};
    matches!(orientation, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
}

impl Upright {
    /// Room for a `width` x `height` (stored) image turned by `orientation`; refused as
    /// too large when the memory cannot be had.
    pub(crate) fn new(width: u32, height: u32, orientation: Orientation) -> Result<Self, ImagingError> {
        let (w, h) = (width as usize, height as usize);
        let len = w.checked_mul(h).and_then(|n| n.checked_mul(3)).ok_or_else(|| too_large(width, height))?;
        let mut image = Vec::new();
        image.try_reserve_exact(len).map_err(|_| too_large(width, height))?;
        image.resize(len, 0);
        Ok(Upright { image, orientation, width: w, height: h })
    }

    /// Places stored rows `first..` (`rows` holds whole rows of 3-byte pixels).
    pub(crate) fn put_rows(&mut self, first: usize, rows: &[u8]) {
        use Orientation::*;
        let (w, h) = (self.width as isize, self.height as isize);
        for (i, row) in rows.chunks_exact(self.width * 3).enumerate() {
            let y = (first + i) as isize;
            if y >= h {
                return;
            }
            // Upright pixel index of stored pixel (0, y), and the step per stored x.
            let (base, step) = match self.orientation {
                NoTransforms => (y * w, 1),
                FlipHorizontal => (y * w + w - 1, -1),
                Rotate180 => ((h - 1 - y) * w + w - 1, -1),
                FlipVertical => ((h - 1 - y) * w, 1),
                Rotate90 => (h - 1 - y, h),
                Rotate270 => ((w - 1) * h + y, -h),
                Rotate90FlipH => (y, h),
                Rotate270FlipH => ((w - 1) * h + h - 1 - y, -h),
            };
            if step == 1 {
                let at = base as usize * 3;
                self.image[at..at + row.len()].copy_from_slice(row);
                continue;
            }
            for (x, pixel) in row.chunks_exact(3).enumerate() {
                let at = (base + x as isize * step) as usize * 3;
                self.image[at..at + 3].copy_from_slice(pixel);
            }
        }
    }

    /// The upright image.
    pub(crate) fn finish(self) -> RgbImage {
        let (w, h) = if swaps_sides(self.orientation) { (self.height, self.width) } else { (self.width, self.height) };
        RgbImage::from_raw(w as u32, h as u32, self.image).expect("the buffer was sized for the image")
    }
}

fn too_large(width: u32, height: u32) -> ImagingError {
    ImagingError::ImageTooLarge { width, height, reason: "not enough memory to decode it".into() }
}

#[cfg(test)]
mod tests {
    use image::DynamicImage;

    use super::*;

    #[test]
    fn every_orientation_matches_the_image_crates_whole_image_transform() {
        let (w, h) = (7u32, 4u32);
        let stored = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, (x * 16 + y) as u8]));
        for orientation in [
            Orientation::NoTransforms,
            Orientation::FlipHorizontal,
            Orientation::Rotate180,
            Orientation::FlipVertical,
            Orientation::Rotate90,
            Orientation::Rotate270,
            Orientation::Rotate90FlipH,
            Orientation::Rotate270FlipH,
        ] {
            let mut expected = DynamicImage::ImageRgb8(stored.clone());
            expected.apply_orientation(orientation);
            let mut upright = Upright::new(w, h, orientation).expect("room");
            // In uneven batches, as a decoder delivers them.
            upright.put_rows(0, &stored.as_raw()[..3 * w as usize]);
            upright.put_rows(1, &stored.as_raw()[3 * w as usize..]);
            assert_eq!(upright.finish(), expected.into_rgb8(), "{orientation:?}");
        }
    }
}
