//! What a job kind implements, and the registry that maps kind names to handlers.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tintype_queue::JobOutput;

use crate::context::JobContext;
use crate::error::JobError;

/// One job kind (a pipeline): validates input at submit time and runs jobs.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The kind name clients submit (`print`, `export`, ...).
    fn kind(&self) -> &'static str;

    /// The steps a job of this kind goes through, in order (documentation and UI).
    fn steps(&self) -> &'static [&'static str];

    /// Queue used when the client names none.
    fn default_queue(&self) -> &'static str {
        "default"
    }

    /// Checks an input document at submit time; `Err` explains what is wrong (HTTP 422).
    fn validate(&self, input: &serde_json::Value) -> Result<(), String>;

    /// Applies the submitting tenant's plan to a valid input before it is queued (e.g.
    /// the free plan's watermark). The default changes nothing.
    fn apply_plan(&self, _input: &mut serde_json::Value, _plan: &str) {}

    /// Runs one attempt. Report steps and progress through `ctx`, which also says when
    /// to stop; return the output, or a typed error that says whether to retry.
    async fn run(&self, ctx: JobContext) -> Result<JobOutput, JobError>;
}

/// The job kinds a process knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<&'static str, Arc<dyn JobHandler>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a handler under its kind name.
    pub fn register(&mut self, handler: impl JobHandler) -> &mut Self {
        self.handlers.insert(handler.kind(), Arc::new(handler));
        self
    }

    /// The handler for a kind.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn JobHandler>> {
        self.handlers.get(kind)
    }

    /// Known kind names, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}
