//! The `[print]` config section (deserialised, defaulted and validated here, so the
//! binary only embeds it) and the runner's settings built from it and `[fetch]`.

use serde::{Deserialize, Serialize};
use tintype_imaging::Limits;

use tintype_fetch::{FetchPolicy, FetchSection};

/// `[print]` in the configuration, as operators write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrintSection {
    /// Threads one print job encodes with (0: every core, at most 4).
    pub threads: usize,
    /// Largest source file, bytes.
    pub max_source_bytes: u64,
    /// Longest source side, pixels.
    pub max_side: u32,
    /// Most source pixels.
    pub max_pixels: u64,
}

impl Default for PrintSection {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            threads: 0,
            max_source_bytes: limits.max_bytes,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        }
    }
}

impl PrintSection {
    /// Checks the section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.threads > 64 {
            return Err(format!("print.threads: must be 0 (every core) to 64, got {}", self.threads));
        }
        if self.max_source_bytes == 0 || self.max_side == 0 || self.max_pixels == 0 {
            return Err("print.max_source_bytes, max_side and max_pixels must be positive".into());
        }
        Ok(())
    }

    /// The decoding limits the section sets.
    pub fn limits(&self) -> Limits {
        Limits { max_bytes: self.max_source_bytes, max_side: self.max_side, max_pixels: self.max_pixels }
    }

    /// The runner's settings: this section with the `[fetch]` rules.
    pub fn runner_config(&self, fetch: &FetchSection) -> PrintConfig {
        let threads = if self.threads == 0 { PrintConfig::default().threads } else { self.threads };
        PrintConfig { fetch: fetch.policy(), limits: self.limits(), threads }
    }
}

/// Settings of the runner (from the `[print]` and `[fetch]` config sections).
#[derive(Debug, Clone)]
pub struct PrintConfig {
    /// Rules for URL sources.
    pub fetch: FetchPolicy,
    /// Decoding limits.
    pub limits: Limits,
    /// Threads one job uses to encode a group's files (both cores by default).
    pub threads: usize,
}

impl Default for PrintConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
        PrintConfig { fetch: FetchPolicy::default(), limits: Limits::default(), threads }
    }
}
