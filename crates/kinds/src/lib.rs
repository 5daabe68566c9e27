//! The submit side of a job kind, apart from the code that runs it. An api process holds
//! every kind's [`JobSpec`] (in [`Kinds`]) to validate and shape submissions; it never
//! builds a runner (a Chromium pool, GPU models): workers do, for the kinds they serve.
//!
//! A spec names the kind, its steps and default queue, describes its input (a JSON
//! schema, for OpenAPI), validates a submission with the tenant in hand and may look
//! things up ([`Submit`]: another tenant's upload is refused here, with a 404-class code,
//! not failed later in a worker), says how long its artifacts and their links live
//! ([`Lifetimes`]), names the daily quota class an input counts against
//! ([`QuotaClass`]) and applies the tenant's plan to the input.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tintype_catalog::Catalog;
use tintype_codes::{Code, Coded};
use tintype_library::Library;

tintype_codes::codes! {
    /// The job kind is not one this deployment knows.
    UNKNOWN_KIND = ("unknown_kind", InvalidInput);
}

/// What a submission is checked against: who submits, and where to look things up.
#[derive(Clone, Copy)]
pub struct Submit<'a> {
    /// The submitting tenant.
    pub tenant: &'a str,
    /// Its plan.
    pub plan: &'a str,
    /// Keys and uploads (to check that a named upload is the tenant's).
    pub catalog: &'a dyn Catalog,
    /// The photo library (to check that a named photo or album is the tenant's).
    pub library: &'a dyn Library,
}

/// Why a submission was refused: a stable code and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SubmitError {
    /// Stable code; its kind decides the HTTP status.
    pub code: Code,
    /// Human-readable reason.
    pub message: String,
}

impl SubmitError {
    /// A refusal with this code.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// The input document is wrong (`invalid_input`).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(tintype_codes::common::INVALID_INPUT, message)
    }

    /// Any coded error (a lookup that failed).
    pub fn coded(e: &impl Coded) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl Coded for SubmitError {
    fn code(&self) -> Code {
        self.code
    }
}

/// A daily quota class: what plans count per day (`[plans.free] daily`), and the code a
/// tenant over it is refused with (402).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaClass {
    /// The name plans use (`print_pack`, `export`, ...).
    pub name: &'static str,
    /// The refusal's code.
    pub over: Code,
}

impl QuotaClass {
    /// The class of a whole kind (its name), refused with `daily_quota_exceeded`.
    pub const fn kind(kind: &'static str) -> QuotaClass {
        QuotaClass { name: kind, over: tintype_plans::DAILY_QUOTA_EXCEEDED }
    }
}

/// How long a kind's results live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Artifacts are deleted (and the job marked expired) this long after success;
    /// `None`: the deployment's default (7 days).
    pub artifacts: Option<Duration>,
    /// Signed download links last this long; `None`: the deployment's default (30 min).
    pub links: Option<Duration>,
}

impl Lifetimes {
    /// The deployment's defaults.
    pub const DEFAULT: Lifetimes = Lifetimes { artifacts: None, links: None };
}

/// The submit side of one job kind.
#[async_trait]
pub trait JobSpec: Send + Sync + 'static {
    /// The kind name clients submit (`print`, `export`, ...).
    fn kind(&self) -> &'static str;

    /// The steps a job of this kind goes through, in order.
    fn steps(&self) -> &'static [&'static str];

    /// Queue used when the client names none.
    fn default_queue(&self) -> &'static str {
        "default"
    }

    /// A JSON Schema of the input document (for OpenAPI and clients).
    fn input_schema(&self) -> serde_json::Value {
        serde_json::json!({ "type": "object" })
    }

    /// Checks a submission. May normalise the document (fill defaults) and look things
    /// up through `submit` (a named upload must be the tenant's).
    async fn validate(&self, input: &mut serde_json::Value, submit: Submit<'_>) -> Result<(), SubmitError>;

    /// Applies the tenant's plan to a valid input before it is queued (e.g. the free
    /// plan's watermark). The default changes nothing.
    fn apply_plan(&self, _input: &mut serde_json::Value, _plan: &tintype_plans::Plan) {}

    /// The daily quota class a valid input counts against: by default the kind itself.
    fn quota_class(&self, _input: &serde_json::Value) -> QuotaClass {
        QuotaClass::kind(self.kind())
    }

    /// Every class [`quota_class`](JobSpec::quota_class) may answer (plans' config is
    /// checked against them).
    fn quota_classes(&self) -> Vec<QuotaClass> {
        vec![QuotaClass::kind(self.kind())]
    }

    /// How long results live.
    fn lifetimes(&self) -> Lifetimes {
        Lifetimes::DEFAULT
    }
}

/// Every kind a deployment accepts, by name.
#[derive(Clone, Default)]
pub struct Kinds {
    specs: BTreeMap<&'static str, Arc<dyn JobSpec>>,
}

impl Kinds {
    /// No kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a spec under its kind name.
    pub fn add(&mut self, spec: Arc<dyn JobSpec>) -> &mut Self {
        self.specs.insert(spec.kind(), spec);
        self
    }

    /// The spec of a kind, or `unknown_kind`.
    pub fn get(&self, kind: &str) -> Result<&Arc<dyn JobSpec>, SubmitError> {
        self.specs.get(kind).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            SubmitError::new(UNKNOWN_KIND, format!("unknown job kind {kind:?}; known: {}", known.join(", ")))
        })
    }

    /// Known kind names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.specs.keys().copied()
    }

    /// Every spec, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn JobSpec>> + '_ {
        self.specs.values()
    }

    /// Every quota class of every kind, sorted by name.
    pub fn quota_classes(&self) -> Vec<QuotaClass> {
        let mut all: Vec<QuotaClass> = self.specs.values().flat_map(|s| s.quota_classes()).collect();
        all.sort_by_key(|c| c.name);
        all.dedup_by_key(|c| c.name);
        all
    }
}

impl fmt::Debug for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.specs.keys()).finish()
    }
}
