//! Assembling Tintype from its parts, written once and used by the `tintype` binary and
//! the test suite alike: [`Backends::open`] migrates every storage component of one
//! database and builds the engine and catalog over it; an [`Assembly`] adds the blob
//! store, the job kinds and every setting, and builds what a role runs (the API state,
//! the worker with its runners, the sweeper), or [`Assembly::spawn`]s them all.
//!
//! Runners are built only for a worker ([`Assembly::worker`]): an api process holds the
//! kinds' specs and never a Chromium pool or a GPU model.

pub mod chores;

use std::sync::Arc;
use std::time::Duration;

use tintype_blobs::{BlobStore, UrlSigner};
use tintype_catalog::Catalog;
use tintype_db::{Component, Db};
use tintype_kinds::{JobSpec, Kinds};
use tintype_library::Library;
use tintype_pipelines::{RunnerDeps, Sections};
use tintype_queue::postgres::PostgresEngine;
use tintype_queue::sqlite::SqliteEngine;
use tintype_queue::{Engine, EngineConfig, QueueError};
use tintype_server::{AppState, ServerConfig};
use tintype_worker::{JobRunner, Runners, Sweeper, SweeperConfig, Worker, WorkerConfig};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Every storage component's tables, in the order they are migrated.
pub const COMPONENTS: [&Component; 3] =
    [&tintype_queue::MIGRATIONS, &tintype_catalog::MIGRATIONS, &tintype_library::MIGRATIONS];

/// Every storage component over one database.
#[derive(Clone)]
pub struct Backends {
    /// The database.
    pub db: Db,
    /// Jobs.
    pub engine: Arc<dyn Engine>,
    /// Keys and uploads.
    pub catalog: Arc<dyn Catalog>,
    /// The photo library.
    pub library: Arc<dyn Library>,
}

impl Backends {
    /// Migrates every component of `db` and opens each over it.
    pub async fn open(db: Db, engine: EngineConfig) -> Result<Backends, QueueError> {
        db.migrate(&COMPONENTS).await?;
        let catalog = tintype_catalog::open(&db, engine.clock.clone());
        let library = tintype_library::open(&db, engine.clock.clone());
        let engine: Arc<dyn Engine> = match &db {
            Db::Postgres(pg) => Arc::new(PostgresEngine::new(pg.clone(), engine).await?),
            Db::Sqlite(lite) => Arc::new(SqliteEngine::new(lite.clone(), engine)),
        };
        Ok(Backends { db, engine, catalog, library })
    }
}

/// Which parts run in a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// API, worker and sweeper (`tintype serve`).
    All,
    /// API only.
    Api,
    /// Worker and sweeper.
    Worker,
}

/// A kind that is not one of the build's pipelines (tests, benchmarks): spec and runner.
pub type ExtraKind = (Arc<dyn JobSpec>, Arc<dyn JobRunner>);

/// Everything one process needs, assembled.
#[derive(Clone)]
pub struct Assembly {
    /// Storage components.
    pub backends: Backends,
    /// Blob storage.
    pub blobs: Arc<dyn BlobStore>,
    /// Signs links the store cannot presign.
    pub signer: Arc<UrlSigner>,
    /// The pipelines' config sections.
    pub sections: Sections,
    /// API settings.
    pub server: ServerConfig,
    /// Worker settings.
    pub worker: WorkerConfig,
    /// Sweeper settings.
    pub sweeper: SweeperConfig,
    /// Kinds beyond the build's pipelines.
    pub extra: Vec<ExtraKind>,
    /// Every plan (what each tenant may do).
    pub plans: tintype_plans::Plans,
}

impl Assembly {
    /// Every kind's spec: the build's pipelines and the extra kinds.
    pub fn kinds(&self) -> Kinds {
        let mut kinds = tintype_pipelines::kinds(&self.sections);
        for (spec, _) in &self.extra {
            kinds.add(spec.clone());
        }
        kinds
    }

