//! The engine's errors, each with a stable public code and whether retrying may help.

use crate::model::JobState;

/// Everything an engine call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No such job (or not the caller's tenant's).
    #[error("job not found")]
    NotFound,
    /// The lease token is stale: the job was rescued, released or finished meanwhile.
    #[error("lease lost: the job is no longer held by this worker")]
    LeaseLost,
    /// The idempotency key was used before with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyConflict,
    /// The operation does not apply to a job in this state.
    #[error("job is {0}")]
    InvalidState(JobState),
    /// Bad arguments (empty kind, unknown state name, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored document did not parse.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl QueueError {
    /// Stable public code.
    pub fn code(&self) -> &'static str {
        match self {
            QueueError::NotFound => "job_not_found",
            QueueError::LeaseLost => "lease_lost",
            QueueError::IdempotencyConflict => "idempotency_conflict",
            QueueError::InvalidState(_) => "invalid_state",
            QueueError::Invalid(_) => "invalid_argument",
            QueueError::Database(_) => "database_error",
            QueueError::Migrate(_) => "migration_failed",
            QueueError::Corrupt(_) => "corrupt_row",
        }
    }

    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Database(_))
    }
}
