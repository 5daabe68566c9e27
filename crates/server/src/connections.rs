//! The connection layer under the router: hyper's HTTP/1 server with the limits
//! `axum::serve` leaves unset. A client that sends its request head too slowly, sends
//! nothing at all, or keeps a connection idle between requests, is cut after
//! `header_timeout` (hyper's header timer runs from the moment a connection waits for a
//! head: it bounds idle keep-alive connections too); at most `max_connections`
//! connections are served at once (the rest wait in the kernel's backlog until one
//! closes); an accept that fails for want of file descriptors backs off instead of
//! spinning. The body's own idle timeout and the
//! panic guard are router layers ([`crate::app`]).
//!
//! HTTP/1.1 only: hyper's HTTP/1-or-2 detection reads the first bytes with no time
//! limit (a socket that sends nothing was held forever), and cleartext HTTP/2 is not
//! what browsers speak; a TLS-terminating proxy in front speaks HTTP/2 to clients.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Limits on connections (`[http]`).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Longest wait for a request head, and longest idle time between requests.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { header_timeout: Duration::from_secs(20), max_connections: 1024 }
    }
}

/// How long an accept waits after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown`, then lets open requests finish (the caller
/// bounds how long).
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
            () = shutdown.cancelled() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE/ENFILE and the like: the backlog keeps the client; try again soon.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(|req: Request<Incoming>| req.map(Body::new));
        let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
        let stop = shutdown.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                () = stop.cancelled() => {
                    // Finish the request in flight, take no more on this connection.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}
