//! The `print` job's input document: parsed and validated once, at submit time (HTTP 422
//! on error) and again when the job runs.

use serde::{Deserialize, Serialize};

/// Largest `max_zip_bytes` accepted (the default is Etsy's 20 MB per file).
pub const MAX_ZIP_BYTES_LIMIT: u64 = 2_000_000_000;

pub use crate::sources::Source;

/// `pack` (every size of the chosen groups, one ZIP per group) or `single` (one JPEG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One ZIP per group.
    #[default]
    Pack,
    /// One JPEG at one size.
    Single,
}

/// Requested orientation in single mode (`auto`: the source's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WantOrientation {
    /// Follow the source.
    #[default]
    Auto,
    /// Portrait (width ≤ height).
    Portrait,
    /// Landscape.
    Landscape,
}

/// `stretch` (default, deliberate: no cropping) or `crop` around a focal point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMode {
    /// Scale to the exact size, changing the aspect ratio if it differs.
    #[default]
    Stretch,
    /// Cut to the target's aspect ratio around `focal`.
    Crop,
}

/// The raw input document as clients send it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    upload_id: Option<String>,
    url: Option<String>,
    #[serde(default)]
    mode: Mode,
    groups: Option<Vec<String>>,
    size: Option<String>,
    #[serde(default)]
    orientation: WantOrientation,
    #[serde(default)]
    fit: FitMode,
    focal: Option<(f64, f64)>,
    dpi: Option<u32>,
    max_zip_bytes: Option<u64>,
    #[serde(default)]
    watermark: bool,
}

/// A validated `print` input.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintInput {
    /// The artwork.
    pub source: Source,
    /// Pack or single.
    pub mode: Mode,
    /// Groups of a pack (all pack groups when not given).
    pub groups: Vec<String>,
    /// Size label in single mode (`8x10`, `A4`, `12x12`...).
    pub size: Option<String>,
    /// Orientation in single mode.
    pub orientation: WantOrientation,
    /// Geometry.
    pub fit: FitMode,
    /// Focal point for `crop`, 0..1 on each axis (default the centre).
    pub focal: (f64, f64),
    /// Print resolution (default 300).
    pub dpi: u32,
    /// Largest ZIP (default 20,000,000).
    pub max_zip_bytes: u64,
    /// Draw a visible watermark (forced on for the free plan).
    pub watermark: bool,
}

