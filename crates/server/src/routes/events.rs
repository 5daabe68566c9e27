//! `GET /v1/jobs/{id}/events`: Server-Sent Events of one job. The stream opens with the
//! job's current view, then sends every state, step and progress change as a `job`
//! event, and ends after the terminal state (with the full view, links included). The
//! changes come from [`tintype_queue::watch`] (engine events, with a re-read of the row
//! when none came).

use axum::Router;
use axum::routing::get;
use std::convert::Infallible;
use std::pin::Pin;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tintype_queue::watch::{REREAD, Watched, watch};
use tintype_queue::{Job, JobId, QueueError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::views::{JobView, base_url};
use crate::{AppState, Tenant};

/// `GET /v1/jobs/{id}/events`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/jobs/{id}/events", get(stream))
}

/// Opens the event stream of a job the tenant can see.
pub async fn stream(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut changes = Box::pin(watch(state.engine.clone(), Some(tenant.id), JobId(id), REREAD));
    let Some(Watched::Start(job)) = changes.next().await.transpose()? else {
        return Err(QueueError::NotFound.into());
    };
    let (tx, rx) = mpsc::channel(64);
    let base = base_url(&state, &headers);
    tokio::spawn(forward(state, base, *job, changes, tx));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

type Tx = mpsc::Sender<Result<Event, Infallible>>;

/// The first view, every change, and the full view again at the end.
async fn forward(
    state: AppState,
    base: String,
    job: Job,
    mut changes: Pin<Box<impl Stream<Item = Result<Watched, QueueError>>>>,
    tx: Tx,
) {
    if !send_view(&state, &base, &job, &tx).await || job.state.is_terminal() {
        return;
    }
    loop {
        let change = tokio::select! {
            change = changes.next() => change,
            _ = tx.closed() => return,
        };
        let Some(Ok(Watched::Change(ev))) = change else { return };
        if ev.state.is_terminal() {
            let _ = send_final(&state, &base, &job.id, &tx).await;
            return;
        }
        if !send(&tx, &ev).await {
            return;
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
    send(tx, &JobView::new(state, base, job).await).await
}

async fn send<T: serde::Serialize>(tx: &Tx, data: &T) -> bool {
    match Event::default().event("job").json_data(data) {
        Ok(event) => tx.send(Ok(event)).await.is_ok(),
        Err(_) => false,
    }
}
