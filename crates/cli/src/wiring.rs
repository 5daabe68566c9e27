//! Turns a [`Config`] into the settings and parts `tintype-app` assembles: the database
//! and its components, the blob store, the URL signer, the API, worker and sweeper
//! settings. Every command builds what it needs here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tintype_app::Assembly;
pub(crate) use tintype_app::Backends;
use tintype_blobs::{BlobStore, LocalStore, UrlSigner};
use tintype_db::{Db, PgSettings, is_postgres};
use tintype_queue::EngineConfig;
use tintype_server::ServerConfig;
use tintype_worker::{SweeperConfig, WorkerConfig};

use crate::config::{BlobBackend, Config};

/// Opens (and migrates) the configured database.
pub(crate) async fn open_engine(config: &Config) -> anyhow::Result<Backends> {
    open_engine_in(config, None).await
}

/// As [`open_engine`]; on PostgreSQL, in `schema` when given (benchmarks use a scratch one).
pub(crate) async fn open_engine_in(config: &Config, schema: Option<String>) -> anyhow::Result<Backends> {
    let url = config.database_url();
    if !is_postgres(&url) && config.database_url.is_empty() {
        private_dir(&config.data_dir)
            .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
    }
    let settings = PgSettings { pool_size: config.database_pool_size, schema };
    let db = Db::open(&url, settings).await.with_context(|| format!("cannot open database {}", redact(&url)))?;
    Backends::open(db, engine_config(config)).await.with_context(|| format!("cannot migrate database {}", redact(&url)))
}

/// Engine settings from config.
pub(crate) fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig { artifact_ttl: Duration::from_secs(config.limits.artifact_ttl_secs), ..EngineConfig::default() }
}

/// Everything the configured process runs, over open backends and a blob store.
pub(crate) fn assembly(config: &Config, backends: Backends, blobs: Arc<dyn BlobStore>) -> anyhow::Result<Assembly> {
    Ok(Assembly {
        backends,
        blobs,
        signer: Arc::new(signer(config)?),
        sections: config.pipelines.clone(),
        server: server_config(config),
        worker: worker_config(config),
        sweeper: sweeper_config(config),
        extra: Vec::new(),
        plans: config.plans.clone(),
    })
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
    private_dir(&config.data_dir)?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(UrlSigner::new(secret.into_bytes()))
}

/// Creates `dir` (and missing parents) readable by this user only.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
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
        kinds: w.kinds.clone(),
        ..WorkerConfig::default()
    }
}

/// Sweeper settings from config.
pub(crate) fn sweeper_config(config: &Config) -> SweeperConfig {
    SweeperConfig { interval: Config::secs(config.sweeper.interval_secs), ..SweeperConfig::default() }
}

/// API settings from config.
pub(crate) fn server_config(config: &Config) -> ServerConfig {
    ServerConfig {
        public_url: Some(config.public_url.clone()).filter(|u| !u.is_empty()),
        allowed_hosts: config.http.allowed_hosts.clone(),
        body_idle_timeout: Config::secs(config.http.body_idle_timeout_secs),
        connections: tintype_server::ConnectionLimits {
            header_timeout: Config::secs(config.http.header_timeout_secs),
            max_connections: config.http.max_connections,
        },
        allow_open: false,
        max_upload_bytes: config.limits.max_upload_bytes,
        max_json_bytes: config.limits.max_json_bytes,
        download_ttl: Duration::from_secs(config.limits.download_ttl_secs),
        max_attempts: config.limits.max_attempts,
        max_queued_jobs: Some(config.limits.max_queued_jobs).filter(|n| *n > 0),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "localhost".into())
}
