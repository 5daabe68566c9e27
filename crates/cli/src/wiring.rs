//! Turns a [`Config`] into running parts: the engine, the blob store, the URL signer,
//! the job kinds, the worker and sweeper settings. Every command builds what it needs here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tintype_blobs::{BlobStore, LocalStore, UrlSigner};
use tintype_imaging::Limits;
use tintype_pipelines::fetch::FetchPolicy;
use tintype_pipelines::print::{Print, PrintConfig};
use tintype_queue::postgres::{PgSettings, PostgresEngine};
use tintype_queue::sqlite::SqliteEngine;
use tintype_queue::{Catalog, Engine, EngineConfig};
use tintype_server::{AppState, ServerConfig};
use tintype_worker::{Registry, SweeperConfig, WorkerConfig};

use crate::config::{BlobBackend, Config};

/// The engine, as both interfaces it offers.
#[derive(Clone)]
pub(crate) struct Backends {
    /// Jobs.
    pub(crate) engine: Arc<dyn Engine>,
    /// Keys and uploads.
    pub(crate) catalog: Arc<dyn Catalog>,
}

/// Whether a database URL names PostgreSQL.
pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens (and migrates) the configured database.
pub(crate) async fn open_engine(config: &Config) -> anyhow::Result<Backends> {
    open_engine_in(config, None).await
}

/// As [`open_engine`]; on PostgreSQL, in `schema` when given (benchmarks use a scratch one).
pub(crate) async fn open_engine_in(config: &Config, schema: Option<String>) -> anyhow::Result<Backends> {
    let url = config.database_url();
    if is_postgres(&url) {
        let engine_config = EngineConfig {
            artifact_ttl: Duration::from_secs(config.limits.artifact_ttl_secs),
            ..EngineConfig::default()
        };
        let settings = PgSettings { pool_size: config.database_pool_size, schema, migrate: true };
        let engine = Arc::new(
            PostgresEngine::open(&url, engine_config, settings)
                .await
                .with_context(|| format!("cannot open database {}", redact(&url)))?,
        );
        return Ok(Backends { engine: engine.clone(), catalog: engine });
    }
    if config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
    }
    let engine_config =
        EngineConfig { artifact_ttl: Duration::from_secs(config.limits.artifact_ttl_secs), ..EngineConfig::default() };
    let engine =
        Arc::new(SqliteEngine::open(&url, engine_config).await.with_context(|| format!("cannot open database {url}"))?);
    Ok(Backends { engine: engine.clone(), catalog: engine })
}

/// A database URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Opens the configured blob store.
pub(crate) fn open_blobs(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    match config.blob_backend()? {
        BlobBackend::Local(dir) => {
            Ok(Arc::new(LocalStore::open(&dir).with_context(|| format!("blobs: cannot open {}", dir.display()))?))
        }
        #[cfg(feature = "s3")]
        BlobBackend::S3(s3) => Ok(Arc::new(
            tintype_blobs::S3Store::open(&s3).with_context(|| format!("blobs: cannot use bucket {}", s3.bucket))?,
        )),
    }
}

/// The signing secret: from config, else read from (or created in) the data directory.
pub(crate) fn signer(config: &Config) -> anyhow::Result<UrlSigner> {
    if !config.signing_key.is_empty() {
        return Ok(UrlSigner::new(config.signing_key.as_bytes().to_vec()));
    }
    let path = config.data_dir.join("signing.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(UrlSigner::new(existing.trim().as_bytes().to_vec()));
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(UrlSigner::new(secret.into_bytes()))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Every job kind this binary runs.
pub(crate) fn registry(config: &Config, catalog: Arc<dyn Catalog>) -> Registry {
    let mut r = Registry::new();
    tintype_worker::builtin::register(&mut r);
    r.register(Print::new(catalog, print_config(config)));
    r
}

/// `print` settings from config.
pub(crate) fn print_config(config: &Config) -> PrintConfig {
    let (p, f) = (&config.print, &config.fetch);
    let defaults = PrintConfig::default();
    PrintConfig {
        fetch: FetchPolicy {
            timeout: Config::secs(f.timeout_secs),
            max_bytes: f.max_bytes,
            max_redirects: f.max_redirects,
            allow_private: f.allow_private,
            allow_loopback: f.allow_loopback,
        },
        limits: Limits { max_bytes: p.max_source_bytes, max_side: p.max_side, max_pixels: p.max_pixels },
        threads: if p.threads == 0 { defaults.threads } else { p.threads },
    }
}

/// Worker settings from config.
pub(crate) fn worker_config(config: &Config) -> WorkerConfig {
    let w = &config.worker;
    WorkerConfig {
        id: format!("{}:{}", hostname(), std::process::id()),
        queues: w.queues.clone(),
        concurrency: w.concurrency,
        lease: Config::secs(w.lease_secs),
        shutdown_grace: Config::secs(w.shutdown_grace_secs),
        poll_interval: Config::secs(w.poll_secs),
        prefetch: w.prefetch,
        ..WorkerConfig::default()
    }
}

/// Sweeper settings from config.
pub(crate) fn sweeper_config(config: &Config) -> SweeperConfig {
    SweeperConfig { interval: Config::secs(config.sweeper.interval_secs), ..SweeperConfig::default() }
}

/// API state from config and open backends.
pub(crate) fn app_state(
    config: &Config,
    backends: &Backends,
    blobs: Arc<dyn BlobStore>,
    allow_open: bool,
) -> anyhow::Result<AppState> {
    let server = ServerConfig {
        public_url: Some(config.public_url.clone()).filter(|u| !u.is_empty()),
        allow_open,
        max_upload_bytes: config.limits.max_upload_bytes,
        max_json_bytes: config.limits.max_json_bytes,
        download_ttl: Duration::from_secs(config.limits.download_ttl_secs),
        max_attempts: config.limits.max_attempts,
    };
    Ok(AppState {
        engine: backends.engine.clone(),
        catalog: backends.catalog.clone(),
        blobs,
        registry: Arc::new(registry(config, backends.catalog.clone())),
        signer: Arc::new(signer(config)?),
        config: Arc::new(server),
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "localhost".into())
}
