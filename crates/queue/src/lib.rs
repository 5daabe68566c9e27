//! Tintype's durable job engine. It knows jobs, leases, retries, API keys and uploads as
//! rows; it knows nothing of images, HTTP or blob storage (blob keys are plain strings).
//!
//! - [`model`]: the job model and states (SPEC §2).
//! - [`engine`]: the [`Engine`] and [`Catalog`] traits every driver implements.
//! - [`sqlite`]: the embedded driver (WAL, one writer connection, migrations embedded).
//! - [`conformance`]: the suite every driver must pass.

pub mod catalog;
pub mod clock;
pub mod conformance;
pub mod engine;
pub mod error;
pub mod model;
pub mod postgres;
pub mod retry;
mod rows;
pub mod sqlite;

pub use catalog::{ApiKey, NewApiKey, NewUpload, Upload};
pub use clock::Clock;
pub use engine::{Catalog, Engine};
pub use error::QueueError;
pub use model::*;
pub use retry::RetryPolicy;

/// Settings shared by every driver.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Backoff for transient failures.
    pub retry: RetryPolicy,
    /// Artifact lifetime for jobs that do not set their own (default 7 days).
    pub artifact_ttl: std::time::Duration,
    /// Source of now.
    pub clock: Clock,
    /// Capacity of the job event channel per subscriber.
    pub event_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            artifact_ttl: std::time::Duration::from_secs(7 * 24 * 3600),
            clock: Clock::system(),
            event_capacity: 4096,
        }
    }
}
