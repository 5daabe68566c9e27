//! HEIC/HEIF through the system libheif (`libheif-rs` 0.18 over `libheif-sys` 1.14.2: the
//! newest binding that accepts Debian 12's libheif 1.15; see ARCHITECTURE.md). Only the
//! primary image is read. [`dimensions`] parses the container without decoding (a grid
//! image reports its assembled size, so an absurd grid is refused by the caller's limits
//! before any tile is decoded); [`decode`] asks libheif for interleaved 8-bit RGB, which
//! applies the container's rotation and mirroring (`irot`, `imir`): HEIF's EXIF
//! orientation is informational and must not be applied again.

use image::RgbImage;
use libheif_rs::{ColorSpace, HeifContext, RgbChroma};

use crate::ImagingError;
use crate::limits::ImageInfo;

/// The primary image's (displayed) size.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ImagingError> {
    let context = HeifContext::read_from_bytes(bytes).map_err(|e| corrupt("unreadable container", e))?;
    let handle = context.primary_image_handle().map_err(|e| corrupt("no primary image", e))?;
    Ok((handle.width(), handle.height()))
}

/// Decodes the primary image to upright 8-bit RGB (alpha dropped), with its raw ICC
/// profile if it has one. `info` is what the probe checked against the limits.
pub(crate) fn decode(bytes: &[u8], info: &ImageInfo) -> Result<(RgbImage, Option<Vec<u8>>), ImagingError> {
    let context = HeifContext::read_from_bytes(bytes).map_err(|e| corrupt("unreadable container", e))?;
    let handle = context.primary_image_handle().map_err(|e| corrupt("no primary image", e))?;
    if (handle.width(), handle.height()) != (info.width, info.height) {
        return Err(ImagingError::Corrupt("heic: the primary image changed size".into()));
    }
    let icc = handle.color_profile_raw().map(|p| p.data).filter(|p| !p.is_empty());
    let image = handle.decode(ColorSpace::Rgb(RgbChroma::Rgb), None).map_err(|e| corrupt("decoding failed", e))?;
    let planes = image.planes();
    let plane = planes.interleaved.ok_or_else(|| ImagingError::Corrupt("heic: no interleaved RGB plane".into()))?;
    let (width, height) = (plane.width, plane.height);
    let row = width as usize * 3;
    if plane.stride < row || plane.data.len() < plane.stride * (height as usize).saturating_sub(1) + row {
        return Err(ImagingError::Corrupt("heic: short pixel data".into()));
    }
    let mut pixels = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        pixels.extend_from_slice(&plane.data[y * plane.stride..y * plane.stride + row]);
    }
    let pixels = RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| ImagingError::Corrupt("heic: short pixel data".into()))?;
    Ok((pixels, icc))
}

/// libheif's error: a codec or feature this libheif lacks is unsupported, anything else
/// is damaged data.
fn corrupt(what: &str, e: libheif_rs::HeifError) -> ImagingError {
    use libheif_rs::HeifErrorCode::{UnsupportedFeature, UnsupportedFileType};
    use libheif_rs::HeifErrorSubCode::SecurityLimitExceeded;
    if matches!(e.sub_code, SecurityLimitExceeded) {
        // libheif refuses a container claiming more than its own limits (32768x32768,
        // too many grid tiles, ...) before decoding: a bomb, like any other too large.
        let (width, height) = claimed_size(&e.message).unwrap_or((0, 0));
        return ImagingError::ImageTooLarge { width, height, reason: format!("libheif: {}", e.message.trim()) };
    }
    match e.code {
        UnsupportedFeature | UnsupportedFileType => ImagingError::UnsupportedFormat(format!("heic: {what}: {e}")),
        _ => ImagingError::Corrupt(format!("heic: {what}: {e}")),
    }
}

/// The `WxH` a libheif security message names first ("Image size 60000x60000 exceeds ...").
fn claimed_size(message: &str) -> Option<(u32, u32)> {
    message.split_whitespace().find_map(|word| {
        let (w, h) = word.split_once('x')?;
        Some((w.parse().ok()?, h.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_claimed_size_is_read_from_libheifs_message() {
        let m = "Security limit exceeded: Image size 60000x60000 exceeds the maximum image size 32768x32768\n";
        assert_eq!(super::claimed_size(m), Some((60000, 60000)));
        assert_eq!(super::claimed_size("Security limit exceeded: too many tiles"), None);
    }
}
