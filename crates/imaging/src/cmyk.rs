//! CMYK samples to sRGB. A CMYK JPEG's colours are defined by its press profile, so when
//! the file embeds a CMYK ICC profile the samples go through it to sRGB with `moxcms`:
//! relative colorimetric (the profile's A2B1 table; its A2B0 when it has no A2B1, as
//! littleCMS does), paper white to sRGB white, without black point compensation (moxcms
//! has none), so a press's black comes out as the dark grey it prints. Without a profile,
//! or with one `moxcms` refuses (not CMYK, no device-to-PCS table, malformed), the naive
//! formula `R = (1 - C)(1 - K)` stands in: roughly sRGB, too bright and too saturated for
//! real press colours. Either way the output is sRGB, so the decoded image carries no
//! profile. `tests/decode.rs` holds the profile path to littleCMS's render of a FOGRA39
//! file (and the naive formula to failing that comparison).
//!
//! libjpeg hands over CMYK as stored. Adobe's files (any file with an Adobe APP14
//! segment) store it inverted, 255 = no ink; others store ink amounts, which is what ICC
//! CMYK means. The conversion works in place, 4 bytes a pixel in and 3 out, through a
//! small buffer for the transform, on each batch of rows as libjpeg delivers them.

use std::sync::Arc;

use moxcms::{ColorProfile, DataColorSpace, Layout, RenderingIntent, Transform8BitExecutor, TransformOptions};

use crate::ImagingError;

/// How CMYK samples were turned into RGB.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// Through the embedded CMYK profile.
    Profile,
    /// With the naive formula (no usable profile).
    Naive,
}

/// Pixels converted per transform call.
const CHUNK: usize = 4096;

/// Converts `pixels` CMYK samples to sRGB in place and shortens the buffer to 3 bytes a
/// pixel (for the tests; the decoder converts batch by batch with a [`Converter`]).
/// `inverted`: the samples are stored Adobe-style (255 = no ink). `profile`: the
/// embedded ICC profile, used when it is a CMYK profile `moxcms` can transform from.
#[cfg(test)]
pub(crate) fn to_srgb(
    samples: &mut Vec<u8>,
    pixels: usize,
    inverted: bool,
    profile: Option<&[u8]>,
) -> Result<Conversion, ImagingError> {
    let converter = Converter::new(inverted, profile);
    converter.convert(samples, pixels)?;
    samples.truncate(pixels * 3);
    samples.shrink_to_fit();
    Ok(converter.conversion())
}

/// One image's conversion, made once and applied batch by batch as rows are decoded.
pub(crate) struct Converter {
    transform: Option<Arc<Transform8BitExecutor>>,
    inverted: bool,
}

impl Converter {
    /// Through `profile` when it is a CMYK profile `moxcms` transforms from, else naive.
    pub(crate) fn new(inverted: bool, profile: Option<&[u8]>) -> Self {
        Converter { transform: profile.and_then(transform_to_srgb), inverted }
    }

    /// How this converter converts.
    #[cfg(test)]
    pub(crate) fn conversion(&self) -> Conversion {
        if self.transform.is_some() { Conversion::Profile } else { Conversion::Naive }
    }

    /// Converts `pixels` CMYK samples in place: their sRGB lands in the first
    /// `3 × pixels` bytes.
    pub(crate) fn convert(&self, samples: &mut [u8], pixels: usize) -> Result<(), ImagingError> {
        if samples.len() != pixels * 4 {
            return Err(ImagingError::Corrupt("jpeg (cmyk): short pixel data".into()));
        }
        match &self.transform {
            Some(transform) => through_profile(samples, pixels, self.inverted, &**transform),
            None => {
                naive(samples, pixels, self.inverted);
                Ok(())
            }
        }
    }
}

/// A transform from a CMYK profile to sRGB, or `None` when the profile is not one
/// `moxcms` can transform from.
fn transform_to_srgb(profile: &[u8]) -> Option<Arc<Transform8BitExecutor>> {
    let source = ColorProfile::new_from_slice(profile).ok()?;
    if source.color_space != DataColorSpace::Cmyk {
        return None;
    }
    let srgb = ColorProfile::new_srgb();
    [RenderingIntent::RelativeColorimetric, RenderingIntent::Perceptual].into_iter().find_map(|rendering_intent| {
        let options = TransformOptions { rendering_intent, ..TransformOptions::default() };
        source.create_transform_8bit(Layout::Rgba, &srgb, Layout::Rgb, options).ok()
    })
}

