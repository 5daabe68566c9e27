//! The error-code registry. Every error a client or an operator can see carries a
//! [`Code`]: a stable snake_case name and an [`ErrorKind`] (what sort of failure it is).
//! Codes are declared once per crate with [`codes!`], which also lists them in that
//! crate's `codes::ALL`, so the workspace can check them against `docs/api.md` in one
//! test. Error types report theirs through [`Coded`]; only `server` turns a kind into an
//! HTTP status, in one match.

use std::fmt;

/// What sort of failure a code names. The HTTP status follows from it (in `server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The request itself is malformed (bad JSON, bad header, bad query): 400.
    BadRequest,
    /// No credentials, or unknown ones: 401.
    Unauthorized,
    /// The plan's quota is spent: 402.
    Quota,
    /// A signature is wrong or expired, or the plan forbids it: 403.
    Forbidden,
    /// The thing does not exist (or is another tenant's): 404.
    NotFound,
    /// The resource's state forbids the request: 409.
    Conflict,
    /// It existed and is gone for good (expired artifacts): 410.
    Gone,
    /// Bigger than a limit: 413.
    TooLarge,
    /// A media type or format this build does not handle: 415.
    Unsupported,
    /// A byte range outside the blob: 416.
    RangeNotSatisfiable,
    /// The route exists, the method does not: 405.
    MethodNotAllowed,
    /// The client was too slow sending its request: 408.
    RequestTimeout,
    /// The request names a host this server does not answer for: 421.
    Misdirected,
    /// Well-formed but invalid input: 422.
    InvalidInput,
    /// Too many requests or active jobs: 429.
    RateLimited,
    /// A dependency (database, store, network) is unavailable; retrying may help: 503.
    Unavailable,
    /// A bug or broken invariant; details stay in the log: 500.
    Internal,
}

impl ErrorKind {
    /// Whether the same call may succeed later without any change by the caller.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::RateLimited)
    }

    /// The kind's name in docs and logs (`invalid_input`, `not_found`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Quota => "quota",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Gone => "gone",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::Misdirected => "misdirected",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A stable public error code: its name never changes once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    name: &'static str,
    kind: ErrorKind,
}

impl Code {
    /// A code; use [`codes!`] rather than calling this, so the code is listed.
    pub const fn new(name: &'static str, kind: ErrorKind) -> Code {
        Code { name, kind }
    }

    /// The snake_case name clients match on.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// What sort of failure it is.
    pub const fn kind(self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.name
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

/// An error that knows its stable code.
pub trait Coded: fmt::Display {
    /// The code this error reports.
    fn code(&self) -> Code;
}

impl Coded for Code {
    fn code(&self) -> Code {
        *self
    }
}

/// Codes every layer may report, defined here so that one thing has one name.
pub mod common {
    crate::codes! {
        /// The input document (job input, request body field) is wrong.
        INVALID_INPUT = ("invalid_input", InvalidInput);
        /// Local I/O failed (temp files, disk).
        IO_ERROR = ("io_error", Unavailable);
        /// A broken invariant (a poisoned lock, a task that vanished).
        INTERNAL = ("internal", Internal);
    }
}

impl Coded for std::io::Error {
    fn code(&self) -> Code {
        common::IO_ERROR
    }
}

impl Coded for serde_json::Error {
    fn code(&self) -> Code {
        common::INVALID_INPUT
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.name == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

/// Declares a crate's codes: one `pub const` per code and `ALL`, the list of them.
///
/// ```
/// tintype_codes::codes! {
///     /// The job does not exist (or is another tenant's).
///     JOB_NOT_FOUND = ("job_not_found", NotFound);
///     /// The lease passed on to another worker.
///     LEASE_LOST = ("lease_lost", Conflict);
/// }
/// assert_eq!(JOB_NOT_FOUND.name(), "job_not_found");
/// assert_eq!(ALL.len(), 2);
/// ```
#[macro_export]
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = ($code:literal, $kind:ident);)+) => {
        $(
            $(#[$doc])*
            pub const $name: $crate::Code = $crate::Code::new($code, $crate::ErrorKind::$kind);
        )+
        /// Every code declared here, in declaration order.
        pub const ALL: &[$crate::Code] = &[$($name),+];
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unreachable_pub)]
    mod sample {
        crate::codes! {
            /// One.
            ONE = ("one", NotFound);
            /// Two.
            TWO = ("two", Unavailable);
        }
    }

    #[test]
    fn codes_are_listed_with_their_kind() {
        assert_eq!(sample::ALL, &[sample::ONE, sample::TWO]);
        assert_eq!(sample::TWO.kind(), ErrorKind::Unavailable);
        assert!(sample::TWO.kind().is_transient() && !sample::ONE.kind().is_transient());
        assert_eq!(sample::ONE.to_string(), "one");
    }
}
