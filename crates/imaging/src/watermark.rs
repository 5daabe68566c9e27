//! The visible watermark free-plan outputs carry: "TINTYPE PREVIEW" tiled across the
//! image on a 30° diagonal in a built-in 5x7 bitmap font, scaled with the image so it
//! stays visible at print sizes. Ink pixels are blended towards white on dark pixels and
//! towards black on light ones. Whether a pixel is ink depends only on its absolute
//! coordinates and the image size, so a watermark drawn band by band equals one drawn on
//! the whole image.

use image::RgbImage;

/// The watermark. [`Watermark::default`] is the preview mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    text: &'static [u8],
    /// Blend weight of the ink, out of 256.
    alpha: u32,
}

impl Default for Watermark {
    fn default() -> Self {
        Watermark::preview()
    }
}

impl Watermark {
    /// "TINTYPE PREVIEW", ink at 40% opacity.
    pub fn preview() -> Self {
        Watermark { text: b"TINTYPE PREVIEW", alpha: 102 }
    }

    /// Draws the watermark onto a band: whole RGB8 rows of an `image_w` x `image_h`
    /// image, the first of them row `first_row`. A trailing partial row is left alone.
    pub fn apply(&self, band: &mut [u8], first_row: u32, image_w: u32, image_h: u32) {
        if image_w == 0 || image_h == 0 {
            return;
        }
        let layout = Layout::new(image_w, image_h, self.text.len());
        let row_bytes = image_w as usize * 3;
        for (i, row) in band.chunks_exact_mut(row_bytes).enumerate() {
            let y = i64::from(first_row) + i as i64;
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                if layout.is_ink(x as i64, y, self.text) {
                    self.blend(px);
                }
            }
        }
    }

    /// Draws the watermark onto a whole image.
    pub fn apply_image(&self, img: &mut RgbImage) {
        let (w, h) = img.dimensions();
        self.apply(img, 0, w, h);
    }

    fn blend(&self, px: &mut [u8]) {
        let luma = (299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2])) / 1000;
        let target = if luma < 128 { 255 } else { 0 };
        for c in px {
            *c = ((u32::from(*c) * (256 - self.alpha) + target * self.alpha + 128) >> 8) as u8;
        }
    }
}

/// Font units: each glyph is 5x7 in a 6-unit advance; lines repeat every 24 units, each
/// shifted by half a text length (a brick pattern); the text repeats with an 18-unit gap.
const ADVANCE: i64 = 6;
const GLYPH_ROWS: i64 = 7;
const LINE_PERIOD: i64 = 24;
const TEXT_GAP: i64 = 18;
/// Pixels per font unit: the shorter side / 128, at least 1 (16 px at 8x10 in, 300 dpi).
const UNITS_PER_SHORT_SIDE: u32 = 128;
/// Fixed-point 30° rotation (× 2^16).
const COS: i64 = 56_756; // cos 30° × 65536
const SIN: i64 = 32_768; // sin 30° × 65536

struct Layout {
    w: i64,
    h: i64,
    /// Pixels per font unit, in the half-pixel × 2^16 units `is_ink` works in.
    cell: i64,
    text_period: i64,
    text_units: i64,
}

impl Layout {
    fn new(image_w: u32, image_h: u32, text_len: usize) -> Self {
        let px_per_unit = i64::from((image_w.min(image_h) / UNITS_PER_SHORT_SIDE).max(1));
        let text_units = text_len as i64 * ADVANCE;
        Layout {
            w: image_w.into(),
            h: image_h.into(),
            cell: px_per_unit * 2 * 65_536,
            text_period: text_units + TEXT_GAP,
            text_units,
        }
    }

