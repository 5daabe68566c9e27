//! Temporary throughput probe.
use std::sync::Arc;
use std::time::{Duration, Instant};
use tintype_queue::sqlite::SqliteEngine;
use tintype_queue::{Engine, EngineConfig, JobOutput, NewJob};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("b.db").display());
    let e = Arc::new(SqliteEngine::open(&url, EngineConfig::default()).await.unwrap());
    let n = 20_000usize;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..4 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..n / 4 {
                e.enqueue(NewJob::new("t1", "noop", serde_json::json!({"i": i, "p": p}))).await.unwrap();
            }
        }));
    }
    for w in 0..4 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let q = vec!["default".to_string()];
            let mut done = 0;
            let mut idle = 0;
            loop {
                let b = e.claim(&format!("w{w}"), &q, 32, Duration::from_secs(30)).await.unwrap();
                if b.is_empty() { idle += 1; if idle > 200 { break; } tokio::task::yield_now().await; continue; }
                idle = 0;
                for c in b { e.complete(&c.lease, JobOutput::default()).await.unwrap(); done += 1; }
            }
            done
        }));
    }
    for t in tasks { t.await.unwrap(); }
    let el = t.elapsed();
    println!("{n} jobs in {el:?}: {:.0} jobs/s", n as f64 / el.as_secs_f64());
    // latency: enqueue then claim, serial
    let mut lat = Vec::new();
    let q = vec!["lat".to_string()];
    for _ in 0..2000 {
        let t = Instant::now();
        e.enqueue(NewJob { queue: "lat".into(), ..NewJob::new("t1", "noop", serde_json::json!({})) }).await.unwrap();
        let c = e.claim("w", &q, 1, Duration::from_secs(30)).await.unwrap();
        lat.push(t.elapsed());
        e.complete(&c[0].lease, JobOutput::default()).await.unwrap();
    }
    lat.sort();
    println!("enqueue->claim p50 {:?} p99 {:?}", lat[lat.len()/2], lat[lat.len()*99/100]);
}
