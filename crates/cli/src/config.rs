//! Layered configuration, loaded once: defaults, then the TOML file, then `TINTYPE_*`
//! environment variables (`__` separates sections: `TINTYPE_WORKER__CONCURRENCY=8`), then
//! command-line flags. Validated once, with messages that name the field. Every key is
//! documented in `config.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tintype_pipelines::Sections;
use tintype_queue::EngineConfig;
use tintype_server::ServerConfig;
use tintype_worker::{SweeperConfig, WorkerConfig};

/// The whole configuration. Unknown keys are refused by [`Config::load`] (serde cannot
/// deny them next to the flattened pipeline sections).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// Address the API listens on.
    pub(crate) listen: String,
    /// Directory for the embedded default (SQLite file, blobs, signing key).
    pub(crate) data_dir: PathBuf,
    /// `sqlite://path` (default: `<data_dir>/tintype.db`) or `postgres://user@host/db`.
    pub(crate) database_url: String,
    /// Connections per process to PostgreSQL (one more is held for LISTEN).
    pub(crate) database_pool_size: u32,
    /// `file:///path` (default: `<data_dir>/blobs`) or
    /// `s3://bucket?endpoint=…&region=…&virtual_hosted=…`.
    pub(crate) blobs: String,
    /// S3 credentials, when not in the `AWS_*` variables.
    pub(crate) s3: S3Section,
    /// Base URL of links handed to clients (default: from the request's Host).
    pub(crate) public_url: String,
    /// Secret for signed blob links (default: generated into `<data_dir>/signing.key`).
    pub(crate) signing_key: String,
    /// `pretty` or `json`.
    pub(crate) log_format: String,
    /// Worker settings.
    pub(crate) worker: WorkerSection,
    /// Sweeper settings.
    pub(crate) sweeper: SweeperSection,
    /// Limits.
    pub(crate) limits: LimitsSection,
    /// The HTTP server's connection and request limits.
    pub(crate) http: HttpSection,
    /// `[plans.<name>]`: what each plan's tenants may do (quotas, caps, rate limits).
    pub(crate) plans: tintype_plans::Plans,
    /// The pipelines' own sections (`[print]`, `[fetch]`, ...), defined and validated by
    /// `tintype-pipelines`.
    #[serde(flatten)]
    pub(crate) pipelines: Sections,
}

/// `[s3]`: credentials for an `s3://` blob store. Empty fields fall back to the usual
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct S3Section {
    /// Access key id.
    pub(crate) access_key_id: String,
    /// Secret access key.
    pub(crate) secret_access_key: String,
    /// Session token (temporary credentials).
    pub(crate) session_token: String,
}

impl std::fmt::Debug for S3Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &str| if v.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("S3Section")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .finish()
    }
}

/// Where blobs live, as `blobs` names it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BlobBackend {
    /// A local directory.
    Local(PathBuf),
    /// An S3-compatible bucket.
    #[cfg(feature = "s3")]
    S3(tintype_blobs::S3Config),
}

/// `[worker]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerSection {
    /// Queues served.
    pub(crate) queues: Vec<String>,
    /// Jobs at once.
    pub(crate) concurrency: usize,
    /// Lease length in seconds.
    pub(crate) lease_secs: f64,
    /// Grace period for running jobs at shutdown, in seconds.
    pub(crate) shutdown_grace_secs: f64,
    /// Fallback poll interval in seconds.
    pub(crate) poll_secs: f64,
    /// Jobs claimed ahead of free slots.
    pub(crate) prefetch: usize,
    /// Job kinds this worker runs (empty: every kind of the build).
    pub(crate) kinds: Vec<String>,
}

/// `[sweeper]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweeperSection {
    /// Seconds between sweeps.
    pub(crate) interval_secs: f64,
}

/// `[limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    /// Largest upload, bytes.
    pub(crate) max_upload_bytes: u64,
    /// Largest JSON body, bytes.
    pub(crate) max_json_bytes: usize,
    /// Attempts per job.
    pub(crate) max_attempts: i32,
    /// Lifetime of download links, seconds.
    pub(crate) download_ttl_secs: u64,
    /// Lifetime of job artifacts, seconds.
    pub(crate) artifact_ttl_secs: u64,
    /// Jobs waiting in one queue before job creation answers 503 (0: no limit).
    pub(crate) max_queued_jobs: u64,
}

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpSection {
    /// Longest wait for a request's head, and longest idle time of a kept-alive
    /// connection, seconds.
    pub(crate) header_timeout_secs: f64,
    /// Longest pause inside a request body, seconds (408 after it).
    pub(crate) body_idle_timeout_secs: f64,
    /// Connections served at once (more wait in the listen backlog).
    pub(crate) max_connections: usize,
    /// Host names requests may carry besides loopback names and `public_url`'s host
    /// (links are built from the `Host` header when `public_url` is unset).
    pub(crate) allowed_hosts: Vec<String>,
}

