//! [`JobContext`]: everything a running job may touch. It reports steps and progress
//! (throttled, fenced by the lease), says when to stop, writes artifacts under the job's
//! own prefix (and blobs in the tenant areas its kind declares), and runs blocking work
//! on a bounded pool off the async executor.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tintype_blobs::layout::{self, Area};
use tintype_blobs::{BlobKey, BlobStore, ByteStream, PutOptions};
use tintype_queue::{Artifact, Control, Engine, Job, Lease, Progress, QueueError};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::error::{JobError, ResultExt};

/// Handed to [`crate::JobRunner::run`]; cheap to clone.
#[derive(Clone)]
pub struct JobContext {
    inner: Arc<Inner>,
}

struct Inner {
    job: Job,
    lease: Lease,
    engine: Arc<dyn Engine>,
    blobs: Arc<dyn BlobStore>,
    cancel: CancellationToken,
    blocking: Arc<Semaphore>,
    progress_interval: Duration,
    areas: &'static [Area],
    reported: Mutex<Reported>,
}

/// What every job of one worker shares: the engine, the store, the blocking pool and
/// how often progress is written.
#[derive(Clone)]
pub struct Resources {
    /// The engine (fenced progress writes).
    pub engine: Arc<dyn Engine>,
    /// The blob store.
    pub blobs: Arc<dyn BlobStore>,
    /// Permits of the bounded blocking pool.
    pub blocking: Arc<Semaphore>,
    /// Least time between two progress writes.
    pub progress_interval: Duration,
}

struct Reported {
    step: Option<String>,
    progress: f64,
    at: Option<Instant>,
}

impl JobContext {
    /// A context for one claimed job. `cancel` is triggered by the worker when a heartbeat
    /// reports a cancel request or a lost lease; `areas` are the tenant areas the kind
    /// may write to besides its own folder.
    pub fn new(job: Job, lease: Lease, cancel: CancellationToken, areas: &'static [Area], with: &Resources) -> Self {
        let reported = Mutex::new(Reported { step: None, progress: 0.0, at: None });
        let inner = Inner {
            job,
            lease,
            engine: with.engine.clone(),
            blobs: with.blobs.clone(),
            cancel,
            blocking: with.blocking.clone(),
            progress_interval: with.progress_interval,
            areas,
            reported,
        };
        Self { inner: Arc::new(inner) }
    }

    /// The job as claimed.
    pub fn job(&self) -> &Job {
        &self.inner.job
    }

