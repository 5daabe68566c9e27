//! The job model: ids, states, the rows the engine stores and the values it takes and
//! returns. Everything here is plain data; the drivers own the SQL that stores it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A job id: `job_` followed by a UUIDv7 in lowercase hex, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl JobId {
    /// A fresh, time-sortable id.
    pub fn new() -> Self {
        Self(format!("job_{}", uuid::Uuid::now_v7().simple()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for JobId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Where a job is in its life. The same machine is drawn in `docs/job-states.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to run: new, scheduled, or waiting to retry (`run_at` in the future).
    /// `enqueue`, `retry`, a transient `fail`, `release` and lease rescue move jobs in;
    /// `claim` (to running) and `cancel` (to cancelled) move them out.
    Queued,
    /// Leased by one worker, which heartbeats the lease. Leaves by `complete`, `fail`,
    /// `finish_cancelled`, `release`, or lease rescue when the worker is gone.
    Running,
    /// Finished with an output. Stays until its artifacts expire (then `expired`).
    Succeeded,
    /// Failed permanently or out of attempts: the dead-letter list. `retry` re-queues it.
    Failed,
    /// Cancelled by its tenant, while queued or running. `retry` re-queues it.
    Cancelled,
    /// Succeeded once, and the sweeper has since deleted its artifacts. Final.
    Expired,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Expired,
    ];

    /// The stored and public name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Expired => "expired",
        }
    }

    /// Parses a stored or public name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// True once no worker will touch the job again (without an explicit retry).
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored result file of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// File name shown to clients (and used in `Content-Disposition`).
    pub name: String,
    /// Blob key, derived from the job id so a re-run overwrites rather than duplicates.
    pub key: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// MIME type.
    pub content_type: String,
}

/// What a succeeded job produced: its artifacts and a pipeline-specific result document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobOutput {
    /// Stored files.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Pipeline-specific details (qualities chosen, warnings, ...).
    #[serde(default)]
    pub result: serde_json::Value,
}

/// Why a job failed (its last failure, kept while it waits to retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    /// Stable machine-readable code, e.g. `unsupported_format`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The step the job was in.
    pub step: Option<String>,
    /// Whether the failure may succeed on another attempt.
    pub retryable: bool,
    /// The server's fault (a dependency down, a bug), not the input's: a job that fails
    /// for good this way gives back the daily quota it was counted against. Not stored.
    #[serde(default, skip_serializing)]
    pub server_fault: bool,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Time-sortable id.
    pub id: JobId,
    /// Owner.
    pub tenant: String,
    /// Pipeline name (`print`, ...).
    pub kind: String,
    /// Queue it waits in.
    pub queue: String,
    /// Higher runs first within a queue.
    pub priority: i32,
    /// Lifecycle state.
    pub state: JobState,
    /// Where a running job is (pipeline-defined), or where a failed one failed.
    pub step: Option<String>,
    /// 0.0 ..= 1.0.
    pub progress: f64,
    /// Latest progress message.
    pub message: Option<String>,
    /// Claims so far (the running attempt's number while running).
    pub attempt: i32,
    /// Claims allowed before a transient failure becomes final.
    pub max_attempts: i32,
    /// Not claimed before this time.
    pub run_at: DateTime<Utc>,
    /// Worker holding the lease, while running.
    pub lease_owner: Option<String>,
    /// Lease expiry, while running.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Set by `cancel` on a running job; the job sees it at its next check.
    pub cancel_requested: bool,
    /// Tenant-scoped idempotency key.
    pub idempotency_key: Option<String>,
    /// Pipeline input document.
    pub input: serde_json::Value,
    /// Result, once succeeded.
    pub output: Option<JobOutput>,
    /// Last failure.
    pub error: Option<JobFailure>,
    /// Request id of the request that created the job.
    pub correlation_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// Reached a terminal state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the sweeper deletes its artifacts.
    pub artifacts_expire_at: Option<DateTime<Utc>>,
}

/// Every queue a job may name (SPEC §2): interactive work first, then the rest; `gpu`
/// only for workers with an accelerator.
pub const QUEUES: [&str; 5] = ["high", "default", "low", "batch", "gpu"];

/// The queues a worker serves unless told otherwise: all but `gpu`.
pub const CPU_QUEUES: [&str; 4] = ["high", "default", "low", "batch"];

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Owner.
    pub tenant: String,
    /// Pipeline name.
    pub kind: String,
    /// Queue (default `default`).
    pub queue: String,
    /// Higher runs first (default 0).
    pub priority: i32,
    /// Pipeline input.
    pub input: serde_json::Value,
    /// Claims allowed (default 3).
    pub max_attempts: i32,
    /// Earliest start; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// Tenant-scoped idempotency key.
    pub idempotency_key: Option<String>,
    /// Request id that created it.
    pub correlation_id: Option<String>,
    /// How long artifacts live after success.
    pub artifact_ttl: Option<std::time::Duration>,
    /// What the enqueue must check atomically with the insert (a plan's caps).
    #[serde(default)]
    pub admission: Admission,
    /// At most this many of the tenant's jobs running at once: a claim passes over this
    /// job while its tenant runs that many (fair claims; `None`: no cap).
    #[serde(default)]
    pub running_cap: Option<u32>,
}

/// Rules `enqueue` checks atomically with the insert, so that concurrent submissions
/// cannot slip past a cap or a quota together. An idempotent replay (same key, same
/// body) returns the existing job without being counted again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// At most this many of the tenant's jobs queued or running at once, the new one
    /// included; more is refused with `TooManyActive`.
    pub max_active: Option<u32>,
    /// A daily quota the job counts against (the UTC day of the engine's clock); when it
    /// is spent, `QuotaExceeded` and nothing is enqueued.
    pub daily: Option<DailyQuota>,
}

impl Admission {
    /// Whether anything is checked.
    pub fn is_empty(&self) -> bool {
        self.max_active.is_none() && self.daily.is_none()
    }
}

/// One daily quota: at most `limit` jobs of `class` per tenant per UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyQuota {
    /// The quota class (`print_pack`, `export`, ...).
    pub class: String,
    /// Jobs a day.
    pub limit: u64,
}

/// What a tenant has used: its active jobs, and its daily counts on `day`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    /// The UTC day the counts are of (`2026-12-02`).
    pub day: String,
    /// Jobs queued or running.
    pub active: u64,
    /// Jobs counted today by quota class (classes without a count are absent).
    pub daily: std::collections::BTreeMap<String, u64>,
}

/// How many jobs one queue holds in one (active) state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCount {
    /// The queue.
    pub queue: String,
    /// `queued` (scheduled and retrying included) or `running`.
    pub state: JobState,
    /// Jobs.
    pub count: u64,
}

impl NewJob {
    /// A job with the defaults: queue `default`, priority 0, 3 attempts, run now.
    pub fn new(tenant: impl Into<String>, kind: impl Into<String>, input: serde_json::Value) -> Self {
        Self {
            tenant: tenant.into(),
            kind: kind.into(),
            queue: "default".into(),
            priority: 0,
            input,
            max_attempts: 3,
            run_at: None,
            idempotency_key: None,
            correlation_id: None,
            artifact_ttl: None,
            admission: Admission::default(),
            running_cap: None,
        }
    }

    /// Refuses what no engine stores: empty or overlong names (over [`MAX_NAME_BYTES`]),
    /// no attempts, an empty idempotency key.
    pub fn validate(&self) -> Result<(), crate::QueueError> {
        let long = |name: &str| name.len() > MAX_NAME_BYTES;
        let problem = if self.tenant.is_empty() {
            "tenant must not be empty"
        } else if self.kind.is_empty() {
            "kind must not be empty"
        } else if self.queue.is_empty() {
            "queue must not be empty"
        } else if long(&self.tenant) || long(&self.kind) || long(&self.queue) {
            "tenant, kind and queue are at most 128 bytes"
        } else if self.max_attempts < 1 {
            "max_attempts must be at least 1"
        } else if self.idempotency_key.as_deref() == Some("") {
            "idempotency key must not be empty"
        } else {
            return Ok(());
        };
        Err(crate::QueueError::Invalid(problem.into()))
    }

    /// The fingerprint compared when an idempotency key is reused: kind, queue, priority
    /// and input. Equal fingerprints mean "the same request".
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let doc = serde_json::json!([self.kind, self.queue, self.priority, self.input]);
        hex::encode(Sha256::digest(doc.to_string().as_bytes()))
    }
}

/// What `enqueue` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The job (new, or the one the idempotency key already named).
    pub job: Job,
    /// False when an earlier job with the same key and body was returned.
    pub created: bool,
}

/// Proof of a claim: every write a worker makes about its job carries this, and the
/// engine refuses it once the lease has passed to someone else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The leased job.
    pub job_id: JobId,
    /// Random token minted by this claim.
    pub token: String,
}

/// A job handed to a worker by `claim`.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The job as claimed (state running, attempt incremented).
    pub job: Job,
    /// The fence for every later write.
    pub lease: Lease,
}

/// What a worker should do after a heartbeat or a progress write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// The tenant asked to cancel: stop, clean up, `finish_cancelled`.
    Cancel,
}

/// Longest tenant, kind or queue name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest step name stored, in characters (longer ones are cut).
pub const MAX_STEP_CHARS: usize = 200;
/// Longest progress message stored, in characters (longer ones are cut): progress is
/// for humans watching, and every report travels to every event stream.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// A progress report from a running job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Current step, if it changed or to restate it.
    pub step: Option<String>,
    /// 0.0 ..= 1.0.
    pub progress: f64,
    /// Message for humans.
    pub message: Option<String>,
}

impl Progress {
    /// The report as engines store it: progress clamped to 0..=1, step and message cut
    /// to [`MAX_STEP_CHARS`] and [`MAX_MESSAGE_CHARS`].
    pub fn bounded(self) -> Self {
        fn cut(text: String, chars: usize) -> String {
            match text.char_indices().nth(chars) {
                Some((end, _)) => text[..end].to_owned(),
                None => text,
            }
        }
        Self {
            step: self.step.map(|s| cut(s, MAX_STEP_CHARS)),
            progress: if self.progress.is_nan() { 0.0 } else { self.progress.clamp(0.0, 1.0) },
            message: self.message.map(|m| cut(m, MAX_MESSAGE_CHARS)),
        }
    }
}

/// A change to a job, published to subscribers (SSE, idle workers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub id: JobId,
    /// Its tenant.
    pub tenant: String,
    /// Its queue (idle workers of that queue wake when a job becomes claimable).
    pub queue: String,
    /// New state.
    pub state: JobState,
    /// Current step.
    pub step: Option<String>,
    /// Current progress.
    pub progress: f64,
    /// Current message.
    pub message: Option<String>,
    /// Attempt number.
    pub attempt: i32,
}

impl JobEvent {
    /// The event describing a job's current row.
    pub fn of(job: &Job) -> Self {
        Self {
            id: job.id.clone(),
            tenant: job.tenant.clone(),
            queue: job.queue.clone(),
            state: job.state,
            step: job.step.clone(),
            progress: job.progress,
            message: job.message.clone(),
            attempt: job.attempt,
        }
    }
}

/// Filters for `list`. Results are newest first; `cursor` is the last id of the previous
/// page (keyset pagination: stable under inserts).
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this tenant's jobs (`None`: every tenant, for operators).
    pub tenant: Option<String>,
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// Only jobs in this queue.
    pub queue: Option<String>,
    /// Only ids strictly older than this one.
    pub cursor: Option<JobId>,
    /// Page size (the engine caps it at 500; 0 means 50).
    pub limit: u32,
}

/// One page of `list`.
#[derive(Debug, Clone)]
pub struct JobPage {
    /// The jobs, newest first.
    pub jobs: Vec<Job>,
    /// Cursor for the next page, when there may be one.
    pub next_cursor: Option<JobId>,
}