/// Runs the transform over the samples a chunk at a time. Chunk `i`'s output lands at
/// `3i..`, never past its own input at `4i..`, which is copied out first.
fn through_profile(
    samples: &mut [u8],
    pixels: usize,
    inverted: bool,
    transform: &Transform8BitExecutor,
) -> Result<(), ImagingError> {
    let mut cmyk = vec![0u8; CHUNK * 4];
    let mut rgb = vec![0u8; CHUNK * 3];
    for start in (0..pixels).step_by(CHUNK) {
        let n = CHUNK.min(pixels - start);
        let (cmyk, rgb) = (&mut cmyk[..4 * n], &mut rgb[..3 * n]);
        cmyk.copy_from_slice(&samples[4 * start..4 * (start + n)]);
        if inverted {
            cmyk.iter_mut().for_each(|v| *v = 255 - *v);
        }
        transform
            .transform(cmyk, rgb)
            .map_err(|e| ImagingError::Corrupt(format!("jpeg (cmyk): colour transform failed: {e}")))?;
        samples[3 * start..3 * (start + n)].copy_from_slice(rgb);
    }
    Ok(())
}

/// The naive formula, `R = (1 - C)(1 - K)` and likewise for G and B, in place.
fn naive(samples: &mut [u8], pixels: usize, inverted: bool) {
    for i in 0..pixels {
        let [c, m, y, k] = [0, 1, 2, 3].map(|j| u32::from(samples[4 * i + j]));
        let channel = |v: u32| if inverted { v * k / 255 } else { (255 - v) * (255 - k) / 255 };
        samples[3 * i..3 * i + 3].copy_from_slice(&[channel(c) as u8, channel(m) as u8, channel(y) as u8]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Converts one row of ink amounts (given inverted or not) and compares.
    fn check(name: &str, ink: &[[u8; 4]], inverted: bool, profile: Option<&[u8]>, expected: (Conversion, &[[u8; 3]])) {
        let mut samples: Vec<u8> = ink.iter().flatten().map(|&v| if inverted { 255 - v } else { v }).collect();
        let conversion = to_srgb(&mut samples, ink.len(), inverted, profile).expect(name);
        let rgb: Vec<[u8; 3]> = samples.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        assert_eq!((conversion, &rgb[..]), expected, "{name}");
    }

    #[test]
    fn falls_back_to_the_naive_formula() {
        let ink = [[0, 0, 0, 0], [255, 0, 0, 0], [0, 255, 255, 0], [0, 0, 0, 255], [128, 0, 0, 128]];
        let naive: &[[u8; 3]] = &[[255; 3], [0, 255, 255], [255, 0, 0], [0; 3], [63, 127, 127]];
        // A CMYK profile's header and an empty tag table: no A2B table to transform with.
        let header_only = {
            let mut p = vec![0u8; 132];
            p[..4].copy_from_slice(&132u32.to_be_bytes());
            p[12..16].copy_from_slice(b"prtr");
            p[16..20].copy_from_slice(b"CMYK");
            p[20..24].copy_from_slice(b"Lab ");
            p[36..40].copy_from_slice(b"acsp");
            p
        };
        let srgb = ColorProfile::new_srgb().encode().expect("srgb profile");
        for inverted in [false, true] {
            check("no profile", &ink, inverted, None, (Conversion::Naive, naive));
            check("not a profile", &ink, inverted, Some(&[1, 2, 3]), (Conversion::Naive, naive));
            check("an RGB profile", &ink, inverted, Some(&srgb), (Conversion::Naive, naive));
            check("a CMYK header, no tables", &ink, inverted, Some(&header_only), (Conversion::Naive, naive));
        }
    }

    #[test]
    fn refuses_short_pixel_data() {
        let error = to_srgb(&mut vec![0; 7], 2, false, None).expect_err("short");
        assert!(matches!(error, ImagingError::Corrupt(_)), "{error}");
    }
}
