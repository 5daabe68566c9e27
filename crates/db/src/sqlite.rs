//! The embedded SQLite database: one file in WAL mode, ONE writer connection for every
//! write of every component (so writers never meet `SQLITE_BUSY` among themselves) and a
//! small read pool. Components borrow the writer with [`SqliteDb::writer`] for one
//! statement or one transaction at a time.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrate;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::migrate::{Backend, Component, LEGACY_TABLE};
use crate::{DbError, Result};

/// How long a connection waits for a lock held by another process before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// WAL pages between automatic checkpoints (16 MiB at 4 KiB pages): fewer, larger
/// checkpoints than SQLite's 1000 keep the writer's tail latency down under load.
const WAL_CHECKPOINT_PAGES: &str = "4000";
/// Connections in the read pool.
const READERS: u32 = 4;

/// An open SQLite database. Cloning is cheap: the writer and the pool are shared.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    /// Exactly one connection: every write goes through it, in order (`None` once closed).
    /// A plain connection behind a mutex, not a one-connection pool: on a small machine
    /// the pool's acquire and release cost as much as the statement.
    writer: Arc<Mutex<Option<SqliteConnection>>>,
    /// Reads that need no ordering with a write in progress.
    reader: SqlitePool,
}

impl SqliteDb {
    /// Opens (creating if missing) the database at `url` (`sqlite:///abs/path.db`,
    /// `sqlite://relative.db` or `sqlite::memory:`) with WAL, `synchronous=NORMAL`, a busy
    /// timeout and foreign keys.
    pub async fn open(url: &str) -> Result<SqliteDb> {
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        create_private(base.get_filename())?;
        let writer = base
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .connect()
            .await?;
        // `sqlite::memory:` names one shared-cache database, so readers see the writer's.
        // Readers connect on first use, after the migrations: a reader that loaded the
        // schema halfway through them could prepare a `SELECT *` against a stale table
        // (see `migrate`).
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(0)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(base.pragma("query_only", "ON"));
        Ok(SqliteDb { writer: Arc::new(Mutex::new(Some(writer))), reader })
    }

    /// The writer connection, held until the guard drops: every write goes through here.
    pub async fn writer(&self) -> Result<MappedMutexGuard<'_, SqliteConnection>> {
        MutexGuard::try_map(self.writer.lock().await, Option::as_mut).map_err(|_| DbError::Sql(sqlx::Error::PoolClosed))
    }

    /// The read pool.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Applies the component's steps not yet applied (adopting release 0.1's first).
    pub async fn migrate(&self, component: &Component) -> Result<()> {
        let mut conn = self.writer().await?;
        let exists = |name: String| {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            )
            .bind(name)
        };
        let tracked = exists(component.table()).fetch_one(&mut *conn).await?;
        if !tracked && exists(LEGACY_TABLE.to_owned()).fetch_one(&mut *conn).await? {
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&mut *conn).await?;
            let mut tx = conn.begin().await?;
            tx.ensure_migrations_table(&component.table()).await?;
            for sql in component.adoption(Backend::Sqlite, &applied) {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        component.migrator(Backend::Sqlite).run(&mut *conn).await?;
        // sqlx keeps a statement's column list from when it was prepared, and SQLite
        // re-prepares a statement whose schema changed: a `*` prepared against the schema
        // before an `ALTER TABLE … ADD COLUMN` then reads one column past that list and
        // panics the connection's worker (seen once in CI: `row.rs:43`, 30 of 31 columns).
        // No statement prepared while migrating is kept.
        conn.clear_cached_statements().await?;
        Ok(())
    }

    /// Liveness probe.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Closes the writer and the read pool (waiting for reads in flight); later calls
    /// fail with a database error.
    pub async fn close(&self) {
        if let Some(writer) = self.writer.lock().await.take() {
            // Closing a local file does not fail in any way a caller could act on.
            let _ = writer.close().await;
        }
        self.reader.close().await;
    }
}

/// Runs a write to completion even if its caller stops waiting (a dropped HTTP request
/// must not abandon a combined write that carries other callers' requests too).
pub async fn detached<T, E>(write: impl Future<Output = Result<T, E>> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    tokio::spawn(write)
        .await
        .unwrap_or_else(|e| Err(DbError::Sql(sqlx::Error::Protocol(format!("write task failed: {e}"))).into()))
}

/// Creates a missing database file readable by this user only (SQLite gives its `-wal`
/// and `-shm` files the database file's mode); in-memory databases and existing files
/// are left alone.
fn create_private(path: &std::path::Path) -> Result<()> {
    if path.as_os_str().is_empty() || path.to_str().is_some_and(|p| p.starts_with(':')) || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(DbError::Sql(sqlx::Error::Io(e))),
    }
}
