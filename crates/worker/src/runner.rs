//! The worker loop: claims jobs from its queues while it has free slots, runs each in its
//! own task (a panic fails that job, not the worker), heartbeats every lease it holds
//! (running and prefetched jobs alike), sees a cancel request as soon as the engine
//! publishes it (not only at the next heartbeat: a job waiting on a slow fetch reports
//! nothing), records the typed outcome, and on shutdown stops
//! claiming, lets running jobs finish within a grace period and hands the rest back to
//! the queue.

use std::sync::Arc;
use std::time::Duration;

use tintype_blobs::BlobStore;
use tintype_queue::{Claimed, Control, Engine, JobFailure, JobState, QueueError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use crate::context::{JobContext, Resources, job_prefix};

/// Least time between two reads of a running job's row prompted by its events.
const CANCEL_CHECK: Duration = Duration::from_millis(250);
use crate::error::JobError;
use crate::runners::Runners;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Name recorded as lease owner (host:pid:n by default).
    pub id: String,
    /// Queues served, in no particular order (priority decides within the claim).
    pub queues: Vec<String>,
    /// Most jobs running at once.
    pub concurrency: usize,
    /// Lease length; heartbeats renew it every third of it.
    pub lease: Duration,
    /// How long running jobs may finish after shutdown before they are handed back.
    pub shutdown_grace: Duration,
    /// Fallback poll when no event wakes the worker (scheduled and retrying jobs).
    pub poll_interval: Duration,
    /// Least time between persisted progress writes of one job.
    pub progress_interval: Duration,
    /// Most blocking (CPU) tasks at once across this worker's jobs.
    pub blocking_threads: usize,
    /// Jobs claimed ahead of free slots (0: claim only for free slots). Prefetching cuts
    /// claims for floods of short jobs; prefetched jobs are leased, and their leases are
    /// renewed while they wait. In a fleet of workers running long jobs, a prefetched job
    /// waits for this worker even when another is idle: set 0 there.
    pub prefetch: usize,
    /// The kinds this worker runs (empty: every kind it is given a runner for). The
    /// assembly builds runners for these only; the worker claims only kinds it has a
    /// runner for, so other kinds wait for the workers that run them.
    pub kinds: Vec<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            id: format!("worker-{}", std::process::id()),
            queues: tintype_queue::CPU_QUEUES.map(String::from).to_vec(),
            concurrency: 4,
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            progress_interval: Duration::from_millis(250),
            blocking_threads: cores,
            prefetch: 32,
            kinds: Vec::new(),
        }
    }
}

/// Claims and runs jobs until shut down.
pub struct Worker {
    engine: Arc<dyn Engine>,
    blobs: Arc<dyn BlobStore>,
    runners: Arc<Runners>,
    config: WorkerConfig,
}

impl Worker {
    /// A worker over the given engine, store and kinds' runners.
    pub fn new(
        engine: Arc<dyn Engine>,
        blobs: Arc<dyn BlobStore>,
        runners: Arc<Runners>,
        config: WorkerConfig,
    ) -> Self {
        Self { engine, blobs, runners, config }
    }

