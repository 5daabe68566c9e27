//! Scratch databases for tests and benchmarks: [`PgScratch`] is a schema of its own on
//! the local PostgreSQL server, dropped with everything in it when the guard drops, and
//! [`pg_available`] says (once) whether that server answers. Without it, callers skip;
//! with `TINTYPE_TEST_REQUIRE_ALL` set (CI), a missing server is a failure.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::OnceCell;

use crate::{PgDb, PgSettings, Result};

/// The server tests use: `TINTYPE_TEST_POSTGRES_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`.
pub fn pg_url() -> String {
    std::env::var("TINTYPE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether the test server answers (checked once per process; says so when it does not).
/// Panics instead when `TINTYPE_TEST_REQUIRE_ALL` is set.
pub async fn pg_available() -> bool {
    static UP: OnceCell<bool> = OnceCell::const_new();
    *UP.get_or_init(|| async {
        let url = pg_url();
        match tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(&url)).await {
            Ok(Ok(_)) => true,
            _ if std::env::var_os("TINTYPE_TEST_REQUIRE_ALL").is_some() => panic!("PostgreSQL is required at {url}"),
            Ok(Err(e)) => {
                eprintln!("SKIPPED PostgreSQL tests: {url} is not reachable ({e})");
                false
            }
            Err(_) => {
                eprintln!("SKIPPED PostgreSQL tests: {url} did not answer in 3 s");
                false
            }
        }
    })
    .await
}

/// A schema of its own on the test server, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct PgScratch {
    name: String,
}

impl PgScratch {
    /// Creates `tt_<random>`.
    pub async fn create() -> Result<PgScratch> {
        let name = format!("tt_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&pg_url()).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&mut conn).await?;
        Ok(PgScratch { name })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A database URL whose connections use this schema (for child processes).
    pub fn url(&self) -> String {
        let base = pg_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{}", self.name)
    }

    /// Opens a pool on this schema.
    pub async fn open(&self, pool_size: u32) -> Result<PgDb> {
        PgDb::open(&pg_url(), PgSettings { pool_size, schema: Some(self.name.clone()) }).await
    }
}

impl Drop for PgScratch {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_url()).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                    let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}
