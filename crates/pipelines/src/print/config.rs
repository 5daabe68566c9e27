//! The `[print]` config section (deserialised, defaulted and validated here, so the
//! binary only embeds it) and the runner's settings built from it and `[fetch]`.

use std::time::Duration;

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
    /// Most memory one decode may hold, bytes (estimated from the header; see
    /// `tintype_imaging::Limits::max_decode_bytes`).
    pub max_decode_bytes: u64,
    /// Most scans a JPEG may have (each progressive scan is a pass over the whole image).
    pub max_scans: u32,
    /// Longest decoding may take, seconds (then `decode_timeout`, permanent).
    pub decode_timeout_secs: u64,
    /// Longest resizing and encoding every file of a job may take, seconds (then
    /// `encode_timeout`, permanent).
    pub encode_timeout_secs: u64,
}

impl Default for PrintSection {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            threads: 0,
            max_source_bytes: limits.max_bytes,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
            max_decode_bytes: limits.max_decode_bytes,
            max_scans: limits.max_scans,
            decode_timeout_secs: 60,
            encode_timeout_secs: 600,
        }
    }
}

impl PrintSection {
    /// Checks the section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.threads > 64 {
            return Err(format!("print.threads: must be 0 (every core) to 64, got {}", self.threads));
        }
        crate::imaging::check_decode_settings("print", &self.limits(), self.decode_timeout_secs)?;
        if !(1..=86_400).contains(&self.encode_timeout_secs) {
            return Err("print.encode_timeout_secs: 1 to 86400".into());
        }
        Ok(())
    }

    /// The decoding limits the section sets.
    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_source_bytes,
            max_side: self.max_side,
            max_pixels: self.max_pixels,
            max_decode_bytes: self.max_decode_bytes,
            max_scans: self.max_scans,
        }
    }

    /// The runner's settings: this section with the `[fetch]` rules.
    pub fn runner_config(&self, fetch: &FetchSection) -> PrintConfig {
        let threads = if self.threads == 0 { PrintConfig::default().threads } else { self.threads };
        PrintConfig {
            fetch: fetch.policy(),
            limits: self.limits(),
            threads,
            decode_timeout: Duration::from_secs(self.decode_timeout_secs),
            encode_timeout: Duration::from_secs(self.encode_timeout_secs),
        }
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
    /// Deadline of the decoding step.
    pub decode_timeout: Duration,
    /// Deadline of all of a job's resizing and encoding.
    pub encode_timeout: Duration,
}

impl Default for PrintConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
        let section = PrintSection::default();
        PrintConfig {
            fetch: FetchPolicy::default(),
            limits: Limits::default(),
            threads,
            decode_timeout: Duration::from_secs(section.decode_timeout_secs),
            encode_timeout: Duration::from_secs(section.encode_timeout_secs),
        }
    }
}
