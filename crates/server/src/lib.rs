//! Tintype's HTTP API (axum). [`app`] builds the router over an [`AppState`]; [`serve`]
//! runs it on a listener until shutdown. Only this crate knows status codes and JSON
//! error bodies ([`error`]).
//!
//! Routes: uploads ([`routes::uploads`]), jobs and downloads ([`routes::jobs`]), live
//! events ([`routes::events`]), signed blob links ([`routes::blobs`]), health
//! ([`routes::health`]).

mod admission;
pub mod auth;
pub mod connections;
pub mod error;
pub mod keys;
pub mod layers;
pub mod routes;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request};
use tintype_blobs::{BlobStore, UrlSigner};
use tintype_catalog::Catalog;
use tintype_kinds::Kinds;
use tintype_library::Library;
use tintype_queue::Engine;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::Tenant;
pub use connections::ConnectionLimits;
pub use error::ApiError;

/// The `x-request-id` header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// API settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base of absolute links (`https://img.example.com`); derived from `Host` when unset
    /// (then only loopback names and `allowed_hosts` are answered).
    pub public_url: Option<String>,
    /// Host names besides loopback and `public_url`'s that requests may name.
    pub allowed_hosts: Vec<String>,
    /// Longest pause inside a request body before the request fails (408).
    pub body_idle_timeout: Duration,
    /// Connection limits.
    pub connections: ConnectionLimits,
    /// Serve keyless requests as the `local` tenant while no API key exists.
    pub allow_open: bool,
    /// Largest upload accepted.
    pub max_upload_bytes: u64,
    /// Largest JSON body accepted.
    pub max_json_bytes: usize,
    /// Lifetime of signed download links.
    pub download_ttl: Duration,
    /// Attempts allowed per job.
    pub max_attempts: i32,
    /// Jobs waiting in one queue before job creation answers 503 `queue_full`.
    pub max_queued_jobs: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            allowed_hosts: Vec::new(),
            body_idle_timeout: Duration::from_secs(30),
            connections: ConnectionLimits::default(),
            allow_open: false,
            max_upload_bytes: 25 * 1024 * 1024,
            max_json_bytes: 1024 * 1024,
            download_ttl: Duration::from_secs(30 * 60),
            max_attempts: 3,
            max_queued_jobs: Some(10_000),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The job engine.
    pub engine: Arc<dyn Engine>,
    /// Keys and uploads.
    pub catalog: Arc<dyn Catalog>,
    /// The photo library.
    pub library: Arc<dyn Library>,
    /// Blob storage.
    pub blobs: Arc<dyn BlobStore>,
    /// Every job kind's submit side (validation, lifetimes); never their runners.
    pub kinds: Arc<Kinds>,
    /// Signs links to blobs the store cannot presign.
    pub signer: Arc<UrlSigner>,
    /// Every plan of the deployment (what each tenant may do).
    pub plans: Arc<tintype_plans::Plans>,
    /// Recent API key lookups.
    pub keys: Arc<keys::KeyCache>,
    /// Settings.
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// The largest upload the tenant may make: the server's limit, within its plan's.
    pub fn upload_limit(&self, tenant: &Tenant) -> u64 {
        let plan = self.plans.get(&tenant.plan).and_then(|p| p.max_upload_bytes.get());
        plan.map_or(self.config.max_upload_bytes, |p| p.min(self.config.max_upload_bytes))
    }

    /// How long signed links to a kind's artifacts last.
    pub fn link_ttl(&self, kind: &str) -> Duration {
        self.kinds.get(kind).ok().and_then(|s| s.lifetimes().links).unwrap_or(self.config.download_ttl)
    }
}

/// The whole API as a router.
pub fn app(state: AppState) -> Router {
    let router = routes::router(state.clone()).fallback(error::fallback);
    with_layers(router, state)
}

/// `router` behind the layers every request passes ([`layers`] describes them).
pub fn with_layers(router: Router, state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    });
    let body_idle = state.config.body_idle_timeout;
    router
        .layer(RequestBodyTimeoutLayer::new(body_idle))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(axum::middleware::from_fn(layers::bound_request_id))
        .layer(axum::middleware::from_fn(layers::problems))
        .layer(CatchPanicLayer::custom(layers::panic_response))
        .layer(axum::middleware::from_fn_with_state(state, layers::guard))
}

/// Serves the API on `listener` until `shutdown` fires, then finishes open requests
/// (the caller bounds how long), under the connection limits of `state`'s config.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: CancellationToken) -> std::io::Result<()> {
    let limits = state.config.connections.clone();
    connections::serve_connections(listener, app(state), limits, shutdown).await
}
