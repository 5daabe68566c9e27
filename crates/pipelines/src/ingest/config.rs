//! The `[ingest]` config section: decoding limits for library photos, the renditions'
//! encoder settings and the near-duplicate threshold (deserialised, defaulted and
//! validated here; the binary embeds it).

use serde::{Deserialize, Serialize};
use tintype_imaging::Limits;
use tintype_imaging::thumbnail::ThumbOptions;

/// `[ingest]` in the configuration, as operators write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSection {
    /// Largest photo file, bytes (phones' HEICs and JPEGs are 2 to 15 MB).
    pub max_source_bytes: u64,
    /// Longest photo side, pixels.
    pub max_side: u32,
    /// Most photo pixels.
    pub max_pixels: u64,
    /// Most memory one decode may hold, bytes (estimated from the header; see
    /// `tintype_imaging::Limits::max_decode_bytes`).
    pub max_decode_bytes: u64,
    /// Most scans a JPEG may have (each progressive scan is a pass over the whole image).
    pub max_scans: u32,
    /// Longest a photo's decoding may take, seconds (then `decode_timeout`, permanent).
    pub decode_timeout_secs: u64,
    /// Rendition sizes, px on the longest edge (never upscaled).
    pub sizes: Vec<u32>,
    /// JPEG quality of the renditions.
    pub jpeg_quality: u8,
    /// WebP quality of the renditions.
    pub webp_quality: u8,
    /// AVIF quality of the renditions.
    pub avif_quality: u8,
    /// rav1e speed: 1 (slowest, smallest files) to 10 (fastest).
    pub avif_speed: u8,
    /// Make AVIF renditions at all (after the photo is visible, as the job's last step).
    pub avif: bool,
    /// Threads one ingest job encodes with (0: every core, at most 4).
    pub threads: usize,
    /// Photos whose perceptual hashes differ in fewer bits than this are near duplicates.
    pub near_duplicate_distance: u32,
}

impl Default for IngestSection {
    fn default() -> Self {
        let thumbs = ThumbOptions::default();
        IngestSection {
            max_source_bytes: 50_000_000,
            max_side: 20_000,
            max_pixels: 200_000_000,
            max_decode_bytes: 640_000_000,
            max_scans: Limits::default().max_scans,
            decode_timeout_secs: 60,
            sizes: vec![256, 512, 1024],
            jpeg_quality: thumbs.jpeg_quality,
            webp_quality: thumbs.webp_quality,
            avif_quality: thumbs.avif_quality,
            avif_speed: thumbs.avif_speed,
            avif: true,
            threads: 0,
            near_duplicate_distance: 10,
        }
    }
}

impl IngestSection {
    /// Checks the section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        crate::imaging::check_decode_settings("ingest", &self.limits(), self.decode_timeout_secs)?;
        if self.sizes.is_empty() || self.sizes.iter().any(|&s| !(16..=4096).contains(&s)) {
            return Err("ingest.sizes: one or more sizes from 16 to 4096 px".into());
        }
        if self.threads > 64 {
            return Err(format!("ingest.threads: must be 0 (every core) to 64, got {}", self.threads));
        }
        if !(1..=64).contains(&self.near_duplicate_distance) {
            return Err("ingest.near_duplicate_distance: 1 to 64 bits".into());
        }
        self.thumb_options().validate().map_err(|e| format!("ingest.{e}"))
    }

    /// The decoding limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_source_bytes,
            max_side: self.max_side,
            max_pixels: self.max_pixels,
            max_decode_bytes: self.max_decode_bytes,
            max_scans: self.max_scans,
        }
    }

    /// The encoders' settings.
    pub fn thumb_options(&self) -> ThumbOptions {
        let threads = if self.threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get()).min(4)
        } else {
            self.threads
        };
        ThumbOptions {
            jpeg_quality: self.jpeg_quality,
            webp_quality: self.webp_quality,
            avif_quality: self.avif_quality,
            avif_speed: self.avif_speed,
            threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        IngestSection::default().validate().unwrap();
        let bad = [
            (IngestSection { avif_speed: 0, ..Default::default() }, "avif_speed"),
            (IngestSection { sizes: vec![], ..Default::default() }, "sizes"),
            (IngestSection { sizes: vec![8], ..Default::default() }, "sizes"),
            (IngestSection { near_duplicate_distance: 0, ..Default::default() }, "near_duplicate_distance"),
            (IngestSection { jpeg_quality: 0, ..Default::default() }, "jpeg_quality"),
            (IngestSection { decode_timeout_secs: 0, ..Default::default() }, "decode_timeout_secs"),
        ];
        for (section, field) in bad {
            let err = section.validate().unwrap_err();
            assert!(err.contains(field), "{err}");
        }
    }
}
