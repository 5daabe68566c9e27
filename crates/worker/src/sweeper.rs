//! The sweeper: on an interval it returns jobs with expired leases to their queue,
//! deletes the artifacts of jobs past their expiry (marking them `expired`), and removes
//! leftovers of interrupted blob writes; on its clean-up sweeps it also runs the
//! [`Chore`]s other components gave it (the catalog's expired presigned uploads). Safe
//! to run in several processes at once: every change it makes is a guarded engine call
//! or a delete that is idempotent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use tintype_blobs::{BlobKey, BlobStore};
use tintype_queue::{Engine, QueueError};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::context::job_prefix;

/// How often and how much the sweeper does.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    /// Time between sweeps.
    pub interval: Duration,
    /// Jobs expired per sweep at most.
    pub expiry_batch: u32,
    /// Age after which temp files and incomplete uploads are removed.
    pub incomplete_max_age: Duration,
    /// Sweeps between two clean-ups of incomplete writes.
    pub cleanup_every: u32,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            expiry_batch: 100,
            incomplete_max_age: Duration::from_secs(7 * 24 * 3600),
            cleanup_every: 720,
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Jobs whose expired lease was rescued.
    pub rescued: usize,
    /// Jobs whose artifacts were deleted and which are now `expired`.
    pub expired: usize,
    /// Leftover temp files removed.
    pub incomplete_removed: u64,
    /// Things the chores removed.
    pub chores_removed: u64,
}

/// A clean-up another component owns, run on the sweeper's clean-up sweeps, so that the
/// worker knows nothing of what it cleans (`tintype-app` gives it the catalog's).
#[async_trait]
pub trait Chore: Send + Sync {
    /// Its name, for logs.
    fn name(&self) -> &'static str;
    /// One round; how many things it removed, or why it could not.
    async fn run(&self) -> Result<u64, String>;
}

/// Rescues leases and expires artifacts.
pub struct Sweeper {
    engine: Arc<dyn Engine>,
    blobs: Arc<dyn BlobStore>,
    config: SweeperConfig,
    chores: Vec<Arc<dyn Chore>>,
}

impl Sweeper {
    /// A sweeper over the given engine and store.
    pub fn new(engine: Arc<dyn Engine>, blobs: Arc<dyn BlobStore>, config: SweeperConfig) -> Self {
        Self { engine, blobs, config, chores: Vec::new() }
    }

    /// Adds a chore to the clean-up sweeps.
    pub fn with_chore(mut self, chore: Arc<dyn Chore>) -> Self {
        self.chores.push(chore);
        self
    }

    /// Sweeps every interval until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u32 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let cleanup = n.is_multiple_of(self.config.cleanup_every.max(1));
            n = n.wrapping_add(1);
            match self.sweep_once(cleanup).await {
                Ok(r) if r != SweepReport::default() => info!(?r, "sweep"),
                Ok(_) => debug!("sweep: nothing to do"),
                Err(e) => warn!(error = %e, "sweep failed"),
            }
        }
    }

    /// One sweep; `cleanup` also removes old incomplete writes.
    pub async fn sweep_once(&self, cleanup: bool) -> Result<SweepReport, QueueError> {
        let now = self.engine.now();
        let rescued = self.engine.rescue_expired(now).await?;
        for id in &rescued {
            info!(job = %id, "rescued a job whose lease expired");
        }
        let mut report = SweepReport { rescued: rescued.len(), ..SweepReport::default() };
        for job in self.engine.due_for_expiry(now, self.config.expiry_batch).await? {
            let mut ok = true;
            for artifact in job.output.iter().flat_map(|o| o.artifacts.iter()) {
                let deleted = match BlobKey::new(artifact.key.clone()) {
                    Ok(key) => self.blobs.delete(&key).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = deleted {
                    warn!(job = %job.id, key = %artifact.key, error = %e, "could not delete an expired artifact");
                    ok = false;
                }
            }
            if !ok {
                continue;
            }
            let folder = match job_prefix(&job) {
                Ok(prefix) => self.blobs.delete_prefix(&prefix).await,
                Err(e) => Err(e),
            };
            if let Err(e) = folder {
                warn!(job = %job.id, error = %e, "could not delete an expired job's folder");
                continue;
            }
            match self.engine.mark_expired(&job.id).await {
                Ok(_) => report.expired += 1,
                Err(QueueError::InvalidState(_)) => {} // another sweeper got there first
                Err(e) => return Err(e),
            }
        }
        if cleanup {
            match self.blobs.cleanup_incomplete(self.config.incomplete_max_age).await {
                Ok(n) => report.incomplete_removed = n,
                Err(e) => warn!(error = %e, "could not clean up incomplete writes"),
            }
            for chore in &self.chores {
                match chore.run().await {
                    Ok(n) => report.chores_removed += n,
                    Err(e) => warn!(chore = chore.name(), error = %e, "a clean-up chore failed"),
                }
            }
        }
        Ok(report)
    }
}
