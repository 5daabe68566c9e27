//! `tintype serve | api | worker`: runs the roles of the system in this process until
//! SIGTERM or Ctrl-C, then shuts down in order: stop accepting and claiming, let running
//! jobs finish within the grace period, hand the rest back to the queue.

use anyhow::{Context, bail};
use clap::Args;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::wiring;

/// Flags of the long-running roles.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (api, serve), e.g. 127.0.0.1:8080; port 0 picks a free one.
    #[arg(long)]
    pub(crate) listen: Option<String>,
    /// Queues to serve, comma-separated (worker, serve).
    #[arg(long)]
    pub(crate) queues: Option<String>,
    /// Jobs at once (worker, serve).
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,
    /// Job kinds to run, comma-separated (worker, serve; default every kind of the build):
    /// only their runners are built, and only their jobs claimed.
    #[arg(long)]
    pub(crate) kinds: Option<String>,
}

pub(crate) use tintype_app::Role;

/// Runs the role until a shutdown signal.
pub(crate) async fn run(config: Config, role: Role) -> anyhow::Result<()> {
    let backends = wiring::open_engine(&config).await?;
    let blobs = wiring::open_blobs(&config)?;
    let assembly = wiring::assembly(&config, backends, blobs)?;
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let (mut listener, mut allow_open) = (None, false);
    if role != Role::Worker {
        let addr = config.listen_addr()?;
        let has_keys = assembly.backends.catalog.has_api_keys().await?;
        allow_open = !has_keys && addr.ip().is_loopback();
        if !has_keys && !addr.ip().is_loopback() {
            bail!(
                "no API key exists: refusing to run open on {addr}, which is not a loopback address. Create one with `tintype keys create --tenant T --plan pro`"
            );
        }
        if !addr.ip().is_loopback() && config.public_url.is_empty() && config.http.allowed_hosts.is_empty() {
            bail!(
                "listening on {addr}, beyond loopback: set public_url (the base of the links handed out) or http.allowed_hosts; links are never built from an arbitrary Host header"
            );
        }
        if allow_open {
            warn!("no API key exists: running OPEN on a loopback address; every request acts as tenant \"local\"");
        }
        let bound = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listen: cannot bind {addr}"))?;
        let local = bound.local_addr()?;
        println!("tintype listening on http://{local}");
        info!(%local, "api listening");
        listener = Some(bound);
    }
    assembly.spawn(role, listener, allow_open, true, &shutdown, &mut tasks).map_err(anyhow::Error::msg)?;
    tokio::select! {
        _ = shutdown_signal() => info!("shutdown requested"),
        Some(res) = tasks.join_next() => { res?.context("a component failed")?; bail!("a component stopped unexpectedly") }
    }
    shutdown.cancel();
    while let Some(res) = tasks.join_next().await {
        res?.context("a component failed")?;
    }
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