    /// Runs until `shutdown` fires, then drains as described in the module docs.
    pub async fn run(self, shutdown: CancellationToken) {
        let cfg = &self.config;
        // Only kinds this worker has a runner for: the rest stay queued for other workers.
        let served: Arc<Vec<String>> = Arc::new(self.runners.kinds().map(str::to_owned).collect());
        info!(worker = %cfg.id, queues = ?cfg.queues, kinds = ?served, concurrency = cfg.concurrency, "worker started");
        let mut events = self.engine.subscribe();
        let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let blocking = Arc::new(Semaphore::new(cfg.blocking_threads.max(1)));
        let hand_back = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut ready = std::collections::VecDeque::new();
        let resources = Resources {
            engine: self.engine.clone(),
            blobs: self.blobs.clone(),
            blocking,
            progress_interval: cfg.progress_interval,
        };
        let shared = Arc::new(Shared {
            engine: self.engine.clone(),
            runners: self.runners.clone(),
            resources,
            config: cfg.clone(),
        });
        // One claim at a time runs beside the dispatching below, topping `ready` up to the
        // free slots plus the prefetch, so jobs keep starting while the next ones are being
        // claimed. After a claim that came back short, the queues look empty: no new claim
        // until the ready jobs are gone and work is announced (or the poll interval passes).
        let mut claiming: Option<tokio::task::JoinHandle<Result<Vec<Claimed>, QueueError>>> = None;
        let mut drained = false;
        // Prefetched jobs hold leases too: renew them while they wait for a slot.
        let every = cfg.lease / 3;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            while tasks.try_join_next().is_some() {}
            if claiming.is_none() && !drained {
                let want = (slots.available_permits() + cfg.prefetch).saturating_sub(ready.len());
                if want > 0 {
                    let (engine, cfg, kinds) = (self.engine.clone(), cfg.clone(), served.clone());
                    claiming = Some(tokio::spawn(async move {
                        engine.claim_kinds(&cfg.id, &cfg.queues, Some(&kinds), want, cfg.lease).await
                    }));
                }
            }
            if ready.is_empty() && claiming.is_none() {
                if drained {
                    // Nothing to start and nothing claimable: wait for work.
                    if !self.wait_for_work(&mut events, &shutdown).await {
                        break;
                    }
                    drained = false;
                } else {
                    // Every slot is busy (and nothing is prefetched): wait for one to free.
                    tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => break,
                        slot = slots.acquire() => if slot.is_err() { break },
                    }
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                claimed = async { claiming.as_mut().expect("guarded").await }, if claiming.is_some() => {
                    claiming = None;
                    match claimed {
                        Ok(Ok(claimed)) => {
                            drained = claimed.is_empty();
                            ready.extend(claimed);
                        }
                        Ok(Err(e)) => {
                            warn!(error = %e, "claim failed; backing off");
                            tokio::select! { _ = tokio::time::sleep(cfg.poll_interval) => {}, _ = shutdown.cancelled() => break }
                        }
                        Err(e) => warn!(error = %e, "claim task ended abnormally"),
                    }
                }
                permit = slots.clone().acquire_owned(), if !ready.is_empty() => {
                    let Ok(permit) = permit else { break };
                    let claim = ready.pop_front().expect("guarded");
                    let run = JobRun { shared: shared.clone(), hand_back: hand_back.clone() };
                    tasks.spawn(run.run(claim, permit));
                }
                _ = beat.tick(), if !ready.is_empty() => self.renew_waiting(&mut ready).await,
            }
        }
        // A claim still in flight leases jobs nobody will start: hand them back too.
        if let Some(claim) = claiming
            && let Ok(Ok(claimed)) = claim.await
        {
            ready.extend(claimed);
        }
        for claim in ready {
            if let Err(e) = self.engine.release(&claim.lease).await {
                warn!(job = %claim.job.id, error = %e, "could not hand back a prefetched job; its lease will expire");
            }
        }
        self.drain(tasks, hand_back).await;
    }

    /// Renews the lease of every claimed job still waiting for a slot, at once. A job
    /// whose lease passed on is dropped; one whose tenant cancelled it is finished as
    /// cancelled without running.
    async fn renew_waiting(&self, ready: &mut std::collections::VecDeque<Claimed>) {
        let beats = ready.iter().map(|c| self.engine.heartbeat(&c.lease, self.config.lease));
        let outcomes = futures::future::join_all(beats).await;
        let mut keep = std::collections::VecDeque::with_capacity(ready.len());
        for (claim, outcome) in ready.drain(..).zip(outcomes) {
            match outcome {
                Ok(Control::Continue) => keep.push_back(claim),
                Ok(Control::Cancel) => {
                    if let Err(e) = self.engine.finish_cancelled(&claim.lease).await {
                        warn!(job = %claim.job.id, error = %e, "could not finish a cancelled prefetched job");
                    }
                }
                Err(QueueError::LeaseLost) => warn!(job = %claim.job.id, "a prefetched job's lease passed on"),
                Err(e) => {
                    warn!(job = %claim.job.id, error = %e, "could not renew a prefetched job's lease");
                    keep.push_back(claim);
                }
            }
        }
        *ready = keep;
    }

    /// Waits for a job to become claimable in one of our queues, the poll interval, or
    /// shutdown (false).
    async fn wait_for_work(
        &self,
        events: &mut broadcast::Receiver<tintype_queue::JobEvent>,
        shutdown: &CancellationToken,
    ) -> bool {
        let deadline = tokio::time::sleep(self.config.poll_interval);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) if ev.state == JobState::Queued && self.config.queues.contains(&ev.queue) => return true,
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => return true,
                    Err(broadcast::error::RecvError::Closed) => { (&mut deadline).await; return true }
                },
                _ = &mut deadline => return true,
                _ = shutdown.cancelled() => return false,
            }
        }
    }

    async fn drain(&self, mut tasks: JoinSet<()>, hand_back: CancellationToken) {
        if tasks.is_empty() {
            info!("worker stopped");
            return;
        }
        info!(running = tasks.len(), grace = ?self.config.shutdown_grace, "worker stopping; waiting for running jobs");
        let all_done = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.config.shutdown_grace, all_done).await.is_err() {
            warn!(left = tasks.len(), "grace period over; handing running jobs back to the queue");
            hand_back.cancel();
            while tasks.join_next().await.is_some() {}
        }
        info!("worker stopped");
    }
}

/// What every job task of one worker shares.
struct Shared {
    engine: Arc<dyn Engine>,
    runners: Arc<Runners>,
    resources: Resources,
    config: WorkerConfig,
}

/// Everything one job task needs.
struct JobRun {
    shared: Arc<Shared>,
    hand_back: CancellationToken,
}

impl std::ops::Deref for JobRun {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// How one attempt ended, before it is written to the engine.
enum Ending {
    /// The runner returned (or panicked); with the step it was in.
    Done(Result<tintype_queue::JobOutput, JobError>, Option<String>),
    HandBack,
}

impl JobRun {
    /// Runs one attempt while holding a slot; the slot is freed as soon as the runner
    /// returns, so writing the outcome overlaps the next claim (and outcomes written at
    /// the same moment share one statement).
    async fn run(self, claim: Claimed, slot: OwnedSemaphorePermit) {
        let job = &claim.job;
        let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempt,
            correlation_id = job.correlation_id.as_deref().unwrap_or("-"));
        async move {
            info!("job started");
            let ending = self.attempt(&claim).await;
            drop(slot);
            self.record(&claim, ending).await;
        }
        .instrument(span)
        .await
    }

