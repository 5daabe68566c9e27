//! `tintype serve | api | worker`: runs the roles of the system in this process until
//! SIGTERM or Ctrl-C, then shuts down in order: stop accepting and claiming, let running
//! jobs finish within the grace period, hand the rest back to the queue.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tintype_worker::{Sweeper, Worker};
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
}

/// Which parts run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// API, workers and sweeper.
    All,
    /// API only.
    Api,
    /// Workers and sweeper.
    Worker,
}

/// Runs the role until a shutdown signal.
pub(crate) async fn run(config: Config, role: Role) -> anyhow::Result<()> {
    let backends = wiring::open_engine(&config).await?;
    let blobs = wiring::open_blobs(&config)?;
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    if role != Role::Worker {
        let addr = config.listen_addr()?;
        let has_keys = backends.catalog.has_api_keys().await?;
        let allow_open = !has_keys && addr.ip().is_loopback();
        if !has_keys && !addr.ip().is_loopback() {
            bail!(
                "no API key exists: refusing to run open on {addr}, which is not a loopback address. Create one with `tintype keys create --tenant T --plan pro`"
            );
        }
        if allow_open {
            warn!("no API key exists: running OPEN on a loopback address; every request acts as tenant \"local\"");
        }
        let state = wiring::app_state(&config, &backends, blobs.clone(), allow_open)?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listen: cannot bind {addr}"))?;
        let local = listener.local_addr()?;
        println!("tintype listening on http://{local}");
        info!(%local, "api listening");
        let stop = shutdown.clone();
        let grace = Config::secs(config.worker.shutdown_grace_secs) + Duration::from_secs(1);
        tasks.spawn(async move {
            let server = tintype_server::serve(listener, state, stop.clone());
            // Long-lived event streams would hold a graceful shutdown open forever.
            let deadline = async {
                stop.cancelled().await;
                tokio::time::sleep(grace).await
            };
            tokio::select! { r = server => r.context("api failed"), _ = deadline => Ok(()) }
        });
    }
    if role != Role::Api {
        let worker = Worker::new(
            backends.engine.clone(),
            blobs.clone(),
            Arc::new(wiring::registry(&config, backends.catalog.clone())),
            wiring::worker_config(&config),
        );
        let stop = shutdown.clone();
        tasks.spawn(async move {
            worker.run(stop).await;
            Ok(())
        });
        let sweeper = Sweeper::new(backends.engine.clone(), blobs.clone(), wiring::sweeper_config(&config));
        let stop = shutdown.clone();
        tasks.spawn(async move {
            sweeper.run(stop).await;
            Ok(())
        });
    }
    tokio::select! {
        _ = shutdown_signal() => info!("shutdown requested"),
        Some(res) = tasks.join_next() => { res??; bail!("a component stopped unexpectedly") }
    }
    shutdown.cancel();
    while let Some(res) = tasks.join_next().await {
        res??;
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