impl PrintInput {
    /// Parses and validates an input document; the error says what is wrong.
    pub fn parse(
        doc: &serde_json::Value,
        known_groups: &[&str],
        size_exists: impl Fn(&str) -> bool,
    ) -> Result<Self, String> {
        let raw: Raw = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
        let source = match (raw.upload_id, raw.url) {
            (Some(id), None) if !id.is_empty() => Source::Upload(id),
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => Source::Url(url),
            (None, Some(_)) => return Err("url must be an http:// or https:// URL".into()),
            _ => return Err("give exactly one of upload_id and url".into()),
        };
        let groups = raw.groups.unwrap_or_else(|| known_groups.iter().map(|g| g.to_string()).collect());
        if groups.is_empty() {
            return Err("groups must name at least one group".into());
        }
        if let Some(bad) = groups.iter().find(|g| !known_groups.contains(&g.as_str())) {
            return Err(format!("unknown group {bad:?}; groups are {}", known_groups.join(", ")));
        }
        // A group twice would write the same ZIP twice (and used to fail late, retried).
        if let Some((i, twice)) = groups.iter().enumerate().find(|(i, g)| groups[..*i].contains(g)) {
            return Err(format!(
                "group {twice:?} is listed twice (entries {} and {})",
                groups[..i].iter().position(|g| g == twice).unwrap_or(0) + 1,
                i + 1
            ));
        }
        match (raw.mode, &raw.size) {
            (Mode::Single, None) => return Err("single mode needs a size, e.g. \"8x10\"".into()),
            (Mode::Single, Some(s)) if !size_exists(s) => return Err(format!("unknown size {s:?}")),
            (Mode::Pack, Some(_)) => return Err("size is for single mode only".into()),
            _ => {}
        }
        let focal = raw.focal.unwrap_or((0.5, 0.5));
        if !((0.0..=1.0).contains(&focal.0) && (0.0..=1.0).contains(&focal.1)) {
            return Err("focal must be two numbers between 0 and 1".into());
        }
        if raw.focal.is_some() && raw.fit != FitMode::Crop {
            return Err("focal is for fit \"crop\" only".into());
        }
        let dpi = raw.dpi.unwrap_or(300);
        if !(72..=600).contains(&dpi) {
            return Err("dpi must be between 72 and 600".into());
        }
        let max_zip_bytes = raw.max_zip_bytes.unwrap_or(20_000_000);
        if !(1_000_000..=MAX_ZIP_BYTES_LIMIT).contains(&max_zip_bytes) {
            return Err(format!("max_zip_bytes must be between 1000000 and {MAX_ZIP_BYTES_LIMIT}"));
        }
        Ok(Self {
            source,
            mode: raw.mode,
            groups,
            size: raw.size,
            orientation: raw.orientation,
            fit: raw.fit,
            focal,
            dpi,
            max_zip_bytes,
            watermark: raw.watermark,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GROUPS: [&str; 5] = ["2x3", "3x4", "4x5", "iso", "extras"];

    fn check(doc: serde_json::Value, expected: Result<(), &str>) {
        let got = PrintInput::parse(&doc, &GROUPS, |s| ["8x10", "A4", "12x12"].contains(&s));
        match (got, expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{doc}: {e:?} lacks {fragment:?}"),
            (got, expected) => panic!("{doc}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn inputs_are_validated() {
        check(json!({"upload_id": "upl_1"}), Ok(()));
        check(json!({"url": "https://example.com/a.jpg", "groups": ["2x3", "iso"]}), Ok(()));
        check(json!({"upload_id": "upl_1", "mode": "single", "size": "8x10", "orientation": "landscape"}), Ok(()));
        check(json!({"upload_id": "upl_1", "fit": "crop", "focal": [0.3, 0.6]}), Ok(()));
        check(json!({}), Err("exactly one of upload_id and url"));
        check(json!({"upload_id": "upl_1", "url": "https://x"}), Err("exactly one"));
        check(json!({"url": "ftp://example.com/a.jpg"}), Err("http:// or https://"));
        check(json!({"upload_id": "upl_1", "groups": ["2x3", "nope"]}), Err("unknown group"));
        check(json!({"upload_id": "upl_1", "groups": []}), Err("at least one group"));
        check(
            json!({"upload_id": "upl_1", "groups": ["2x3", "iso", "2x3"]}),
            Err("\"2x3\" is listed twice (entries 1 and 3)"),
        );
        check(json!({"upload_id": "upl_1", "mode": "single"}), Err("needs a size"));
        check(json!({"upload_id": "upl_1", "mode": "single", "size": "7x7"}), Err("unknown size"));
        check(json!({"upload_id": "upl_1", "size": "8x10"}), Err("single mode only"));
        check(json!({"upload_id": "upl_1", "fit": "crop", "focal": [1.5, 0.5]}), Err("between 0 and 1"));
        check(json!({"upload_id": "upl_1", "focal": [0.5, 0.5]}), Err("crop"));
        check(json!({"upload_id": "upl_1", "dpi": 10}), Err("dpi"));
        check(json!({"upload_id": "upl_1", "max_zip_bytes": 10}), Err("max_zip_bytes"));
        check(json!({"upload_id": "upl_1", "colour": "red"}), Err("unknown field"));
        check(json!({"upload_id": "upl_1", "mode": "poster"}), Err("unknown variant"));
    }
}
