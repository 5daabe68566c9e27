//! Typed job outcomes: a step fails with a [`JobError`] that carries a stable [`Code`]
//! and says whether another attempt may help. [`ResultExt`] makes the choice explicit at
//! each call site: `store.put(..).await.retryable()?`, `decode(bytes).permanent()?`.

use std::fmt;

pub use tintype_codes::{Code, Coded};

tintype_codes::codes! {
    /// The job stopped because its tenant cancelled it.
    CANCELLED = ("cancelled", Conflict);
    /// The job's code panicked (the worker survives; the job fails for good).
    PANIC = ("panic", Internal);
    /// The job's task was aborted (the worker is stopping); transient.
    ABORTED = ("aborted", Unavailable);
    /// The worker's blocking pool is closed (shutting down); transient.
    SHUTTING_DOWN = ("shutting_down", Unavailable);
    /// No runner for the job's kind in this worker.
    KIND_NOT_SERVED = ("kind_not_served", Unsupported);
    /// A `sleep` job asked to fail.
    SLEEP_FAILED = ("sleep_failed", Internal);
}

/// Why a job stopped without an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// Stable public code (`unsupported_format`, `storage_error`, `cancelled`, ...).
    pub code: Code,
    /// Human-readable detail.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
    /// The input is to blame even when another attempt may succeed (a tenant's own URL
    /// that timed out or answered 503): no daily quota is given back.
    pub input_fault: bool,
}

impl JobError {
    /// A failure that will not go away by retrying (bad input, unsupported, too large).
    pub fn permanent(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retryable: false, input_fault: false }
    }

    /// A failure that may go away (I/O, timeouts, storage 5xx).
    pub fn transient(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retryable: true, input_fault: false }
    }

    /// An error whose code decides: transient kinds (unavailable, rate-limited) retry.
    pub fn from_coded(e: &impl Coded) -> Self {
        let code = e.code();
        Self { code, message: e.to_string(), retryable: code.kind().is_transient(), input_fault: false }
    }

    /// The job stopped because its tenant cancelled it.
    pub fn cancelled() -> Self {
        Self::permanent(CANCELLED, "cancelled on request")
    }

    /// True for [`JobError::cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.code == CANCELLED
    }

    /// Marks the input as the one to blame (see [`JobError::input_fault`]).
    pub fn blame_input(mut self) -> Self {
        self.input_fault = true;
        self
    }

    /// Whether the server is to blame rather than the input: a failure that might pass
    /// (a dependency down, a timeout) or a bug, unless the input was blamed. A job failed
    /// this way gives its daily quota back.
    pub fn is_server_fault(&self) -> bool {
        use tintype_codes::ErrorKind;
        !self.input_fault
            && (self.retryable
                || matches!(self.code.kind(), ErrorKind::Unavailable | ErrorKind::Internal | ErrorKind::RateLimited))
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for JobError {}

impl Coded for JobError {
    fn code(&self) -> Code {
        self.code
    }
}

/// Turns any coded error into a [`JobError`], choosing retry behaviour at the call site.
pub trait ResultExt<T> {
    /// Another attempt may succeed.
    fn retryable(self) -> Result<T, JobError>;
    /// Retrying cannot help.
    fn permanent(self) -> Result<T, JobError>;
    /// The code's kind decides (see [`JobError::from_coded`]).
    fn by_code(self) -> Result<T, JobError>;
}

impl<T, E: Coded> ResultExt<T> for Result<T, E> {
    fn retryable(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::transient(e.code(), e.to_string()))
    }

    fn permanent(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::permanent(e.code(), e.to_string()))
    }

    fn by_code(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::from_coded(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_site_chooses_retry_behaviour() {
        let io: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
        let e = io.retryable().unwrap_err();
        assert_eq!((e.code.name(), e.retryable), ("io_error", true));
        let bad: Result<(), tintype_blobs::BlobError> = Err(tintype_blobs::BlobError::NotFound);
        let e = bad.permanent().unwrap_err();
        assert_eq!((e.code.name(), e.retryable), ("blob_not_found", false));
        let down: Result<(), tintype_blobs::BlobError> =
            Err(tintype_blobs::BlobError::Io(std::io::Error::other("5xx")));
        assert!(down.by_code().unwrap_err().retryable, "storage errors are transient by kind");
        assert!(JobError::cancelled().is_cancelled());
        assert!(!JobError::permanent(SLEEP_FAILED, "y").is_cancelled());
    }

    #[test]
    fn the_server_is_blamed_for_what_may_pass_and_for_bugs_unless_the_input_is() {
        let bad_input = tintype_codes::Code::new("bad", tintype_codes::ErrorKind::InvalidInput);
        assert!(!JobError::permanent(bad_input, "x").is_server_fault());
        assert!(JobError::transient(bad_input, "x").is_server_fault(), "it might have passed");
        assert!(JobError::permanent(SLEEP_FAILED, "a bug").is_server_fault());
        assert!(!JobError::transient(bad_input, "the tenant's URL timed out").blame_input().is_server_fault());
    }
}
