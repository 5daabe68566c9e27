//! Tintype's worker runtime: what a job kind's run side implements ([`JobRunner`]), what
//! it is given while it runs ([`JobContext`]), the loop that claims and runs jobs
//! ([`Worker`]) and the [`Sweeper`] that rescues expired leases and expires artifacts.
//!
//! Pipelines depend on this crate, never on the HTTP server; the worker depends on the
//! engine and blob store only through their traits.

pub mod builtin;
pub mod context;
pub mod error;
pub mod runner;
pub mod runners;
pub mod sweeper;

pub use context::{JobContext, Resources};
pub use error::{Code, Coded, JobError, ResultExt};
pub use runner::{Worker, WorkerConfig};
pub use runners::{JobRunner, Runners};
pub use sweeper::{Chore, SweepReport, Sweeper, SweeperConfig};
