//! `GET /v1/jobs/{id}/events`: Server-Sent Events of one job. The stream opens with the
//! job's current view, then sends every state, step and progress change as a `job`
//! event, and ends after the terminal state (with the full view, links included).

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
    loop {
        let event = tokio::select! {
            ev = events.recv() => ev,
            _ = tx.closed() => return,
        };
        match event {
            Ok(ev) if ev.id == job.id => {
                if ev.state.is_terminal() {
                    let _ = send_final(&state, &base, &job.id, &tx).await;
                    return;
                }
                if !send(&tx, &ev).await {
                    return;
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Missed some changes: resynchronise from the row.
                match state.engine.get(None, &job.id).await {
                    Ok(Some(now)) if now.state.is_terminal() => {
                        let _ = send_view(&state, &base, &now, &tx).await;
                        return;
                    }
                    Ok(Some(now)) if send(&tx, &JobEvent::of(&now)).await => {}
                    _ => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn send_final(state: &AppState, base: &str, id: &JobId, tx: &Tx) -> bool {
    match state.engine.get(None, id).await {
        Ok(Some(job)) => send_view(state, base, &job, tx).await,
        _ => false,
    }
}

async fn send_view(state: &AppState, base: &str, job: &Job, tx: &Tx) -> bool {
    send(tx, &JobView::new(state, base, job)).await
}

async fn send<T: serde::Serialize>(tx: &Tx, data: &T) -> bool {
    match Event::default().event("job").json_data(data) {
        Ok(event) => tx.send(Ok(event)).await.is_ok(),
        Err(_) => false,
    }
}