    /// Whether pixel (x, y) is ink: rotate its centre about the image centre (in exact
    /// half-pixel integers), find its font unit and look the glyph bit up.
    fn is_ink(&self, x: i64, y: i64, text: &[u8]) -> bool {
        let dx = 2 * x + 1 - self.w;
        let dy = 2 * y + 1 - self.h;
        // Along the text (rising to the right) and across it.
        let u = (dx * COS - dy * SIN).div_euclid(self.cell);
        let v = (dx * SIN + dy * COS).div_euclid(self.cell);
        let line = v.div_euclid(LINE_PERIOD);
        let row = v.rem_euclid(LINE_PERIOD);
        if row >= GLYPH_ROWS {
            return false;
        }
        let along = (u + line * (self.text_period / 2)).rem_euclid(self.text_period);
        if along >= self.text_units {
            return false;
        }
        let col = along % ADVANCE;
        let ch = text[(along / ADVANCE) as usize];
        col < 5 && glyph(ch)[row as usize] & (0b10000 >> col) != 0
    }
}

/// 5x7 glyphs, one byte a row, the high of 5 bits on the left. Other characters are blank.
fn glyph(ch: u8) -> [u8; 7] {
    match ch {
        b'E' => [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111],
        b'I' => [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        b'N' => [0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b10001],
        b'P' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000],
        b'R' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001],
        b'T' => [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100],
        b'V' => [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100],
        b'W' => [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010],
        b'Y' => [0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32, level: u8) -> RgbImage {
        RgbImage::from_pixel(w, h, image::Rgb([level; 3]))
    }

    /// The watermark changes between 2% and 30% of the pixels, and drawing it in bands
    /// of any height gives the same image as drawing it whole.
    fn check(w: u32, h: u32, level: u8) {
        let plain = grey(w, h, level);
        let mut whole = plain.clone();
        Watermark::preview().apply_image(&mut whole);
        let changed = plain.pixels().zip(whole.pixels()).filter(|(a, b)| a != b).count();
        let fraction = changed as f64 / f64::from(w * h);
        assert!((0.02..=0.30).contains(&fraction), "{w}x{h} at {level}: {fraction:.3} changed");
        for band_rows in [1, 13, 64, h / 3 + 1] {
            let mut banded = plain.clone().into_raw();
            for (i, band) in banded.chunks_mut(w as usize * 3 * band_rows as usize).enumerate() {
                Watermark::preview().apply(band, i as u32 * band_rows, w, h);
            }
            assert!(banded == *whole.as_raw(), "{w}x{h} in bands of {band_rows}");
        }
    }

    #[test]
    fn visible_and_band_independent() {
        let cases = [(240, 300, 200), (300, 240, 30), (97, 61, 128), (1200, 1500, 250), (1, 1, 0)];
        for (w, h, level) in cases {
            if w * h > 1 {
                check(w, h, level);
            }
        }
        // A 1x1 image does not panic.
        Watermark::default().apply_image(&mut grey(1, 1, 0));
    }

    #[test]
    fn ink_contrasts_with_the_pixel() {
        let wm = Watermark::preview();
        let cases = [([0, 0, 0], [102, 102, 102]), ([255, 255, 255], [153, 153, 153]), ([200, 0, 0], [222, 102, 102])];
        for (before, after) in cases {
            let mut px = before;
            wm.blend(&mut px);
            assert_eq!(px, after, "{before:?}");
        }
    }

    #[test]
    fn glyphs_scale_with_the_image() {
        // Ink runs along a row are about as long as a font unit: longer on bigger images.
        let longest_run = |w: u32, h: u32| {
            let mut img = grey(w, h, 255);
            Watermark::preview().apply_image(&mut img);
            img.rows()
                .map(|row| {
                    row.fold((0, 0), |(best, run), p| {
                        let run = if p.0[0] != 255 { run + 1 } else { 0 };
                        (best.max(run), run)
                    })
                    .0
                })
                .max()
                .unwrap()
        };
        let (small, large) = (longest_run(128, 160), longest_run(1280, 1600));
        assert!(large >= 4 * small, "runs {small} vs {large}");
    }
}
