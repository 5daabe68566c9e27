//! Tintype's worker runtime: what a job kind implements ([`JobHandler`]), what it is given
//! while it runs ([`JobContext`]), the loop that claims and runs jobs ([`Worker`]) and the
//! [`Sweeper`] that rescues expired leases and expires artifacts.
//!
//! Pipelines depend on this crate, never on the HTTP server; the worker depends on the
//! engine and blob store only through their traits.

pub mod builtin;
pub mod context;
pub mod error;
pub mod handler;
pub mod runner;
pub mod sweeper;

pub use context::JobContext;
pub use error::{Coded, JobError, ResultExt};
pub use handler::{JobHandler, Registry};
pub use runner::{Worker, WorkerConfig};
pub use sweeper::{SweepReport, Sweeper, SweeperConfig};
