//! Tintype's durable job engine, a storage component over `tintype-db`: it knows jobs,
//! leases and retries as rows; it knows nothing of images, HTTP, blob storage or the other
//! components' tables.
//!
//! - [`model`]: the job model and states (SPEC §2).
//! - [`engine`]: the [`Engine`] trait every driver implements.
//! - [`sqlite`], [`postgres`]: the drivers; [`MIGRATIONS`]: the queue's tables.
//! - [`watch`]: one job's changes as a stream (SSE, WebSocket, CLI, tests).
//! - [`conformance`]: the suite every driver must pass.

mod admission;
pub mod conformance;
pub mod engine;
pub mod error;
mod listing;
pub mod model;
pub mod postgres;
pub mod retry;
mod rows;
pub mod sqlite;
pub mod watch;

pub use engine::Engine;
pub use error::QueueError;
pub use model::*;
pub use retry::RetryPolicy;
pub use tintype_db::Clock;

use tintype_db::{Component, Step};

/// The queue's tables on both backends.
pub static MIGRATIONS: Component = Component {
    name: "queue",
    sqlite: &[
        Step { version: 1, name: "jobs", sql: include_str!("../migrations/sqlite/0001_init.sql") },
        Step { version: 2, name: "active jobs", sql: include_str!("../migrations/sqlite/0002_active_jobs.sql") },
        Step { version: 3, name: "quotas", sql: include_str!("../migrations/sqlite/0003_quotas.sql") },
        Step { version: 4, name: "running caps", sql: include_str!("../migrations/sqlite/0004_running_caps.sql") },
    ],
    postgres: &[
        Step { version: 1, name: "jobs", sql: include_str!("../migrations/postgres/0001_init.sql") },
        Step { version: 2, name: "claim plan", sql: include_str!("../migrations/postgres/0002_claim_plan.sql") },
        Step { version: 3, name: "active jobs", sql: include_str!("../migrations/postgres/0003_active_jobs.sql") },
        Step { version: 4, name: "claim kinds", sql: include_str!("../migrations/postgres/0004_claim_kinds.sql") },
        Step { version: 5, name: "quotas", sql: include_str!("../migrations/postgres/0005_quotas.sql") },
        Step { version: 6, name: "running caps", sql: include_str!("../migrations/postgres/0006_running_caps.sql") },
    ],
    // Release 0.1's migrations 1 and 2 (its 1 also made the catalog's tables).
    legacy: &[(1, 1), (2, 2)],
};

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
