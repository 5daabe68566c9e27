//! Where every component's tables live. A [`Db`] is one open database, SQLite
//! (embedded: [`SqliteDb`], one writer connection shared by every component) or
//! PostgreSQL (scale-out: [`PgDb`], one pool). Components (the job queue, the catalog of
//! keys and uploads, later the photo library) each own their tables, their migrations
//! ([`Component`], applied by [`Db::migrate`] and tracked per component) and a repo
//! trait with one driver per backend; this crate owns only what they share: connections,
//! the single SQLite writer, migrations and the [`rows`] helpers.

pub mod clock;
pub mod error;
pub mod migrate;
pub mod postgres;
pub mod rows;
pub mod sqlite;
pub mod testing;

pub use clock::Clock;
pub use error::DbError;
pub use migrate::{Component, Step};
pub use postgres::{PgDb, PgSettings};
pub use sqlite::SqliteDb;

/// Result of every call here.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// One open database, of either backend. Cloning is cheap (connections are shared).
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded default.
    Sqlite(SqliteDb),
    /// Scale-out.
    Postgres(PgDb),
}

/// Whether a database URL names PostgreSQL (anything else is SQLite).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Db {
    /// Opens `url`: `postgres://…` (with `settings`) or a SQLite URL (`sqlite://path`).
    /// Migrations are not applied here: call [`Db::migrate`] with the components.
    pub async fn open(url: &str, settings: PgSettings) -> Result<Db> {
        if is_postgres(url) {
            Ok(Db::Postgres(PgDb::open(url, settings).await?))
        } else {
            Ok(Db::Sqlite(SqliteDb::open(url).await?))
        }
    }

    /// Applies every component's migrations not yet applied, in the order given.
    pub async fn migrate(&self, components: &[&Component]) -> Result<()> {
        for component in components {
            match self {
                Db::Sqlite(db) => db.migrate(component).await?,
                Db::Postgres(db) => db.migrate(component).await?,
            }
        }
        Ok(())
    }

    /// Cheap liveness probe (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Db::Sqlite(db) => db.ping().await,
            Db::Postgres(db) => db.ping().await,
        }
    }

    /// Closes every connection (waiting for queries in flight).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(db) => db.close().await,
        }
    }
}
