//! Typed job outcomes: a step fails with a [`JobError`] that says whether another attempt
//! may help. [`ResultExt`] makes the choice explicit at each call site:
//! `store.put(..).await.retryable()?`, `decode(bytes).permanent()?`.

use std::borrow::Cow;
use std::fmt;

/// Why a job stopped without an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// Stable public code (`unsupported_format`, `storage_error`, `cancelled`, ...).
    pub code: Cow<'static, str>,
    /// Human-readable detail.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

impl JobError {
    /// Code of the error a job returns when it saw a cancel request.
    pub const CANCELLED: &'static str = "cancelled";

    /// A failure that will not go away by retrying (bad input, unsupported, too large).
    pub fn permanent(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), retryable: false }
    }

    /// A failure that may go away (I/O, timeouts, storage 5xx).
    pub fn transient(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), retryable: true }
    }

    /// The job stopped because its tenant cancelled it.
    pub fn cancelled() -> Self {
        Self::permanent(Self::CANCELLED, "cancelled on request")
    }

    /// True for [`JobError::cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.code == Self::CANCELLED
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for JobError {}

/// An error that knows its stable public code.
pub trait Coded: fmt::Display {
    /// Stable public code.
    fn code(&self) -> Cow<'static, str>;
}

impl Coded for tintype_blobs::BlobError {
    fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed(tintype_blobs::BlobError::code(self))
    }
}

impl Coded for tintype_queue::QueueError {
    fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed(tintype_queue::QueueError::code(self))
    }
}

impl Coded for std::io::Error {
    fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed("io_error")
    }
}

impl Coded for serde_json::Error {
    fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed("invalid_input")
    }
}

/// Turns any coded error into a [`JobError`], choosing retry behaviour at the call site.
pub trait ResultExt<T> {
    /// Another attempt may succeed.
    fn retryable(self) -> Result<T, JobError>;
    /// Retrying cannot help.
    fn permanent(self) -> Result<T, JobError>;
}

impl<T, E: Coded> ResultExt<T> for Result<T, E> {
    fn retryable(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::transient(e.code(), e.to_string()))
    }

    fn permanent(self) -> Result<T, JobError> {
        self.map_err(|e| JobError::permanent(e.code(), e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_site_chooses_retry_behaviour() {
        let io: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
        let e = io.retryable().unwrap_err();
        assert_eq!((e.code.as_ref(), e.retryable), ("io_error", true));
        let bad: Result<(), tintype_blobs::BlobError> = Err(tintype_blobs::BlobError::NotFound);
        let e = bad.permanent().unwrap_err();
        assert_eq!((e.code.as_ref(), e.retryable), ("blob_not_found", false));
        assert!(JobError::cancelled().is_cancelled());
        assert!(!JobError::permanent("x", "y").is_cancelled());
    }
}
