//! Tintype's job kinds. Each pipeline glues the job context (steps, progress,
//! cancellation, artifacts) to the pure algorithms of `tintype-imaging`.
//!
//! - [`print`]: print-ready ZIP packs and single exports (SPEC §5, SnapToSize).
//! - [`fetch`]: SSRF-safe download of a source URL, shared by the pipelines.
//! - [`zipstream`]: ZIPs written from a blocking thread straight into the blob store.

pub mod fetch;
pub mod print;
pub mod zipstream;
