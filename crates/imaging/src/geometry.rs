//! From a source size to a target size: which part of the source is resampled. `Stretch`
//! (the print default, deliberately no cropping) takes the whole image; `Crop` takes the
//! largest rectangle with the target's aspect ratio, placed so the focal point sits as
//! close to its centre as the image allows.

use crate::ImagingError;

/// How a source is fitted to a target size.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fit {
    /// The whole source, scaled to the target (aspect ratio not kept). The default.
    #[default]
    Stretch,
    /// The largest part of the source with the target's aspect ratio.
    Crop {
        /// The point to keep central, as fractions (x, y) of the source width and height,
        /// each in 0..=1; (0.5, 0.5) is the centre.
        focal: (f64, f64),
    },
}

impl Fit {
    /// A centred crop.
    pub const CROP_CENTRE: Fit = Fit::Crop { focal: (0.5, 0.5) };
}

/// A rectangle of source pixels, in (possibly fractional) source pixel units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceRect {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl SourceRect {
    /// The whole of a `width` x `height` image.
    pub fn whole(width: u32, height: u32) -> Self {
        SourceRect { left: 0.0, top: 0.0, width: f64::from(width), height: f64::from(height) }
    }
}

/// The part of a `src_w` x `src_h` source that becomes a `dst_w` x `dst_h` output.
///
/// Errors with [`ImagingError::InvalidGeometry`] for a zero side or a focal point outside
/// 0..=1 (or not a number).
pub fn source_rect(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32, fit: Fit) -> Result<SourceRect, ImagingError> {
    if src_w == 0 || src_h == 0 || dst_w == 0 || dst_h == 0 {
        return Err(ImagingError::InvalidGeometry(format!(
            "cannot fit {src_w}x{src_h} into {dst_w}x{dst_h}: a side is zero"
        )));
    }
    let focal = match fit {
        Fit::Stretch => return Ok(SourceRect::whole(src_w, src_h)),
        Fit::Crop { focal } => focal,
    };
    let in_range = |v: f64| (0.0..=1.0).contains(&v);
    if !in_range(focal.0) || !in_range(focal.1) {
        return Err(ImagingError::InvalidGeometry(format!("focal point ({}, {}) is outside 0..1", focal.0, focal.1)));
    }
    let (sw, sh) = (f64::from(src_w), f64::from(src_h));
    // Compare aspect ratios exactly: src_w / src_h against dst_w / dst_h.
    let src_cross = u64::from(src_w) * u64::from(dst_h);
    let dst_cross = u64::from(dst_w) * u64::from(src_h);
    let (width, height) = match src_cross.cmp(&dst_cross) {
        std::cmp::Ordering::Equal => return Ok(SourceRect::whole(src_w, src_h)),
        // Source wider than the target: full height, cut the sides.
        std::cmp::Ordering::Greater => ((sh * f64::from(dst_w) / f64::from(dst_h)).min(sw), sh),
        // Source taller: full width, cut top and bottom.
        std::cmp::Ordering::Less => (sw, (sw * f64::from(dst_h) / f64::from(dst_w)).min(sh)),
    };
    let place = |focal: f64, side: f64, span: f64| (focal * side - span / 2.0).clamp(0.0, side - span);
    Ok(SourceRect { left: place(focal.0, sw, width), top: place(focal.1, sh, height), width, height })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tintype_codes::Coded;

    fn check(src: (u32, u32), dst: (u32, u32), fit: Fit, expected: (f64, f64, f64, f64)) {
        let rect =
            source_rect(src.0, src.1, dst.0, dst.1, fit).unwrap_or_else(|e| panic!("{src:?} -> {dst:?} {fit:?}: {e}"));
        let got = (rect.left, rect.top, rect.width, rect.height);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(got.0, expected.0)
                && close(got.1, expected.1)
                && close(got.2, expected.2)
                && close(got.3, expected.3),
            "{src:?} -> {dst:?} {fit:?}: got {got:?}, expected {expected:?}"
        );
        assert!(rect.left >= 0.0 && rect.top >= 0.0);
        assert!(rect.left + rect.width <= f64::from(src.0) && rect.top + rect.height <= f64::from(src.1));
    }

    fn crop(x: f64, y: f64) -> Fit {
        Fit::Crop { focal: (x, y) }
    }

    #[test]
    fn stretch_takes_everything() {
        check((6000, 4000), (2400, 3000), Fit::Stretch, (0.0, 0.0, 6000.0, 4000.0));
        check((100, 100), (7016, 9933), Fit::default(), (0.0, 0.0, 100.0, 100.0));
    }

    #[test]
    fn landscape_source_portrait_target_cuts_the_sides() {
        // 6000x4000 into 4:5 portrait: 3200x4000, free to move 2800 px horizontally.
        let (src, dst) = ((6000, 4000), (2400, 3000));
        let cases = [
            (crop(0.5, 0.5), (1400.0, 0.0)),
            (crop(0.0, 0.0), (0.0, 0.0)),
            (crop(1.0, 0.0), (2800.0, 0.0)),
            (crop(0.0, 1.0), (0.0, 0.0)),
            (crop(1.0, 1.0), (2800.0, 0.0)),
            (crop(0.3, 0.9), (200.0, 0.0)), // 1800 - 1600
        ];
        for (fit, (left, top)) in cases {
            check(src, dst, fit, (left, top, 3200.0, 4000.0));
        }
    }

    #[test]
    fn portrait_source_landscape_target_cuts_top_and_bottom() {
        // 4000x6000 into 3:2 landscape: 4000x2666.67, free to move 3333.33 vertically.
        let (src, dst) = ((4000, 6000), (3600, 2400));
        let h = 4000.0 * 2400.0 / 3600.0;
        let cases = [
            (crop(0.5, 0.5), (0.0, 3000.0 - h / 2.0)),
            (crop(0.0, 0.0), (0.0, 0.0)),
            (crop(1.0, 0.0), (0.0, 0.0)),
            (crop(0.0, 1.0), (0.0, 6000.0 - h)),
            (crop(1.0, 1.0), (0.0, 6000.0 - h)),
        ];
        for (fit, (left, top)) in cases {
            check(src, dst, fit, (left, top, 4000.0, h));
        }
    }

    #[test]
    fn same_orientation_different_ratio() {
        // Portrait 2:3 source into a portrait 4:5 target: cut the top and bottom.
        check((4000, 6000), (2400, 3000), crop(0.5, 0.0), (0.0, 0.0, 4000.0, 5000.0));
        check((4000, 6000), (2400, 3000), crop(0.5, 1.0), (0.0, 1000.0, 4000.0, 5000.0));
        // Square target from a landscape source.
        check((6000, 4000), (2400, 2400), crop(1.0, 0.5), (2000.0, 0.0, 4000.0, 4000.0));
    }

    #[test]
    fn exact_aspect_is_not_cropped() {
        for fit in [crop(0.0, 0.0), crop(1.0, 1.0), Fit::CROP_CENTRE] {
            check((6000, 4000), (3600, 2400), fit, (0.0, 0.0, 6000.0, 4000.0));
            check((1000, 1000), (2400, 2400), fit, (0.0, 0.0, 1000.0, 1000.0));
        }
    }

    #[test]
    fn invalid_geometry() {
        let cases = [
            ((0, 10), (10, 10), Fit::Stretch),
            ((10, 10), (10, 0), Fit::CROP_CENTRE),
            ((10, 10), (10, 20), crop(-0.1, 0.5)),
            ((10, 10), (10, 20), crop(0.5, 1.5)),
            ((10, 10), (10, 20), crop(f64::NAN, 0.5)),
        ];
        for (src, dst, fit) in cases {
            let err = source_rect(src.0, src.1, dst.0, dst.1, fit).unwrap_err();
            assert_eq!(err.code(), "invalid_geometry", "{src:?} -> {dst:?} {fit:?}");
        }
    }
}
