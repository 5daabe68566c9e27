//! Migrations, one set per component. Each [`Component`] lists its SQL steps for both
//! backends and is tracked in a table of its own (`_tintype_<name>_migrations`, sqlx's
//! format), so components add tables without knowing of each other, and their version
//! numbers never collide.
//!
//! Databases made before components had their own sets (release 0.1, one
//! `_sqlx_migrations` table, the catalog's tables created by the queue's first step) are
//! adopted in place: when a component's table does not exist yet but `_sqlx_migrations`
//! does, the steps the old set had already applied are recorded as applied
//! ([`Component::legacy`]), and nothing else changes. Their rows stay as they were.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One migration step: a version (per component, from 1), a name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Version within the component, increasing.
    pub version: i64,
    /// Short description.
    pub name: &'static str,
    /// The SQL (several statements allowed).
    pub sql: &'static str,
}

/// A component's tables: its name and its steps for each backend.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// Short snake_case name (`queue`, `catalog`): names its tracking table.
    pub name: &'static str,
    /// Steps on SQLite, oldest first.
    pub sqlite: &'static [Step],
    /// Steps on PostgreSQL, oldest first.
    pub postgres: &'static [Step],
    /// Release 0.1's `_sqlx_migrations` versions and the steps of this component each
    /// one already applied: `(legacy version, this component's version)`.
    pub legacy: &'static [(i64, i64)],
}

/// The backend a migrator is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Release 0.1's single migration table.
pub(crate) const LEGACY_TABLE: &str = "_sqlx_migrations";

impl Component {
    /// The table tracking this component's steps.
    pub fn table(&self) -> String {
        format!("_tintype_{}_migrations", self.name)
    }

    fn steps(&self, backend: Backend) -> &'static [Step] {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    fn migrations(&self, backend: Backend) -> Vec<Migration> {
        self.steps(backend)
            .iter()
            .map(|s| {
                Migration::new(s.version, Cow::Borrowed(s.name), MigrationType::Simple, s.sql.into_sql_str(), false)
            })
            .collect()
    }

    /// A sqlx migrator over this component's steps and tracking table.
    pub(crate) fn migrator(&self, backend: Backend) -> Migrator {
        let mut migrator = Migrator::with_migrations(self.migrations(backend));
        migrator.dangerous_set_table_name(self.table());
        migrator
    }

    /// The statements that record, in this component's (new, empty) tracking table, the
    /// steps release 0.1 already applied, given the legacy versions found applied.
    pub(crate) fn adoption(&self, backend: Backend, applied: &[i64]) -> Vec<String> {
        let migrations = self.migrations(backend);
        let mut statements = Vec::new();
        for (legacy, version) in self.legacy {
            let Some(m) = migrations.iter().find(|m| m.version == *version) else { continue };
            if applied.contains(legacy) {
                tracing::info!(component = self.name, version, "adopting a step applied by release 0.1");
                statements.push(format!(
                    "INSERT INTO {} (version, description, success, checksum, execution_time) \
                     VALUES ({version}, '{}', TRUE, {}, 0)",
                    self.table(),
                    m.description.replace('\'', "''"),
                    hex_literal(backend, &m.checksum),
                ));
            }
        }
        statements
    }
}

/// A byte string as an SQL literal.
fn hex_literal(backend: Backend, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    }
}