    /// Runs the runner in its own task while heartbeating the lease.
    async fn attempt(&self, claim: &Claimed) -> Ending {
        let Some(runner) = self.runners.get(&claim.job.kind).cloned() else {
            let msg = format!("no runner for job kind {:?} in this worker", claim.job.kind);
            return Ending::Done(Err(JobError::permanent(crate::error::KIND_NOT_SERVED, msg)), None);
        };
        let cancel = CancellationToken::new();
        let ctx =
            JobContext::new(claim.job.clone(), claim.lease.clone(), cancel.clone(), runner.writes(), &self.resources);
        let watch = ctx.clone();
        let mut task = tokio::spawn(async move { runner.run(ctx).await }.in_current_span());
        let mut beat = tokio::time::interval(self.config.lease / 3);
        beat.tick().await;
        // Any change to this job (a cancel request among them) leads to one read of its
        // row, at most every CANCEL_CHECK: its own progress events come a few a second.
        let mut changes = Some(self.engine.subscribe());
        let mut last_check = tokio::time::Instant::now();
        let mut check_at: Option<tokio::time::Instant> = None;
        loop {
            let due = check_at;
            tokio::select! {
                change = async { changes.as_mut().expect("listening").recv().await }, if changes.is_some() => match change {
                    Ok(ev) if ev.id != claim.job.id => {}
                    Err(broadcast::error::RecvError::Closed) => changes = None,
                    _ => if check_at.is_none() {
                        check_at = Some((last_check + CANCEL_CHECK).max(tokio::time::Instant::now()));
                    },
                },
                _ = async { tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)).await }, if due.is_some() => {
                    check_at = None;
                    last_check = tokio::time::Instant::now();
                    if let Ok(Some(job)) = self.engine.get(None, &claim.job.id).await
                        && job.cancel_requested
                    {
                        cancel.cancel();
                    }
                }
                joined = &mut task => {
                    let result = match joined {
                        Ok(result) => result,
                        Err(e) if e.is_panic() => Err(JobError::permanent(crate::error::PANIC, panic_message(e.into_panic()))),
                        Err(e) => Err(JobError::transient(crate::error::ABORTED, e.to_string())),
                    };
                    return Ending::Done(result, watch.current_step());
                }
                _ = beat.tick() => match self.engine.heartbeat(&claim.lease, self.config.lease).await {
                    Ok(Control::Continue) => {}
                    Ok(Control::Cancel) => cancel.cancel(),
                    Err(QueueError::LeaseLost) => {
                        warn!("lease lost; stopping the job");
                        cancel.cancel();
                    }
                    Err(e) => warn!(error = %e, "heartbeat failed"),
                },
                _ = self.hand_back.cancelled() => {
                    cancel.cancel();
                    task.abort();
                    return Ending::HandBack;
                }
            }
        }
    }

    /// Writes the outcome, fenced by the lease; removes partial artifacts of jobs that
    /// ended without output.
    async fn record(&self, claim: &Claimed, ending: Ending) {
        let lease = &claim.lease;
        let written = match ending {
            Ending::HandBack => self.engine.release(lease).await.map(|_| "handed back"),
            Ending::Done(Ok(output), _) => self.engine.complete(lease, output).await.map(|_| "succeeded"),
            Ending::Done(Err(e), _) if e.is_cancelled() => {
                self.remove_artifacts(claim).await;
                self.engine.finish_cancelled(lease).await.map(|_| "cancelled")
            }
            Ending::Done(Err(e), step) => {
                let failure = JobFailure {
                    code: e.code.to_string(),
                    message: e.message.clone(),
                    step,
                    retryable: e.retryable,
                    server_fault: e.is_server_fault(),
                };
                match self.engine.fail(lease, failure).await {
                    Ok(job) if job.state == JobState::Failed => {
                        self.remove_artifacts(claim).await;
                        warn!(code = %e.code, error = %e.message, "job failed");
                        Ok("failed")
                    }
                    Ok(_) => {
                        info!(code = %e.code, error = %e.message, "job will retry");
                        Ok("retrying")
                    }
                    Err(err) => Err(err),
                }
            }
        };
        match written {
            Ok(outcome) => info!(outcome, "job finished"),
            Err(QueueError::LeaseLost) => {
                warn!("lease lost before the outcome was written; another attempt owns the job")
            }
            Err(e) => {
                warn!(error = %e, "could not record the job outcome; the lease will expire and the job be rescued")
            }
        }
    }

    async fn remove_artifacts(&self, claim: &Claimed) {
        let removed = match job_prefix(&claim.job) {
            Ok(prefix) => self.resources.blobs.delete_prefix(&prefix).await,
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            warn!(error = %e, "could not remove partial artifacts");
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("the job panicked: {text}")
}
