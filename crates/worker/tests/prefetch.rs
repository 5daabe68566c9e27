//! Prefetched jobs keep their leases: a worker with one slot and a prefetch of two holds
//! two claimed jobs while a slow one runs; their leases (short here) are renewed while
//! they wait, so a sweep in the middle rescues nothing, and each job runs exactly once.
//! The checks are made at the slow job's progress events (awaited, not slept for).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tintype_blobs::LocalStore;
use tintype_queue::sqlite::SqliteEngine;
use tintype_queue::watch::{REREAD, Watched, watch};
use tintype_queue::{Engine, EngineConfig, JobId, JobState, NewJob};
use tintype_worker::{Runners, Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_jobs_keep_their_leases_while_they_wait() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let engine: Arc<dyn Engine> = Arc::new(SqliteEngine::open(&url, EngineConfig::default()).await.unwrap());
    let blobs = Arc::new(LocalStore::open(dir.path().join("blobs")).unwrap());
    let slow = NewJob { priority: 10, ..NewJob::new("t1", "sleep", serde_json::json!({"ms": 2400, "steps": 4})) };
    let slow = engine.enqueue(slow).await.unwrap().job.id;
    let mut waiting = Vec::new();
    for _ in 0..2 {
        waiting.push(engine.enqueue(NewJob::new("t1", "noop", serde_json::json!({}))).await.unwrap().job.id);
    }
    let mut runners = Runners::new();
    tintype_worker::builtin::runners(&mut runners);
    let lease = Duration::from_millis(300);
    let config = WorkerConfig { concurrency: 1, prefetch: 2, lease, ..WorkerConfig::default() };
    let stop = CancellationToken::new();
    let worker = tokio::spawn(Worker::new(engine.clone(), blobs, Arc::new(runners), config).run(stop.clone()));

    // At each progress report of the slow job (every 600 ms, twice the lease), the two
    // prefetched jobs are still leased to the worker and their leases have not lapsed.
    let changes = watch(engine.clone(), None, slow.clone(), REREAD);
    futures::pin_mut!(changes);
    let mut checks = 0;
    while let Some(change) = changes.next().await {
        let Watched::Change(ev) = change.unwrap() else { continue };
        if ev.state != JobState::Running || ev.progress == 0.0 || ev.progress >= 1.0 {
            continue;
        }
        for id in &waiting {
            let job = engine.get(None, id).await.unwrap().unwrap();
            assert_eq!(job.state, JobState::Running, "{id} is claimed (prefetched)");
            assert!(job.lease_expires_at.unwrap() > engine.now(), "{id}'s lease lapsed while it waited");
        }
        assert_eq!(engine.rescue_expired(engine.now()).await.unwrap(), Vec::<JobId>::new(), "nothing to rescue");
        checks += 1;
    }
    assert!(checks >= 2, "checked at {checks} progress reports");
    for id in waiting.iter().chain([&slow]) {
        let job = tintype_queue::watch::until_terminal(engine.clone(), None, id.clone()).await.unwrap();
        assert_eq!((job.state, job.attempt), (JobState::Succeeded, 1), "{id} ran once");
    }
    stop.cancel();
    worker.await.unwrap();
}
