//! The `[export]` config section: how many items an export may name, how they are
//! fetched (concurrency, per-item timeout, retries), how much of one item and of all the
//! items in flight may be held in memory, and how long the ZIP and its link live.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[export]` in the configuration, as operators write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSection {
    /// Most items one export may name (an album's photos count).
    pub max_items: usize,
    /// Items fetched at once.
    pub concurrency: usize,
    /// Time one item may take to fetch, seconds (a timed-out item is retried, then
    /// reported as failed).
    pub item_timeout_secs: f64,
    /// Attempts per item for failures that may pass (storage errors, timeouts).
    pub item_attempts: u32,
    /// Largest item, bytes.
    pub max_item_bytes: u64,
    /// Items up to this size are held in memory while they wait for their turn in the
    /// ZIP; larger ones go to an unnamed temporary file.
    pub memory_item_bytes: u64,
    /// Bytes the items of one export hold in memory together (fetched, queued or being
    /// written): an item starts fetching only when its share fits, so memory stays
    /// within this whatever the export's size.
    pub memory_bytes: u64,
    /// How long the ZIP and its download link live, seconds (12 h).
    pub ttl_secs: u64,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            max_items: 10_000,
            concurrency: 3,
            item_timeout_secs: 60.0,
            item_attempts: 3,
            max_item_bytes: 8 << 30,
            memory_item_bytes: 16 << 20,
            memory_bytes: 16 << 20,
            ttl_secs: 12 * 3600,
        }
    }
}

impl ExportSection {
    /// Checks the section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1_000_000).contains(&self.max_items) {
            return Err("export.max_items: 1 to 1,000,000".into());
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err("export.concurrency: 1 to 64".into());
        }
        if !(self.item_timeout_secs.is_finite() && self.item_timeout_secs > 0.0) {
            return Err("export.item_timeout_secs: a positive number of seconds".into());
        }
        if !(1..=10).contains(&self.item_attempts) {
            return Err("export.item_attempts: 1 to 10".into());
        }
        if self.max_item_bytes == 0 {
            return Err("export.max_item_bytes: must be positive".into());
        }
        if self.memory_item_bytes > 1 << 30 {
            return Err("export.memory_item_bytes: at most 1 GiB".into());
        }
        if !(1 << 20..=16 << 30).contains(&self.memory_bytes) {
            return Err("export.memory_bytes: 1 MiB to 16 GiB".into());
        }
        if self.ttl_secs == 0 {
            return Err("export.ttl_secs: at least 1".into());
        }
        Ok(())
    }

    /// The per-item timeout.
    pub fn item_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.item_timeout_secs)
    }

    /// The largest item held in memory: `memory_item_bytes`, within `memory_bytes`.
    pub fn memory_item_limit(&self) -> u64 {
        self.memory_item_bytes.min(self.memory_bytes)
    }

    /// How long the ZIP and its link live.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        ExportSection::default().validate().unwrap();
        let bad = [
            (ExportSection { max_items: 0, ..Default::default() }, "max_items"),
            (ExportSection { concurrency: 0, ..Default::default() }, "concurrency"),
            (ExportSection { item_timeout_secs: f64::NAN, ..Default::default() }, "item_timeout_secs"),
            (ExportSection { item_attempts: 0, ..Default::default() }, "item_attempts"),
            (ExportSection { ttl_secs: 0, ..Default::default() }, "ttl_secs"),
            (ExportSection { memory_bytes: 1000, ..Default::default() }, "memory_bytes"),
        ];
        for (section, field) in bad {
            let err = section.validate().unwrap_err();
            assert!(err.contains(field), "{err}");
        }
    }
}
