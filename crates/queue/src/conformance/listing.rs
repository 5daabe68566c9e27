//! Conformance cases for reading jobs back: `list` filters and keyset pagination, and
//! the event stream a subscriber sees for one job.

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::broadcast;

use super::{Fixture, in_queue, noop};
use crate::model::{JobEvent, JobFilter, JobId, JobOutput, JobState, NewJob, Progress};

/// Filters narrow the list, pages come newest first, and paging visits every job once.
pub async fn list_filters_and_pages(f: Fixture) {
    let mut t1 = Vec::new();
    for i in 0..23 {
        let new = match i % 3 {
            0 => NewJob { kind: "print".into(), ..noop("t1") },
            1 => in_queue("low", 0),
            _ => noop("t1"),
        };
        t1.push(f.enqueue(new).await.id);
    }
    for _ in 0..4 {
        f.enqueue(noop("t2")).await;
    }
    let claimed = f.claim(&["low"], 2).await;

    let mut pages = 0;
    let mut seen = Vec::new();
    let mut filter = JobFilter { tenant: Some("t1".into()), limit: 5, ..Default::default() };
    loop {
        let page = f.engine.list(&filter).await.expect("list");
        pages += 1;
        assert!(page.jobs.len() <= 5);
        assert!(page.jobs.iter().all(|j| j.tenant == "t1"));
        seen.extend(page.jobs.into_iter().map(|j| j.id));
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor),
            None => break,
        }
    }
    let mut newest_first = t1.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, newest_first, "every job once, newest first");
    assert!(pages >= 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);

    let engine = &f.engine;
    let count = move |filter: JobFilter| async move { engine.list(&filter).await.unwrap().jobs.len() };
    let all = JobFilter { limit: 500, ..Default::default() };
    assert_eq!(count(all.clone()).await, 27, "no tenant: every tenant");
    assert_eq!(count(JobFilter { tenant: Some("t2".into()), ..all.clone() }).await, 4);
    assert_eq!(count(JobFilter { kind: Some("print".into()), ..all.clone() }).await, 8);
    assert_eq!(count(JobFilter { queue: Some("low".into()), ..all.clone() }).await, 8);
    assert_eq!(count(JobFilter { state: Some(JobState::Running), ..all.clone() }).await, 2);
    let running = f.engine.list(&JobFilter { state: Some(JobState::Running), ..all.clone() }).await.unwrap();
    let ids: HashSet<JobId> = running.jobs.into_iter().map(|j| j.id).collect();
    assert_eq!(ids, claimed.into_iter().map(|c| c.job.id).collect());
    let narrow = JobFilter {
        tenant: Some("t1".into()),
        state: Some(JobState::Queued),
        queue: Some("default".into()),
        kind: Some("noop".into()),
        ..all.clone()
    };
    assert_eq!(count(narrow).await, 7);
    assert_eq!(count(JobFilter { tenant: Some("t3".into()), ..all }).await, 0);

    let default_page = f.engine.list(&JobFilter::default()).await.unwrap();
    assert_eq!((default_page.jobs.len(), default_page.next_cursor), (27, None), "limit 0 means 50");
}

async fn next_for(rx: &mut broadcast::Receiver<JobEvent>, id: &JobId) -> JobEvent {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(event) if &event.id == id => return event,
                Ok(_) => continue,
                Err(e) => panic!("event stream: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("an event within 10 s")
}

/// A subscriber sees queued, running, progress and succeeded, in order; a heartbeat
/// publishes nothing; a claim of many jobs publishes each.
pub async fn events_in_order(f: Fixture) {
    let mut rx = f.engine.subscribe();
    let job = f.enqueue(NewJob { queue: "high".into(), ..noop("t1") }).await;
    let queued = next_for(&mut rx, &job.id).await;
    assert_eq!((queued.state, queued.queue.as_str(), queued.tenant.as_str()), (JobState::Queued, "high", "t1"));

    let lease = f.claim_one("high").await.lease;
    let running = next_for(&mut rx, &job.id).await;
    assert_eq!((running.state, running.attempt), (JobState::Running, 1));

    f.engine.heartbeat(&lease, Duration::from_secs(30)).await.unwrap();
    let report = Progress { step: Some("resize".into()), progress: 0.5, message: Some("half".into()) };
    f.engine.progress(&lease, report).await.unwrap();
    let progress = next_for(&mut rx, &job.id).await;
    assert_eq!(progress.state, JobState::Running, "the heartbeat published nothing");
    assert_eq!((progress.step.as_deref(), progress.progress), (Some("resize"), 0.5));
    assert_eq!(progress.message.as_deref(), Some("half"));

    f.engine.complete(&lease, JobOutput::default()).await.unwrap();
    let done = next_for(&mut rx, &job.id).await;
    assert_eq!((done.state, done.progress), (JobState::Succeeded, 1.0));

    // One claim of many jobs publishes every one of them (PostgreSQL sends a statement's
    // events together, in chunks under its payload limit).
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..60 {
        ids.insert(f.enqueue(NewJob { queue: "bulk".into(), ..noop("t1") }).await.id);
    }
    let claimed = f.claim(&["bulk"], 60).await;
    assert_eq!(claimed.len(), 60);
    let mut running = std::collections::BTreeSet::new();
    while running.len() < ids.len() {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an event").expect("open");
        if ev.state == JobState::Running && ids.contains(&ev.id) {
            running.insert(ev.id);
        }
    }
    assert_eq!(running, ids);
}
