//! RGB pixels in an embedded ICC profile (Display P3, Adobe RGB, ProPhoto, ...) converted
//! to sRGB through `moxcms`, for outputs that carry no profile (thumbnails: WebP and AVIF
//! encoders here cannot embed one, and browsers assume sRGB without one). A profile that
//! does not parse, is not RGB, or has no transform to sRGB leaves the pixels as they are
//! (read as sRGB), which is what a viewer would show for it anyway.

use moxcms::{ColorProfile, DataColorSpace, Layout, RenderingIntent, TransformOptions};

/// Pixels converted in chunks of this many (bounded scratch whatever the image size).
const CHUNK: usize = 4096;

/// Converts interleaved 8-bit RGB `pixels` from `profile` to sRGB in place. Returns
/// whether a conversion happened.
pub fn rgb_to_srgb(pixels: &mut [u8], profile: &[u8]) -> bool {
    let Ok(source) = ColorProfile::new_from_slice(profile) else { return false };
    if source.color_space != DataColorSpace::Rgb {
        return false;
    }
    let srgb = ColorProfile::new_srgb();
    let transform =
        [RenderingIntent::Perceptual, RenderingIntent::RelativeColorimetric].into_iter().find_map(|intent| {
            let options = TransformOptions { rendering_intent: intent, ..TransformOptions::default() };
            source.create_transform_8bit(Layout::Rgb, &srgb, Layout::Rgb, options).ok()
        });
    let Some(transform) = transform else { return false };
    let mut out = vec![0u8; CHUNK * 3];
    for chunk in pixels.chunks_mut(CHUNK * 3) {
        let out = &mut out[..chunk.len()];
        if transform.transform(chunk, out).is_err() {
            return false;
        }
        chunk.copy_from_slice(out);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_profiles_change_nothing() {
        let mut pixels = vec![10, 20, 30, 40, 50, 60];
        assert!(!rgb_to_srgb(&mut pixels, b"not a profile"));
        assert!(!rgb_to_srgb(&mut pixels, &[0; 200]));
        assert_eq!(pixels, [10, 20, 30, 40, 50, 60]);
    }

    #[test]
    fn display_p3_red_is_out_of_srgb() {
        let p3 = ColorProfile::new_display_p3().encode().expect("encode P3");
        let mut pixels = vec![255, 0, 0, 128, 128, 128];
        assert!(rgb_to_srgb(&mut pixels, &p3));
        // P3's pure red is more saturated than sRGB's: it clips to red with a little less
        // of the others, and a neutral grey stays neutral.
        assert_eq!(pixels[0], 255);
        let (r, g, b) = (pixels[3], pixels[4], pixels[5]);
        assert!(r.abs_diff(g) <= 1 && g.abs_diff(b) <= 1, "grey stays grey: {r} {g} {b}");
    }
}