    /// The API's state (`allow_open`: serve keyless requests while no key exists).
    pub fn app_state(&self, allow_open: bool) -> AppState {
        AppState {
            engine: self.backends.engine.clone(),
            catalog: self.backends.catalog.clone(),
            library: self.backends.library.clone(),
            blobs: self.blobs.clone(),
            kinds: Arc::new(self.kinds()),
            signer: self.signer.clone(),
            plans: Arc::new(self.plans.clone()),
            keys: Arc::default(),
            config: Arc::new(ServerConfig { allow_open, ..self.server.clone() }),
        }
    }

    /// Checks the plans against the kinds and quota classes of this build.
    pub fn check_plans(&self) -> Result<(), String> {
        let kinds = self.kinds();
        let names: Vec<&str> = kinds.names().collect();
        let classes: Vec<&str> = kinds.quota_classes().iter().map(|c| c.name).collect();
        self.plans.validate(tintype_plans::Known { kinds: &names, quota_classes: &classes })
    }

    /// Every kind's runner (builds them: call in worker processes only); the error says
    /// which kind's runner could not start.
    pub fn runners(&self) -> Result<Runners, String> {
        let deps = RunnerDeps::new(&self.sections, self.backends.catalog.clone(), self.backends.library.clone())?;
        let wanted = &self.worker.kinds;
        let known: Vec<&str> = tintype_pipelines::PIPELINES
            .iter()
            .map(|p| p.kind)
            .chain(self.extra.iter().map(|(s, _)| s.kind()))
            .collect();
        if let Some(unknown) = wanted.iter().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("worker.kinds: unknown kind {unknown:?}; this build has {}", known.join(", ")));
        }
        let serves = |kind: &str| wanted.is_empty() || wanted.iter().any(|k| k == kind);
        let mut runners = tintype_pipelines::runners(&self.sections, &deps, serves)?;
        for (spec, runner) in &self.extra {
            if serves(spec.kind()) {
                runners.add(runner.clone());
            }
        }
        Ok(runners)
    }

    /// A worker with every runner.
    pub fn worker(&self) -> Result<Worker, String> {
        let runners = Arc::new(self.runners()?);
        Ok(Worker::new(self.backends.engine.clone(), self.blobs.clone(), runners, self.worker.clone()))
    }

    /// The sweeper.
    pub fn sweeper(&self) -> Sweeper {
        let presigns = chores::ExpiredPresigns::new(self.backends.catalog.clone(), self.blobs.clone());
        Sweeper::new(self.backends.engine.clone(), self.blobs.clone(), self.sweeper.clone())
            .with_chore(Arc::new(presigns))
    }

    /// Spawns the role's parts into `tasks` until `shutdown` (an error when a runner
    /// cannot start, before anything is spawned): the API on `listener` (roles
    /// `All` and `Api`; long-lived event streams get `grace` after shutdown before they
    /// are cut), the worker and, with `sweep`, the sweeper loop (roles `All`, `Worker`).
    pub fn spawn(
        &self,
        role: Role,
        listener: Option<TcpListener>,
        allow_open: bool,
        sweep: bool,
        shutdown: &CancellationToken,
        tasks: &mut JoinSet<std::io::Result<()>>,
    ) -> Result<(), String> {
        let worker = if role == Role::Api { None } else { Some(self.worker()?) };
        if let (true, Some(listener)) = (role != Role::Worker, listener) {
            let (state, stop) = (self.app_state(allow_open), shutdown.clone());
            let grace = self.worker.shutdown_grace + Duration::from_secs(1);
            tasks.spawn(async move {
                let server = tintype_server::serve(listener, state, stop.clone());
                let deadline = async {
                    stop.cancelled().await;
                    tokio::time::sleep(grace).await
                };
                tokio::select! { r = server => r, _ = deadline => Ok(()) }
            });
        }
        if let Some(worker) = worker {
            let stop = shutdown.clone();
            tasks.spawn(async move {
                worker.run(stop).await;
                Ok(())
            });
            if sweep {
                let (sweeper, stop) = (self.sweeper(), shutdown.clone());
                tasks.spawn(async move {
                    sweeper.run(stop).await;
                    Ok(())
                });
            }
        }
        Ok(())
    }
}
