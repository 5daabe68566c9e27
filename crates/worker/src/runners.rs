//! The run side of a job kind ([`JobRunner`]) and the registry of the runners one worker
//! process serves ([`Runners`]). The submit side (validation, schema, lifetimes) is the
//! kind's `tintype_kinds::JobSpec`; only workers build runners.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tintype_blobs::layout::Area;
use tintype_queue::JobOutput;

use crate::context::JobContext;
use crate::error::JobError;

/// Runs jobs of one kind.
#[async_trait]
pub trait JobRunner: Send + Sync + 'static {
    /// The kind name this runner serves.
    fn kind(&self) -> &'static str;

    /// Tenant areas this kind writes to besides its job's own folder (the photo library's
    /// renditions, say). None by default.
    fn writes(&self) -> &'static [Area] {
        &[]
    }

    /// Runs one attempt. Report steps and progress through `ctx`, which also says when
    /// to stop; return the output, or a typed error that says whether to retry.
    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError>;
}

/// The runners of one worker process, by kind name.
#[derive(Clone, Default)]
pub struct Runners {
    runners: BTreeMap<&'static str, Arc<dyn JobRunner>>,
}

impl Runners {
    /// No runners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a runner under its kind name.
    pub fn add(&mut self, runner: Arc<dyn JobRunner>) -> &mut Self {
        self.runners.insert(runner.kind(), runner);
        self
    }

    /// The runner for a kind.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn JobRunner>> {
        self.runners.get(kind)
    }

    /// Served kind names, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.runners.keys().copied()
    }
}

impl std::fmt::Debug for Runners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.runners.keys()).finish()
    }
}
