//! The one suite every engine driver must pass (River's `riverdrivertest`, garage's
//! `db/test.rs`). Each case is a `pub async fn` taking a fresh, isolated [`Fixture`] whose
//! engine runs on a manual clock, so leases, schedules and backoff are tested by moving
//! the clock, never by sleeping. A driver's test file runs every case with
//! [`engine_conformance!`](crate::engine_conformance) and an async factory:
//!
//! ```text
//! async fn fixture(config: EngineConfig) -> Fixture { /* fresh database */ }
//! tintype_queue::engine_conformance!(fixture);
//! ```
//!
//! The cases live by area: [`jobs`] (enqueue, idempotency, claim), [`leases`] (fencing,
//! heartbeats, rescue, release), [`outcomes`] (failures, cancel, retry, expiry),
//! [`listing`] (list and events), [`admission`] (caps and counts).

pub mod admission;
pub mod jobs;
pub mod leases;
pub mod listing;
pub mod outcomes;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use crate::engine::Engine;
use crate::model::{Claimed, Job, NewJob};
use crate::{EngineConfig, RetryPolicy};
use tintype_db::Clock;

pub use admission::*;
pub use jobs::*;
pub use leases::*;
pub use listing::*;
pub use outcomes::*;

/// Runs every conformance case as its own `#[tokio::test]` against engines made by
/// `$factory`, an `async fn(EngineConfig) -> Fixture` (or a closure returning a future)
/// that must open a fresh, empty database honouring the config (its clock above all).
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! engine_conformance {
    // A factory that may find its database missing returns `Option<Fixture>`; `None`
    // skips the case (the factory says why, once).
    (optional $factory:expr) => {
        $crate::engine_conformance!(@list optional $factory);
    };
    ($factory:expr) => {
        $crate::engine_conformance!(@list always $factory);
    };
    (@list $mode:ident $factory:expr) => {
        $crate::engine_conformance!(@cases $mode $factory;
            enqueue_get_roundtrip, enqueue_validates, idempotency, claim_order,
            claim_filters_queues, claim_waits_for_run_at, claim_limit, concurrent_claimers,
            concurrent_writes,
            stale_lease_refused, heartbeat_extends_lease, progress_keeps_step,
            rescue_requeues, rescue_cancel_requested, rescue_last_attempt,
            release_gives_attempt_back, transient_failure_backs_off, permanent_failure,
            cancel_queued, cancel_running, cancel_finished, retry_failed,
            artifacts_expire, list_filters_and_pages, events_in_order, admission_caps_active_jobs,
            admission_holds_under_concurrency, counts_by_queue_and_state, claim_filters_kinds,
            daily_quota_counts_per_tenant_class_and_day, daily_quota_holds_under_concurrency,
            daily_quota_given_back_on_server_faults, claims_respect_running_caps,
            artifact_bytes_and_queue_depth);
    };
    (@cases always $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = ($factory)($crate::conformance::config()).await;
                $crate::conformance::$case(fixture).await;
            }
        )+
    };
    (@cases optional $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(fixture) = ($factory)($crate::conformance::config()).await {
                    $crate::conformance::$case(fixture).await;
                }
            }
        )+
    };
}

/// A fresh engine for one case, with the manual clock it runs on.
pub struct Fixture {
    /// The engine under test.
    pub engine: Arc<dyn Engine>,
    /// The config the engine was opened with.
    pub config: EngineConfig,
    /// Keeps the database alive (a temporary directory, a schema to drop) for the case.
    _guard: Box<dyn Any + Send + Sync>,
}

impl Fixture {
    /// Wraps an engine opened with `config`; `guard` is dropped when the case ends.
    pub fn new(engine: Arc<dyn Engine>, config: EngineConfig, guard: impl Any + Send + Sync) -> Self {
        Self { engine, config, _guard: Box::new(guard) }
    }

    /// The engine's manual clock.
    pub fn clock(&self) -> &Clock {
        &self.config.clock
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.config.clock.advance(by);
    }

    /// Enqueues `job`, which must be new.
    pub async fn enqueue(&self, job: NewJob) -> Job {
        let done = self.engine.enqueue(job).await.expect("enqueue");
        assert!(done.created, "a new job");
        done.job
    }

    /// Claims one job of `queue` with the standard lease; panics if there is none.
    pub async fn claim_one(&self, queue: &str) -> Claimed {
        let mut claimed = self.claim(&[queue], 1).await;
        assert_eq!(claimed.len(), 1, "one claimable job in {queue}");
        claimed.remove(0)
    }

    /// Claims up to `limit` jobs of `queues` as worker `w1` with the standard lease.
    pub async fn claim(&self, queues: &[&str], limit: usize) -> Vec<Claimed> {
        let queues: Vec<String> = queues.iter().map(|q| q.to_string()).collect();
        self.engine.claim("w1", &queues, limit, LEASE).await.expect("claim")
    }

    /// The job as stored now (any tenant).
    pub async fn job(&self, job: &Job) -> Job {
        self.engine.get(None, &job.id).await.expect("get").expect("job exists")
    }
}

/// The lease the cases claim with.
pub const LEASE: Duration = Duration::from_secs(30);

/// The config every case runs with: a manual clock standing at 2030-01-01T00:00:00Z, the
/// default retry policy, artifacts kept for a day.
pub fn config() -> EngineConfig {
    let start = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("valid start");
    EngineConfig {
        retry: RetryPolicy::default(),
        artifact_ttl: Duration::from_secs(24 * 3600),
        clock: Clock::manual(start),
        event_capacity: 1024,
    }
}

/// A job of kind `noop` for `tenant` in queue `default`.
pub fn noop(tenant: &str) -> NewJob {
    NewJob::new(tenant, "noop", serde_json::json!({ "n": 1 }))
}

/// A job of kind `noop` in `queue` with `priority`.
pub fn in_queue(queue: &str, priority: i32) -> NewJob {
    NewJob { queue: queue.into(), priority, ..noop("t1") }
}
