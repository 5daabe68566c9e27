//! The scale-out PostgreSQL database: one pool shared by every component, optionally in
//! a schema of its own (tests use one per case; benchmarks a scratch one). TLS is on by
//! default in the build: `sslmode=require` (managed PostgreSQL) works.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrate;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Acquire, AssertSqlSafe, Executor};

use crate::migrate::{Backend, Component, LEGACY_TABLE};
use crate::{DbError, Result};

/// PostgreSQL-only settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Connections in the pool (components may hold one more, e.g. for LISTEN).
    pub pool_size: u32,
    /// Schema holding the tables (`None`: the connection's default, normally `public`).
    pub schema: Option<String>,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self { pool_size: 10, schema: None }
    }
}

/// An open PostgreSQL database. Cloning is cheap (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgDb {
    pool: PgPool,
    schema: String,
}

impl PgDb {
    /// Connects to `url` (`postgres://user@host:port/db?sslmode=…`).
    pub async fn open(url: &str, settings: PgSettings) -> Result<PgDb> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = &settings.schema {
            if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(DbError::Invalid(format!("schema name {schema:?}: letters, digits and _ only")));
            }
            options = options.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(&pool).await?;
        Ok(PgDb { pool, schema })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema the tables live in (`public` unless configured).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Applies the component's steps not yet applied (adopting release 0.1's first).
    pub async fn migrate(&self, component: &Component) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        {
            // Two processes upgrading at once: the second waits here, then finds the
            // component tracked and adopts nothing.
            let mut tx = conn.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tintype_migrate'))").execute(&mut *tx).await?;
            let exists = |name: String| sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL").bind(name);
            let tracked = exists(component.table()).fetch_one(&mut *tx).await?;
            if !tracked && exists(LEGACY_TABLE.to_owned()).fetch_one(&mut *tx).await? {
                let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(&mut *tx)
                    .await?;
                tx.ensure_migrations_table(&component.table()).await?;
                for sql in component.adoption(Backend::Postgres, &applied) {
                    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        }
        component.migrator(Backend::Postgres).run(&mut *conn).await?;
        Ok(())
    }

    /// Liveness probe.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Runs raw SQL (tests and operators: e.g. dropping a test schema).
    pub async fn execute(&self, sql: &'static str) -> Result<()> {
        self.pool.execute(sql).await?;
        Ok(())
    }

    /// Closes the pool (waiting for queries in flight).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
