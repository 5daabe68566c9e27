//! Test helpers shared by the crates' end-to-end tests: [`TestApp`] runs the real API and
//! a real worker on `127.0.0.1:0` over a real SQLite file and blob directory in a temp dir;
//! [`sse`] reads a Server-Sent Events response.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use tempfile::TempDir;
use tintype_app::{Assembly, Backends, ExtraKind, Role};
use tintype_blobs::{BlobStore, LocalStore, UrlSigner};
use tintype_catalog::{Catalog, NewApiKey};
use tintype_db::{Db, SqliteDb};
use tintype_kinds::JobSpec;
use tintype_pipelines::Sections;
use tintype_queue::watch::{REREAD, until_terminal, watch};
use tintype_queue::{Engine, EngineConfig, JobEvent, JobId};
use tintype_server::ServerConfig;
use tintype_worker::{JobRunner, Sweeper, SweeperConfig, WorkerConfig};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub mod sse;
pub mod zips;

/// The longest a test waits for a job (a failure message, never a pace).
const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// How to build a [`TestApp`].
pub struct TestOptions {
    /// Kinds beyond the build's pipelines (spec and runner each).
    pub extra: Vec<ExtraKind>,
    /// Run a worker in the app.
    pub worker: bool,
    /// API settings.
    pub server: ServerConfig,
    /// Worker settings.
    pub worker_config: WorkerConfig,
    /// Engine settings.
    pub engine: EngineConfig,
    /// The pipelines' config sections.
    pub sections: Sections,
    /// The blob store (default: a local store in the app's temp dir).
    pub blobs: Option<Arc<dyn BlobStore>>,
    /// The plans (default: the built-in ones).
    pub plans: tintype_plans::Plans,
    /// Run on a scratch schema of the local PostgreSQL instead of a SQLite file (callers
    /// check `tintype_db::testing::pg_available` first).
    pub postgres: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            extra: Vec::new(),
            worker: true,
            server: ServerConfig::default(),
            worker_config: WorkerConfig { concurrency: 4, ..WorkerConfig::default() },
            engine: EngineConfig::default(),
            sections: Sections::default(),
            blobs: None,
            plans: tintype_plans::Plans::default(),
            postgres: false,
        }
    }
}

/// A kind for [`TestOptions::extra`]: one value serving as its spec and its runner.
pub fn extra_kind<K: JobSpec + JobRunner>(kind: K) -> ExtraKind {
    let kind = Arc::new(kind);
    (kind.clone(), kind)
}

/// A running API (and worker) on a random loopback port.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// The engine, for assertions behind the API's back.
    pub engine: Arc<dyn Engine>,
    /// The catalog (keys, uploads) in the same database.
    pub catalog: Arc<dyn Catalog>,
    /// The photo library in the same database.
    pub library: Arc<dyn tintype_library::Library>,
    /// The blob store.
    pub blobs: Arc<dyn BlobStore>,
    /// The sweeper over the same engine and store (call `sweep_once` yourself).
    pub sweeper: Sweeper,
    /// Holds the SQLite file and blob directory.
    pub dir: TempDir,
    assembly: Assembly,
    shutdown: CancellationToken,
    tasks: JoinSet<std::io::Result<()>>,
    /// The PostgreSQL schema, when the app runs on one: dropped last, after the pool.
    _schema: Option<tintype_db::testing::PgScratch>,
}

impl TestApp {
    /// An app with the given extra kinds and a worker.
    pub async fn spawn(extra: Vec<ExtraKind>) -> Self {
        Self::spawn_with(TestOptions { extra, ..TestOptions::default() }).await
    }