    /// The job's input, parsed; a mismatch is a permanent `invalid_input` error.
    pub fn input<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.inner.job.input.clone()).permanent()
    }

    /// The blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.inner.blobs
    }

    /// Fires when the job should stop (cancel requested, or lease lost).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// `Err(cancelled)` once the job should stop.
    pub fn check_cancelled(&self) -> Result<(), JobError> {
        if self.inner.cancel.is_cancelled() { Err(JobError::cancelled()) } else { Ok(()) }
    }

    /// The step last reported.
    pub fn current_step(&self) -> Option<String> {
        self.inner.reported.lock().map(|r| r.step.clone()).unwrap_or(None)
    }

    /// Enters a new step: always persisted and published, then checks for cancellation.
    pub async fn step(&self, name: &str) -> Result<(), JobError> {
        self.check_cancelled()?;
        self.report(Some(name.to_owned()), None, None, true).await
    }

    /// Reports progress (0.0 ..= 1.0) within the current step. Persisted at most once per
    /// progress interval (the last report of a step always goes through the next `step`);
    /// checks for cancellation every time.
    pub async fn progress(&self, fraction: f64, message: Option<String>) -> Result<(), JobError> {
        self.check_cancelled()?;
        self.report(None, Some(fraction), message, false).await
    }

    async fn report(
        &self,
        step: Option<String>,
        fraction: Option<f64>,
        message: Option<String>,
        force: bool,
    ) -> Result<(), JobError> {
        let progress = {
            let mut r = self
                .inner
                .reported
                .lock()
                .map_err(|_| JobError::permanent(tintype_codes::common::INTERNAL, "poisoned"))?;
            if let Some(f) = fraction {
                r.progress = f.clamp(0.0, 1.0);
            }
            let due = r.at.is_none_or(|at| at.elapsed() >= self.inner.progress_interval);
            if !(force || due) {
                return Ok(());
            }
            r.at = Some(Instant::now());
            if step.is_some() {
                r.step = step.clone();
            }
            Progress { step, progress: r.progress, message }
        };
        match self.inner.engine.progress(&self.inner.lease, progress).await {
            Ok(Control::Continue) => Ok(()),
            Ok(Control::Cancel) => {
                self.inner.cancel.cancel();
                Err(JobError::cancelled())
            }
            Err(QueueError::LeaseLost) => {
                self.inner.cancel.cancel();
                Err(JobError::transient(tintype_queue::error::LEASE_LOST, "the lease passed to another worker"))
            }
            Err(e) => Err(e).retryable(),
        }
    }

    /// The blob key of an artifact of this job: `t/<tenant>/jobs/<job>/<name>`.
    pub fn artifact_key(&self, name: &str) -> Result<BlobKey, JobError> {
        let job = &self.inner.job;
        layout::artifact(&job.tenant, &job.id.0, name).permanent()
    }

    /// The prefix under which every artifact of this job lives.
    pub fn artifact_prefix(&self) -> Result<String, JobError> {
        job_prefix(&self.inner.job).permanent()
    }

    /// Streams an artifact into the store (never buffered whole), hashing it on the way.
    pub async fn put_artifact(&self, name: &str, content_type: &str, body: ByteStream) -> Result<Artifact, JobError> {
        self.put_artifact_sized(name, content_type, body, None).await
    }

    /// [`put_artifact`](Self::put_artifact) for a body of about `size_hint` bytes (the
    /// store sizes its multipart parts from it: an export of any size fits S3's 10,000).
    pub async fn put_artifact_sized(
        &self,
        name: &str,
        content_type: &str,
        body: ByteStream,
        size_hint: Option<u64>,
    ) -> Result<Artifact, JobError> {
        let key = self.artifact_key(name)?;
        self.put_key(key, name, content_type, body, size_hint).await
    }

    /// Streams a blob into one of the tenant's areas other than the job's own folder
    /// (`t/<tenant>/photos/<photo>/<size>.<ext>` for the library): only the areas the
    /// kind's runner declares ([`crate::JobRunner::writes`]); anything else is refused.
    /// The returned record names the blob; it is not one of the job's artifacts.
    pub async fn put_in(
        &self,
        area: Area,
        rest: &str,
        content_type: &str,
        body: ByteStream,
    ) -> Result<Artifact, JobError> {
        if !self.inner.areas.contains(&area) {
            let msg = format!("this job kind does not write to {}", area.segment());
            return Err(JobError::permanent(tintype_codes::common::INTERNAL, msg));
        }
        let key = layout::in_area(&self.inner.job.tenant, area, rest).permanent()?;
        self.put_key(key, rest, content_type, body, None).await
    }

    async fn put_key(
        &self,
        key: BlobKey,
        name: &str,
        content_type: &str,
        body: ByteStream,
        size_hint: Option<u64>,
    ) -> Result<Artifact, JobError> {
        let hasher = Arc::new(Mutex::new((Sha256::new(), 0u64)));
        let tap = hasher.clone();
        let body: ByteStream = Box::pin(body.map(move |chunk| {
            if let (Ok(bytes), Ok(mut h)) = (&chunk, tap.lock()) {
                h.0.update(bytes);
                h.1 += bytes.len() as u64;
            }
            chunk
        }));
        let opts = PutOptions { content_type: Some(content_type.to_owned()), size_hint };
        self.inner.blobs.put(&key, body, opts).await.retryable()?;
        let (digest, bytes) = {
            let h = hasher.lock().map_err(|_| JobError::permanent(tintype_codes::common::INTERNAL, "poisoned"))?;
            (h.0.clone().finalize(), h.1)
        };
        Ok(Artifact {
            name: name.to_owned(),
            key: key.as_str().to_owned(),
            bytes,
            sha256: hex::encode(digest),
            content_type: content_type.to_owned(),
        })
    }

    /// Runs CPU-heavy or blocking work on the blocking pool, at most as many at once as
    /// the worker allows. A panic inside becomes a permanent `panic` error.
    pub async fn blocking<R, F>(&self, f: F) -> Result<R, JobError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let _permit = self
            .inner
            .blocking
            .acquire()
            .await
            .map_err(|_| JobError::transient(crate::error::SHUTTING_DOWN, "pool closed"))?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(f))
            .await
            .map_err(|e| JobError::permanent(crate::error::PANIC, format!("blocking task failed: {e}")))
    }
}

/// `t/<tenant>/jobs/<job>/`: where a job's artifacts live (see [`layout::job_prefix`]);
/// refused for a row whose tenant or id is not one key segment.
pub fn job_prefix(job: &Job) -> Result<String, tintype_blobs::BlobError> {
    layout::job_prefix(&job.tenant, &job.id.0)
}
