//! `GET /v1/jobs/{id}/events`: Server-Sent Events of one job. The stream opens with the
//! job's current view, then sends every state, step and progress change as a `job`
//! event, and ends after the terminal state (with the full view, links included). Events
//! come from the engine's subscription, with a slow re-read of the row as a safety net.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tintype_queue::{Job, JobEvent, JobId, QueueError};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::views::{JobView, base_url};
use crate::{AppState, Tenant};

/// Opens the event stream of a job the tenant can see.
pub async fn stream(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = JobId(id);
    // Subscribe before reading the row so no change between the two is missed.
    let events = state.engine.subscribe();
    let job = state.engine.get(Some(&tenant.id), &id).await?.ok_or(QueueError::NotFound)?;
    let (tx, rx) = mpsc::channel(64);
    let base = base_url(&state, &headers);
    tokio::spawn(forward(state, base, job, events, tx));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

type Tx = mpsc::Sender<Result<Event, Infallible>>;

async fn forward(state: AppState, base: String, job: Job, mut events: broadcast::Receiver<JobEvent>, tx: Tx) {
    if !send_view(&state, &base, &job, &tx).await || job.state.is_terminal() {
        return;
    }
    let mut last = JobEvent::of(&job);
    // Events are the fast path; a slow poll of the row covers changes made where this
    // process hears no events (another process on a shared SQLite file) and lagging.
    let mut poll = tokio::time::interval(RESYNC);
    poll.tick().await;
    loop {
        let seen = tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) if ev.id == job.id => Some(ev),
                Ok(_) => None,
                Err(broadcast::error::RecvError::Lagged(_)) => match resync(&state, &job.id).await { Some(ev) => Some(ev), None => return },
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = poll.tick() => match resync(&state, &job.id).await { Some(ev) => Some(ev).filter(|ev| *ev != last), None => return },
            _ = tx.closed() => return,
        };
        let Some(ev) = seen else { continue };
        if ev.state.is_terminal() {
            let _ = send_final(&state, &base, &job.id, &tx).await;
            return;
        }
        if !send(&tx, &ev).await {
            return;
        }
        last = ev;
    }
}

/// How often an open stream re-reads its job when no event arrived.
const RESYNC: Duration = Duration::from_secs(1);

async fn resync(state: &AppState, id: &JobId) -> Option<JobEvent> {
    state.engine.get(None, id).await.ok().flatten().map(|job| JobEvent::of(&job))
}

async fn send_final(state: &AppState, base: &str, id: &JobId, tx: &Tx) -> bool {
    match state.engine.get(None, id).await {
        Ok(Some(job)) => send_view(state, base, &job, tx).await,
        _ => false,
    }
}

async fn send_view(state: &AppState, base: &str, job: &Job, tx: &Tx) -> bool {
    send(tx, &JobView::new(state, base, job).await).await
}

async fn send<T: serde::Serialize>(tx: &Tx, data: &T) -> bool {
    match Event::default().event("job").json_data(data) {
        Ok(event) => tx.send(Ok(event)).await.is_ok(),
        Err(_) => false,
    }
}
