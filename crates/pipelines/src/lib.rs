//! Tintype's job kinds. Each pipeline glues the job context (steps, progress,
//! cancellation, artifacts) to the pure algorithms of `tintype-imaging`, and comes in two
//! halves: a spec (the submit side, held by api processes) and a runner (built only by
//! workers).
//!
//! - [`print`]: print-ready ZIP packs and single exports (SPEC §5, SnapToSize).
//! - [`ingest`]: an upload into the photo library: EXIF, renditions, perceptual hash,
//!   deduplication (SPEC §5, Photobomb).
//! - [`export`]: many uploads, photos or URLs (or an album) into one streamed ZIP behind
//!   a 12 h link (SPEC §5, Web Gallery).
//! - [`sources`]: a job's source (an upload or a URL) read for any pipeline, through
//!   `tintype-fetch`'s SSRF-guarded client for URLs.
//! - `imaging` (internal): the imaging crate's long steps under the job's cancel and a
//!   deadline.
//! - [`zipstream`]: ZIPs written from a blocking thread straight into the blob store.
//! - [`PIPELINES`]: every kind of this build. Adding a kind is its module plus one line
//!   there (and its config section in [`Sections`] if it has one).

pub mod export;
mod imaging;
pub mod ingest;
pub mod print;
pub mod sources;
pub mod zipstream;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tintype_catalog::Catalog;
use tintype_kinds::{JobSpec, Kinds};
use tintype_library::Library;
use tintype_worker::builtin::{Noop, Sleep};
use tintype_worker::{JobRunner, Runners};

/// The config sections the pipelines own (`[print]`, `[fetch]`, ...): deserialised,
/// defaulted and validated here; the binary embeds them as they are (flattened into its
/// top level, which checks for unknown keys itself).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sections {
    /// `[print]`.
    pub print: print::PrintSection,
    /// `[ingest]`.
    pub ingest: ingest::IngestSection,
    /// `[export]`.
    pub export: export::config::ExportSection,
    /// `[fetch]`: rules for source URLs, shared by every pipeline that fetches.
    pub fetch: tintype_fetch::FetchSection,
}

impl Sections {
    /// Checks every section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.print.validate()?;
        self.ingest.validate()?;
        self.export.validate()?;
        self.fetch.validate()
    }
}

/// What a worker's runners may need beyond their config section.
#[derive(Clone)]
pub struct RunnerDeps {
    /// Keys and uploads (sources named by upload id).
    pub catalog: Arc<dyn Catalog>,
    /// The photo library (`ingest` files photos there).
    pub library: Arc<dyn Library>,
    /// Sources (uploads and URLs) through one shared SSRF-guarded client.
    pub sources: sources::Sources,
}

impl RunnerDeps {
    /// The dependencies over `catalog` and `library`, with one fetcher for the `[fetch]`
    /// rules.
    pub fn new(
        sections: &Sections,
        catalog: Arc<dyn Catalog>,
        library: Arc<dyn Library>,
    ) -> Result<RunnerDeps, String> {
        let fetcher = tintype_fetch::Fetcher::new(sections.fetch.policy()).map_err(|e| format!("fetch client: {e}"))?;
        Ok(RunnerDeps { sources: sources::Sources::new(catalog.clone(), fetcher), catalog, library })
    }
}

/// One job kind of this build: its spec, and how a worker builds its runner.
#[derive(Clone, Copy)]
pub struct Pipeline {
    /// The kind name.
    pub kind: &'static str,
    /// The submit side.
    pub spec: fn(&Sections) -> Arc<dyn JobSpec>,
    /// The run side (called by workers only: runners may hold heavy resources, and
    /// starting them may fail).
    pub runner: MakeRunner,
}

/// Builds a kind's runner from the sections and dependencies, or says why it cannot.
pub type MakeRunner = fn(&Sections, &RunnerDeps) -> Result<Arc<dyn JobRunner>, String>;

/// Every job kind of this build.
pub const PIPELINES: &[Pipeline] = &[
    Pipeline { kind: "noop", spec: |_| Arc::new(Noop), runner: |_, _| Ok(Arc::new(Noop)) },
    Pipeline { kind: "sleep", spec: |_| Arc::new(Sleep), runner: |_, _| Ok(Arc::new(Sleep)) },
    print::PIPELINE,
    ingest::PIPELINE,
    export::PIPELINE,
];

/// Every kind's spec (what an api process needs).
pub fn kinds(sections: &Sections) -> Kinds {
    let mut kinds = Kinds::new();
    for p in PIPELINES {
        kinds.add((p.spec)(sections));
    }
    kinds
}

/// The runners of the kinds `serves` accepts (what a worker process needs; the others
/// are never built); the error names the kind whose runner could not start.
pub fn runners(sections: &Sections, deps: &RunnerDeps, serves: impl Fn(&str) -> bool) -> Result<Runners, String> {
    let mut runners = Runners::new();
    for p in PIPELINES.iter().filter(|p| serves(p.kind)) {
        runners.add((p.runner)(sections, deps).map_err(|e| format!("{}: {e}", p.kind))?);
    }
    Ok(runners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pipeline_is_named_as_its_spec() {
        let sections = Sections::default();
        for p in PIPELINES {
            assert_eq!((p.spec)(&sections).kind(), p.kind);
        }
        let names: Vec<&str> = kinds(&sections).names().collect();
        assert_eq!(names, ["export", "ingest", "noop", "print", "sleep"]);
        sections.validate().unwrap();
    }
}