impl Default for Config {
    /// The defaults of each part (worker, server, engine, pipelines), defined there once.
    fn default() -> Self {
        let (worker, server, engine) = (WorkerConfig::default(), ServerConfig::default(), EngineConfig::default());
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            database_pool_size: 10,
            blobs: String::new(),
            s3: S3Section::default(),
            public_url: String::new(),
            signing_key: String::new(),
            log_format: "pretty".into(),
            worker: WorkerSection {
                queues: worker.queues,
                concurrency: worker.concurrency,
                lease_secs: worker.lease.as_secs_f64(),
                shutdown_grace_secs: worker.shutdown_grace.as_secs_f64(),
                poll_secs: worker.poll_interval.as_secs_f64(),
                prefetch: worker.prefetch,
                kinds: worker.kinds,
            },
            sweeper: SweeperSection { interval_secs: SweeperConfig::default().interval.as_secs_f64() },
            limits: LimitsSection {
                max_upload_bytes: server.max_upload_bytes,
                max_json_bytes: server.max_json_bytes,
                max_attempts: server.max_attempts,
                download_ttl_secs: server.download_ttl.as_secs(),
                artifact_ttl_secs: engine.artifact_ttl.as_secs(),
                max_queued_jobs: server.max_queued_jobs.unwrap_or(0),
            },
            http: HttpSection {
                header_timeout_secs: server.connections.header_timeout.as_secs_f64(),
                body_idle_timeout_secs: server.body_idle_timeout.as_secs_f64(),
                max_connections: server.connections.max_connections,
                allowed_hosts: server.allowed_hosts,
            },
            plans: tintype_plans::Plans::default(),
            pipelines: Sections::default(),
        }
    }
}

/// Flag values that override the file and the environment (unset flags override nothing).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) worker: Option<WorkerOverrides>,
}

/// `[worker]` flags.
#[derive(Debug, Default, Serialize)]
pub(crate) struct WorkerOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queues: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) concurrency: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kinds: Option<Vec<String>>,
}

