//! Tintype's job kinds. Each pipeline glues the job context (steps, progress,
//! cancellation, artifacts) to the pure algorithms of `tintype-imaging`, and comes in two
//! halves: a spec (the submit side, held by api processes) and a runner (built only by
//! workers).
//!
//! - [`print`]: print-ready ZIP packs and single exports (SPEC §5, SnapToSize).
//! - [`fetch`]: SSRF-safe download of a source URL, shared by the pipelines.
//! - [`zipstream`]: ZIPs written from a blocking thread straight into the blob store.
//! - [`PIPELINES`]: every kind of this build. Adding a kind is its module plus one line
//!   there (and its config section in [`Sections`] if it has one).

pub mod fetch;
pub mod print;
pub mod zipstream;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tintype_catalog::Catalog;
use tintype_kinds::{JobSpec, Kinds};
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
    /// `[fetch]`: rules for source URLs, shared by every pipeline that fetches.
    pub fetch: fetch::FetchSection,
}

impl Sections {
    /// Checks every section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.print.validate()?;
        self.fetch.validate()
    }
}

/// What a worker's runners may need beyond their config section.
#[derive(Clone)]
pub struct RunnerDeps {
    /// Keys and uploads (sources named by upload id).
    pub catalog: Arc<dyn Catalog>,
}

/// One job kind of this build: its spec, and how a worker builds its runner.
#[derive(Clone, Copy)]
pub struct Pipeline {
    /// The kind name.
    pub kind: &'static str,
    /// The submit side.
    pub spec: fn(&Sections) -> Arc<dyn JobSpec>,
    /// The run side (called by workers only: runners may hold heavy resources).
    pub runner: fn(&Sections, &RunnerDeps) -> Arc<dyn JobRunner>,
}

/// Every job kind of this build.
pub const PIPELINES: &[Pipeline] = &[
    Pipeline { kind: "noop", spec: |_| Arc::new(Noop), runner: |_, _| Arc::new(Noop) },
    Pipeline { kind: "sleep", spec: |_| Arc::new(Sleep), runner: |_, _| Arc::new(Sleep) },
    print::PIPELINE,
];

/// Every kind's spec (what an api process needs).
pub fn kinds(sections: &Sections) -> Kinds {
    let mut kinds = Kinds::new();
    for p in PIPELINES {
        kinds.add((p.spec)(sections));
    }
    kinds
}

/// Every kind's runner (what a worker process needs).
pub fn runners(sections: &Sections, deps: &RunnerDeps) -> Runners {
    let mut runners = Runners::new();
    for p in PIPELINES {
        runners.add((p.runner)(sections, deps));
    }
    runners
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
        assert_eq!(names, ["noop", "print", "sleep"]);
        sections.validate().unwrap();
    }
}