    /// An app built from options, the way `tintype serve` builds one (`tintype-app`),
    /// without the sweeper's loop.
    pub async fn spawn_with(opts: TestOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, schema) = if opts.postgres {
            let scratch = tintype_db::testing::PgScratch::create().await.expect("a PostgreSQL schema");
            (Db::Postgres(scratch.open(10).await.expect("open postgres")), Some(scratch))
        } else {
            let url = format!("sqlite://{}", dir.path().join("tintype.db").display());
            (Db::Sqlite(SqliteDb::open(&url).await.expect("open sqlite")), None)
        };
        let backends = Backends::open(db, opts.engine).await.expect("open backends");
        let blobs: Arc<dyn BlobStore> = match opts.blobs {
            Some(blobs) => blobs,
            None => Arc::new(LocalStore::open(dir.path().join("blobs")).expect("open blobs")),
        };
        let assembly = Assembly {
            backends,
            blobs: blobs.clone(),
            signer: Arc::new(UrlSigner::new(b"test-secret".to_vec())),
            sections: opts.sections,
            server: opts.server,
            worker: opts.worker_config,
            sweeper: SweeperConfig::default(),
            extra: opts.extra,
            plans: opts.plans,
        };
        assembly.check_plans().expect("the test's plans are valid");
        let shutdown = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let role = if opts.worker { Role::All } else { Role::Api };
        let allow_open = assembly.server.allow_open;
        let mut tasks = JoinSet::new();
        assembly.spawn(role, Some(listener), allow_open, false, &shutdown, &mut tasks).expect("the runners start");
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self {
            addr,
            base: format!("http://{addr}"),
            client,
            engine: assembly.backends.engine.clone(),
            catalog: assembly.backends.catalog.clone(),
            library: assembly.backends.library.clone(),
            blobs,
            sweeper: assembly.sweeper(),
            dir,
            assembly,
            shutdown,
            tasks,
            _schema: schema,
        }
    }

    /// Starts a worker over the same backends: for an app spawned with `worker: false`,
    /// so that a test can open a watch before any job runs.
    pub fn start_worker(&mut self) {
        self.assembly
            .spawn(Role::Worker, None, false, false, &self.shutdown, &mut self.tasks)
            .expect("the worker starts");
    }

    /// Creates an API key for `tenant` on the `local` plan (no limits, every kind: the
    /// diagnostic `sleep` and `noop` the tests use) and returns the secret. Tests of a
    /// plan's rules use [`create_key_on`](Self::create_key_on).
    pub async fn create_key(&self, tenant: &str) -> String {
        self.create_key_on(tenant, tintype_plans::LOCAL).await
    }

    /// Creates an API key for `tenant` on `plan` and returns the secret.
    pub async fn create_key_on(&self, tenant: &str, plan: &str) -> String {
        let secret = tintype_server::auth::generate_key();
        let key = NewApiKey {
            tenant: tenant.into(),
            plan: plan.into(),
            key_hash: tintype_server::auth::hash_key(&secret),
            label: None,
        };
        self.catalog.create_api_key(key).await.expect("create key");
        secret
    }

    /// Keys of every blob under `prefix`.
    pub async fn blobs_under(&self, prefix: &str) -> std::collections::BTreeSet<String> {
        self.blobs.list(prefix).await.expect("list").into_iter().map(|m| m.key.as_str().to_owned()).collect()
    }

    /// `GET /v1/jobs/{id}` as `key`.
    pub async fn get_job(&self, key: &str, id: &str) -> serde_json::Value {
        let res = self.client.get(self.url(&format!("/v1/jobs/{id}"))).bearer_auth(key).send().await.expect("get job");
        res.json().await.expect("job json")
    }

    /// Awaits the end of a job (through the engine's watch, no polling); returns its
    /// document as `key` sees it over the API.
    pub async fn wait_terminal(&self, key: &str, id: &str) -> serde_json::Value {
        let wait = until_terminal(self.engine.clone(), None, JobId(id.into()));
        tokio::time::timeout(WAIT_LIMIT, wait).await.expect("the job ends in time").expect("the job exists");
        self.get_job(key, id).await
    }

    /// Awaits the first state of a job (its current one included) that `pred` accepts;
    /// panics when the job ends first.
    pub async fn wait_for(&self, id: &str, pred: impl Fn(&JobEvent) -> bool) -> JobEvent {
        let changes = watch(self.engine.clone(), None, JobId(id.into()), REREAD);
        let found = async move {
            futures::pin_mut!(changes);
            while let Some(seen) = changes.next().await {
                let event = seen.expect("the job exists").event();
                if pred(&event) {
                    return event;
                }
                assert!(!event.state.is_terminal(), "job {id} ended first: {event:?}");
            }
            panic!("job {id}: the watch ended")
        };
        tokio::time::timeout(WAIT_LIMIT, found).await.expect("the job gets there in time")
    }

    /// Uploads `bytes` as `key`; returns the upload id.
    pub async fn upload(&self, key: &str, bytes: Vec<u8>) -> String {
        let res = self.client.post(self.url("/v1/uploads")).bearer_auth(key).body(bytes).send().await.expect("upload");
        assert!(res.status().is_success(), "upload answered {}", res.status());
        let body: serde_json::Value = res.json().await.expect("upload json");
        body["upload_id"].as_str().expect("upload id").to_owned()
    }

    /// Creates a job as `key`; returns the response status and body.
    pub async fn submit(&self, key: &str, body: serde_json::Value) -> (reqwest::StatusCode, serde_json::Value) {
        let res = self.client.post(self.url("/v1/jobs")).bearer_auth(key).json(&body).send().await.expect("submit");
        let status = res.status();
        (status, res.json().await.unwrap_or_default())
    }

    /// Downloads an output through `GET /v1/jobs/{id}/download/{name}` and its signed
    /// link; returns the final response.
    pub async fn download(&self, key: &str, id: &str, name: &str) -> reqwest::Response {
        let res = self
            .client
            .get(self.url(&format!("/v1/jobs/{id}/download/{name}")))
            .bearer_auth(key)
            .send()
            .await
            .expect("download");
        assert_eq!(res.status(), reqwest::StatusCode::FOUND, "download of {name}");
        let link = res.headers()["location"].to_str().expect("location").to_owned();
        let link = if link.starts_with('/') { self.url(&link) } else { link };
        self.client.get(link).send().await.expect("signed link")
    }

    /// An absolute URL for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server and worker and waits for them.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}
