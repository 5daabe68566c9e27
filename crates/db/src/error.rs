//! What the storage layer can fail with; components wrap it in their own error type.

use tintype_codes::{Code, Coded};

tintype_codes::codes! {
    /// The database failed or is unreachable (retrying may help).
    DATABASE_ERROR = ("database_error", Unavailable);
    /// Applying migrations failed.
    MIGRATION_FAILED = ("migration_failed", Internal);
    /// A stored row did not decode.
    CORRUPT_ROW = ("corrupt_row", Internal);
}

/// Everything a storage call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database failed.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row did not decode.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A value that cannot be stored, or a bad setting.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl Coded for DbError {
    fn code(&self) -> Code {
        match self {
            DbError::Sql(_) => DATABASE_ERROR,
            DbError::Migrate(_) => MIGRATION_FAILED,
            DbError::Corrupt(_) => CORRUPT_ROW,
            DbError::Invalid(_) => tintype_codes::common::INVALID_INPUT,
        }
    }
}

impl DbError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DbError::Sql(_))
    }
}
