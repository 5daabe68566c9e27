//! How a job runs the imaging crate's long steps: under an [`Interrupt`] tied to the
//! job's cancel token and a deadline, with imaging errors turned into job errors.

use std::time::Duration;

use tintype_codes::Coded;
use tintype_imaging::{ImagingError, Interrupt};
use tintype_worker::{JobContext, JobError};

/// The job's cancel (its token trips on a cancel request and on a lost lease) and a
/// deadline `limit` from now, as the imaging code checks them.
pub(crate) fn interrupt(ctx: &JobContext, limit: Duration) -> Interrupt {
    let token = ctx.cancellation().clone();
    Interrupt::when(move || token.is_cancelled()).within(limit)
}

/// Imaging errors are permanent: the same bytes fail the same way (past a deadline too).
/// A stop on request is the job's cancellation.
pub(crate) fn job_error(ctx: &JobContext, e: ImagingError) -> JobError {
    if e == ImagingError::Cancelled {
        return ctx.check_cancelled().err().unwrap_or_else(JobError::cancelled);
    }
    JobError::permanent(e.code(), e.to_string())
}
