//! The engine's errors, each with a stable public code and whether retrying may help.

use tintype_codes::{Code, Coded};
use tintype_db::DbError;

use crate::model::JobState;

tintype_codes::codes! {
    /// No such job (or not the caller's tenant's).
    JOB_NOT_FOUND = ("job_not_found", NotFound);
    /// The lease passed on: the job was rescued, released or finished meanwhile.
    LEASE_LOST = ("lease_lost", Conflict);
    /// The `Idempotency-Key` was used before with a different request.
    IDEMPOTENCY_CONFLICT = ("idempotency_conflict", Conflict);
    /// A job's worker stopped renewing its lease (a crash); retried unless it was the
    /// last attempt.
    LEASE_EXPIRED = ("lease_expired", Unavailable);
    /// The tenant already has as many jobs queued or running as its plan allows.
    TOO_MANY_ACTIVE_JOBS = ("too_many_active_jobs", RateLimited);
    /// The operation does not apply to a job in its state.
    INVALID_STATE = ("invalid_state", Conflict);
}

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
    /// The tenant's active jobs are at the admission cap.
    #[error("the tenant already has {limit} jobs queued or running, the most its plan allows")]
    TooManyActive {
        /// The cap.
        limit: u32,
    },
    /// The tenant's daily quota of a class is spent for today (UTC).
    #[error("the daily quota of {limit} {class} jobs is used up for today")]
    QuotaExceeded {
        /// The quota class.
        class: String,
        /// Its daily limit.
        limit: u64,
    },
    /// Bad arguments (empty kind, unknown state name, names too long, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed, or a row did not decode.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for QueueError {
    fn from(e: sqlx::Error) -> Self {
        QueueError::Db(DbError::Sql(e))
    }
}

impl Coded for QueueError {
    fn code(&self) -> Code {
        match self {
            QueueError::NotFound => JOB_NOT_FOUND,
            QueueError::LeaseLost => LEASE_LOST,
            QueueError::IdempotencyConflict => IDEMPOTENCY_CONFLICT,
            QueueError::InvalidState(_) => INVALID_STATE,
            QueueError::TooManyActive { .. } => TOO_MANY_ACTIVE_JOBS,
            QueueError::QuotaExceeded { .. } => tintype_plans::DAILY_QUOTA_EXCEEDED,
            QueueError::Invalid(_) => tintype_codes::common::INVALID_INPUT,
            QueueError::Db(e) => e.code(),
        }
    }
}

impl QueueError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, QueueError::Db(e) if e.is_retryable())
    }

    /// A database-level failure with a message (a task that died, a channel closed).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        QueueError::Db(DbError::Sql(sqlx::Error::Protocol(message.into())))
    }

    /// A stored value that does not decode.
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        QueueError::Db(DbError::Corrupt(message.into()))
    }
}