impl Config {
    /// Loads the layers: defaults, `file` (or `TINTYPE_CONFIG`, or `./tintype.toml` if it
    /// exists), `TINTYPE_*`, then `flags`.
    pub(crate) fn load(file: Option<&Path>, flags: Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let from_env = std::env::var_os("TINTYPE_CONFIG").map(PathBuf::from);
        match file.map(Path::to_path_buf).or(from_env) {
            Some(path) => {
                if !path.exists() {
                    bail!("config file {} does not exist", path.display());
                }
                fig = fig.merge(Toml::file_exact(path));
            }
            None if Path::new("tintype.toml").exists() => fig = fig.merge(Toml::file_exact("tintype.toml")),
            None => {}
        }
        // `TINTYPE_TEST_*` variables belong to the test suite, not to the configuration.
        let env = Env::prefixed("TINTYPE_")
            .ignore(&["CONFIG"])
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
            .split("__");
        let fig = fig.merge(env).merge(Serialized::defaults(flags));
        let known = serde_json::to_value(Config::default())?;
        let keys: std::collections::BTreeMap<String, figment::value::Value> =
            fig.extract().context("invalid configuration")?;
        if let Some(unknown) = keys.keys().find(|k| known.get(k.as_str()).is_none()) {
            bail!("invalid configuration: unknown key {unknown:?}");
        }
        let config: Config = fig.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field once; errors name the field.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        let w = &self.worker;
        if w.queues.is_empty() || w.queues.iter().any(|q| q.trim().is_empty()) {
            bail!("worker.queues: name at least one queue, none empty");
        }
        if w.concurrency == 0 || w.concurrency > 1024 {
            bail!("worker.concurrency: must be 1..=1024, got {}", w.concurrency);
        }
        for (name, v) in [
            ("worker.lease_secs", w.lease_secs),
            ("worker.poll_secs", w.poll_secs),
            ("sweeper.interval_secs", self.sweeper.interval_secs),
            ("http.header_timeout_secs", self.http.header_timeout_secs),
            ("http.body_idle_timeout_secs", self.http.body_idle_timeout_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("{name}: must be a positive number of seconds, got {v}");
            }
        }
        if !(w.shutdown_grace_secs.is_finite() && w.shutdown_grace_secs >= 0.0) {
            bail!("worker.shutdown_grace_secs: must be zero or more");
        }
        self.pipelines.validate().map_err(anyhow::Error::msg)?;
        let kinds = tintype_pipelines::kinds(&self.pipelines);
        let names: Vec<&str> = kinds.names().collect();
        let classes: Vec<&str> = kinds.quota_classes().iter().map(|c| c.name).collect();
        self.plans
            .validate(tintype_plans::Known { kinds: &names, quota_classes: &classes })
            .map_err(anyhow::Error::msg)?;
        if self.limits.max_attempts < 1 {
            bail!("limits.max_attempts: must be at least 1");
        }
        if !["pretty", "json"].contains(&self.log_format.as_str()) {
            bail!("log_format: must be \"pretty\" or \"json\", got {:?}", self.log_format);
        }
        let schemes = ["sqlite:", "postgres://", "postgresql://"];
        if !self.database_url.is_empty() && !schemes.iter().any(|s| self.database_url.starts_with(s)) {
            bail!("database_url: expected sqlite://PATH or postgres://USER@HOST/DB, got {:?}", self.database_url);
        }
        if !(2..=1000).contains(&self.database_pool_size) {
            bail!("database_pool_size: must be 2..=1000, got {}", self.database_pool_size);
        }
        if !(1..=1_000_000).contains(&self.http.max_connections) {
            bail!("http.max_connections: must be 1..=1000000, got {}", self.http.max_connections);
        }
        if let Some(bad) = self.http.allowed_hosts.iter().find(|h| h.is_empty() || h.contains(['/', ':', ' '])) {
            bail!("http.allowed_hosts: a host name without scheme or port, got {bad:?}");
        }
        let url = &self.public_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            bail!("public_url: expected http(s)://host[:port], got {url:?}");
        }
        self.blob_backend()?;
        Ok(())
    }

    /// The listen address, parsed.
    pub(crate) fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| format!("listen: {:?} is not an address like 127.0.0.1:8080", self.listen))
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub(crate) fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("tintype.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The blob store `blobs` names (default: `<data_dir>/blobs`).
    pub(crate) fn blob_backend(&self) -> anyhow::Result<BlobBackend> {
        if self.blobs.is_empty() {
            return Ok(BlobBackend::Local(self.data_dir.join("blobs")));
        }
        if let Some(path) = self.blobs.strip_prefix("file://") {
            if path.is_empty() {
                bail!("blobs: file:// needs a path, as in file:///var/lib/tintype/blobs");
            }
            return Ok(BlobBackend::Local(PathBuf::from(path)));
        }
        if self.blobs.starts_with("s3://") {
            return self.s3_backend();
        }
        bail!("blobs: expected file:///PATH or s3://BUCKET?endpoint=…&region=…, got {:?}", self.blobs)
    }

    #[cfg(feature = "s3")]
    fn s3_backend(&self) -> anyhow::Result<BlobBackend> {
        let mut s3 = tintype_blobs::S3Config::from_url(&self.blobs).map_err(|e| anyhow::anyhow!("blobs: {e}"))?;
        // `[s3]` first, then the variables every S3 client reads (only the binary reads them).
        let pick = |v: &str, var: &str| {
            Some(v.to_owned()).filter(|v| !v.is_empty()).or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
        };
        s3.access_key_id = pick(&self.s3.access_key_id, "AWS_ACCESS_KEY_ID");
        s3.secret_access_key = pick(&self.s3.secret_access_key, "AWS_SECRET_ACCESS_KEY");
        s3.session_token = pick(&self.s3.session_token, "AWS_SESSION_TOKEN");
        if s3.region.is_none() {
            s3.region = pick("", "AWS_REGION").or_else(|| pick("", "AWS_DEFAULT_REGION"));
        }
        Ok(BlobBackend::S3(s3))
    }

    #[cfg(not(feature = "s3"))]
    fn s3_backend(&self) -> anyhow::Result<BlobBackend> {
        bail!("blobs: this build has no S3 support (build with the `s3` feature)")
    }

    /// A duration field.
    pub(crate) fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
    fn blobs_selects_the_backend() {
        // In a jail with no AWS_* variables (and serialised with the other env tests).
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let with = |blobs: &str| Config { blobs: blobs.into(), ..Config::default() };
            assert_eq!(with("").blob_backend().unwrap(), BlobBackend::Local(PathBuf::from("./data/blobs")));
            assert_eq!(with("file:///srv/b").blob_backend().unwrap(), BlobBackend::Local(PathBuf::from("/srv/b")));
            let mut config = with("s3://media?endpoint=http://127.0.0.1:9000&region=auto");
            config.s3.secret_access_key = "s3cr3t".into();
            let BlobBackend::S3(s3) = config.blob_backend().unwrap() else { panic!("not s3") };
            assert_eq!((s3.bucket.as_str(), s3.region.as_deref()), ("media", Some("auto")));
            assert_eq!((s3.access_key_id, s3.secret_access_key.as_deref()), (None, Some("s3cr3t")));
            assert!(!format!("{config:?}").contains("s3cr3t"), "secrets stay out of logs");
            for bad in ["file://", "s3://", "s3://media/prefix", "gs://media", "/srv/blobs"] {
                let err = with(bad).validate().unwrap_err().to_string();
                assert!(err.starts_with("blobs:"), "{bad}: {err}");
            }
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
    fn s3_credentials_come_from_the_config_then_the_aws_variables() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("AWS_ACCESS_KEY_ID", "from-env");
            jail.set_env("AWS_SECRET_ACCESS_KEY", "env-secret");
            jail.set_env("AWS_REGION", "eu-west-3");
            let mut config = Config { blobs: "s3://media".into(), ..Config::default() };
            config.s3.access_key_id = "from-config".into();
            let BlobBackend::S3(s3) = config.blob_backend().unwrap() else { panic!("not s3") };
            assert_eq!(s3.access_key_id.as_deref(), Some("from-config"));
            assert_eq!(s3.secret_access_key.as_deref(), Some("env-secret"));
            assert_eq!((s3.session_token, s3.region.as_deref()), (None, Some("eu-west-3")));
            let with_region = Config { blobs: "s3://media?region=auto".into(), ..Config::default() };
            let BlobBackend::S3(s3) = with_region.blob_backend().unwrap() else { panic!("not s3") };
            assert_eq!(s3.region.as_deref(), Some("auto"), "the URL's region wins");
            Ok(())
        });
    }

    #[test]
    fn the_example_file_documents_every_default() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config.example.toml");
        let example: Config = Figment::from(Toml::file_exact(path)).extract().expect("config.example.toml parses");
        let as_json = |c: &Config| serde_json::to_value(c).unwrap();
        assert_eq!(as_json(&example), as_json(&Config::default()), "config.example.toml and the defaults differ");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
    fn file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("t.toml", "listen = \"127.0.0.1:9000\"\n[worker]\nconcurrency = 2\nlease_secs = 5\n")?;
            jail.set_env("TINTYPE_WORKER__CONCURRENCY", "3");
            jail.set_env("TINTYPE_TEST_REQUIRE_ALL", "1"); // the test suite's, ignored
            let flags = Overrides { listen: Some("127.0.0.1:9100".into()), ..Overrides::default() };
            let c = Config::load(Some(Path::new("t.toml")), flags).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:9100");
            assert_eq!(c.worker.concurrency, 3);
            assert_eq!(c.worker.lease_secs, 5.0);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
    fn unknown_keys_are_refused_at_every_layer() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("typo.toml", "listn = \"127.0.0.1:9000\"\n")?;
            let err = Config::load(Some(Path::new("typo.toml")), Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("unknown key \"listn\""), "{err:#}");
            jail.create_file("nested.toml", "[print]\nthreds = 2\n")?;
            let err = Config::load(Some(Path::new("nested.toml")), Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("threds"), "a section's own fields are checked too: {err:#}");
            jail.set_env("TINTYPE_WORKERS__CONCURRENCY", "3");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("unknown key \"workers\""), "{err:#}");
            Ok(())
        });
    }

    #[test]
    fn errors_name_the_field() {
        type Breakage = fn(&mut Config);
        let cases: [(&str, Breakage); 4] = [
            ("worker.concurrency", |c| c.worker.concurrency = 0),
            ("listen", |c| c.listen = "nowhere".into()),
            ("log_format", |c| c.log_format = "xml".into()),
            ("worker.lease_secs", |c| c.worker.lease_secs = -1.0),
        ];
        for (field, break_it) in cases {
            let mut c = Config::default();
            break_it(&mut c);
            let err = format!("{:#}", c.validate().unwrap_err());
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }
}
