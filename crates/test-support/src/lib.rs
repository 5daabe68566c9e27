//! Test helpers shared by the crates' end-to-end tests: [`TestApp`] runs the real API and
//! a real worker on `127.0.0.1:0` over a real SQLite file and blob directory in a temp dir;
//! [`sse`] reads a Server-Sent Events response.

use std::net::SocketAddr;
use std::sync::Arc;

use tempfile::TempDir;
use tintype_blobs::{LocalStore, UrlSigner};
use tintype_pipelines::print::PrintConfig;
use tintype_queue::sqlite::SqliteEngine;
use tintype_queue::{Catalog, EngineConfig, NewApiKey};
use tintype_server::{AppState, ServerConfig};
use tintype_worker::{Registry, Sweeper, SweeperConfig, Worker, WorkerConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub mod sse;

/// How to build a [`TestApp`].
pub struct TestOptions {
    /// Job kinds (the built-in ones are added).
    pub registry: Registry,
    /// Run a worker in the app.
    pub worker: bool,
    /// API settings.
    pub server: ServerConfig,
    /// Worker settings.
    pub worker_config: WorkerConfig,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Register the `print` pipeline with these settings.
    pub print: Option<PrintConfig>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            registry: Registry::new(),
            worker: true,
            server: ServerConfig::default(),
            worker_config: WorkerConfig { concurrency: 4, ..WorkerConfig::default() },
            engine: EngineConfig::default(),
            print: None,
        }
    }
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
    pub engine: Arc<SqliteEngine>,
    /// The blob store.
    pub blobs: Arc<LocalStore>,
    /// The sweeper over the same engine and store (call `sweep_once` yourself).
    pub sweeper: Sweeper,
    /// Holds the SQLite file and blob directory.
    pub dir: TempDir,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl TestApp {
    /// An app with the given extra job kinds and a worker.
    pub async fn spawn(registry: Registry) -> Self {
        Self::spawn_with(TestOptions { registry, ..TestOptions::default() }).await
    }

    /// An app built from options.
    pub async fn spawn_with(opts: TestOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("tintype.db").display());
        let engine = Arc::new(SqliteEngine::open(&url, opts.engine).await.expect("open sqlite"));
        let blobs = Arc::new(LocalStore::open(dir.path().join("blobs")).expect("open blobs"));
        let mut registry = opts.registry;
        tintype_worker::builtin::register(&mut registry);
        if let Some(print) = opts.print {
            registry.register(tintype_pipelines::print::Print::new(engine.clone(), print));
        }
        let registry = Arc::new(registry);
        let state = AppState {
            engine: engine.clone(),
            catalog: engine.clone(),
            blobs: blobs.clone(),
            registry: registry.clone(),
            signer: Arc::new(UrlSigner::new(b"test-secret".to_vec())),
            config: Arc::new(opts.server),
        };
        let shutdown = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut tasks = vec![tokio::spawn({
            let stop = shutdown.clone();
            async move {
                let _ = tintype_server::serve(listener, state, stop).await;
            }
        })];
        if opts.worker {
            let worker = Worker::new(engine.clone(), blobs.clone(), registry, opts.worker_config);
            tasks.push(tokio::spawn(worker.run(shutdown.clone())));
        }
        let sweeper = Sweeper::new(engine.clone(), blobs.clone(), SweeperConfig::default());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { addr, base: format!("http://{addr}"), client, engine, blobs, sweeper, dir, shutdown, tasks }
    }

    /// Creates an API key for `tenant` (plan `pro`) and returns the secret.
    pub async fn create_key(&self, tenant: &str) -> String {
        self.create_key_on(tenant, "pro").await
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
        self.engine.create_api_key(key).await.expect("create key");
        secret
    }

    /// Keys of every blob under `prefix`.
    pub async fn blobs_under(&self, prefix: &str) -> std::collections::BTreeSet<String> {
        use tintype_blobs::BlobStore;
        self.blobs.list(prefix).await.expect("list").into_iter().map(|m| m.key.as_str().to_owned()).collect()
    }

    /// `GET /v1/jobs/{id}` as `key`.
    pub async fn get_job(&self, key: &str, id: &str) -> serde_json::Value {
        let res = self.client.get(self.url(&format!("/v1/jobs/{id}"))).bearer_auth(key).send().await.expect("get job");
        res.json().await.expect("job json")
    }

    /// Polls a job (as `key`) until it reaches a terminal state; returns its document.
    pub async fn wait_terminal(&self, key: &str, id: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let job = self.get_job(key, id).await;
            if ["succeeded", "failed", "cancelled"].contains(&job["state"].as_str().unwrap_or_default()) {
                return job;
            }
            assert!(std::time::Instant::now() < deadline, "job {id} did not finish: {job}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
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
    pub async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
