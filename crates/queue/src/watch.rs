//! One job's changes as a stream, for every follower (the SSE and WebSocket routes, the
//! CLI's `run`, the tests): the engine's events are the fast path, and a re-read of the
//! row when no event came for a while covers changes this process hears nothing of (a
//! worker in another process on a shared SQLite file) and a lagging subscription.
//!
//! [`watch`] yields the job's current row first, then a [`JobEvent`] for each change,
//! and ends after the first terminal state. [`until_terminal`] awaits that end and
//! returns the final row.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::engine::{Engine, Result};
use crate::error::QueueError;
use crate::model::{Job, JobEvent, JobId};

/// How often a watch re-reads its job when no event arrived (the engine's default).
pub const REREAD: Duration = Duration::from_secs(1);

/// What a watch yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Watched {
    /// The row when the watch began.
    Start(Box<Job>),
    /// A change since.
    Change(JobEvent),
}

impl Watched {
    /// The change's view of the job's state.
    pub fn event(&self) -> JobEvent {
        match self {
            Watched::Start(job) => JobEvent::of(job),
            Watched::Change(ev) => ev.clone(),
        }
    }
}

/// Follows a job (of `tenant`, when given) until it ends. `NotFound` when there is no
/// such job; the stream ends after the first terminal state it sees, or when the engine
/// stops publishing. Changes are never older than the previous one, and a change equal
/// to the previous (a re-read that found nothing new) is not repeated.
pub fn watch(
    engine: Arc<dyn Engine>,
    tenant: Option<String>,
    id: JobId,
    reread: Duration,
) -> impl Stream<Item = Result<Watched>> + Send + 'static {
    // Subscribe before reading the row, so no change between the two is missed.
    let events = engine.subscribe();
    futures::stream::unfold(State::Begin { engine, tenant, id, events, reread }, step)
}

enum State {
    Begin {
        engine: Arc<dyn Engine>,
        tenant: Option<String>,
        id: JobId,
        events: tokio::sync::broadcast::Receiver<JobEvent>,
        reread: Duration,
    },
    Follow {
        engine: Arc<dyn Engine>,
        id: JobId,
        events: tokio::sync::broadcast::Receiver<JobEvent>,
        reread: Duration,
        last: JobEvent,
    },
    Done,
}

async fn step(state: State) -> Option<(Result<Watched>, State)> {
    match state {
        State::Done => None,
        State::Begin { engine, tenant, id, mut events, reread } => {
            match fresh_row(&*engine, tenant.as_deref(), &id, &mut events).await {
                Ok(Some(job)) => {
                    let last = JobEvent::of(&job);
                    let next = if job.state.is_terminal() {
                        State::Done
                    } else {
                        State::Follow { engine, id, events, reread, last }
                    };
                    Some((Ok(Watched::Start(Box::new(job))), next))
                }
                Ok(None) => Some((Err(QueueError::NotFound), State::Done)),
                Err(e) => Some((Err(e), State::Done)),
            }
        }
        State::Follow { engine, id, mut events, reread, last } => loop {
            let seen = tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) if ev.id == id => Some(ev),
                    Ok(_) => None,
                    Err(RecvError::Lagged(_)) => match reread_row(&*engine, &id).await {
                        Ok(ev) => Some(ev),
                        Err(e) => return Some((Err(e), State::Done)),
                    },
                    Err(RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep(reread) => match reread_row(&*engine, &id).await {
                    Ok(ev) => Some(ev),
                    Err(e) => return Some((Err(e), State::Done)),
                },
            };
            let Some(ev) = seen.filter(|ev| *ev != last) else { continue };
            let next = if ev.state.is_terminal() {
                State::Done
            } else {
                State::Follow { engine, id, events, reread, last: ev.clone() }
            };
            return Some((Ok(Watched::Change(ev)), next));
        },
    }
}

/// The row, read after every event already published for it has been drained from the
/// subscription (and read again while there were some): an event that was queued before
/// the read describes an older change than the row, and would otherwise follow the
/// start as if it were newer (a job seen at `decoding`, then "fetching").
async fn fresh_row(
    engine: &dyn Engine,
    tenant: Option<&str>,
    id: &JobId,
    events: &mut tokio::sync::broadcast::Receiver<JobEvent>,
) -> Result<Option<Job>> {
    for _ in 0..8 {
        let job = engine.get(tenant, id).await?;
        let mut stale = false;
        loop {
            match events.try_recv() {
                Ok(ev) => stale |= ev.id == *id,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => stale = true,
                Err(_) => break,
            }
        }
        if !stale {
            return Ok(job);
        }
    }
    engine.get(tenant, id).await
}

async fn reread_row(engine: &dyn Engine, id: &JobId) -> Result<JobEvent> {
    engine.get(None, id).await?.map(|job| JobEvent::of(&job)).ok_or(QueueError::NotFound)
}

/// Awaits the end of a job (of `tenant`, when given) and returns its final row.
pub async fn until_terminal(engine: Arc<dyn Engine>, tenant: Option<String>, id: JobId) -> Result<Job> {
    use futures::StreamExt;
    let stream = watch(engine.clone(), tenant.clone(), id.clone(), REREAD);
    futures::pin_mut!(stream);
    while let Some(item) = stream.next().await {
        if let Watched::Start(job) = item?
            && job.state.is_terminal()
        {
            return Ok(*job);
        }
    }
    engine.get(tenant.as_deref(), &id).await?.ok_or(QueueError::NotFound)
}
