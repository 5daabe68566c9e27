//! How a job runs the imaging crate's long steps: under an [`Interrupt`] tied to the
//! job's cancel token and a deadline, with imaging errors turned into job errors.

use std::time::Duration;

use tintype_codes::Coded;
use tintype_imaging::{ImagingError, Interrupt, Limits};
use tintype_worker::{JobContext, JobError};

/// The job's cancel (its token trips on a cancel request and on a lost lease) and a
/// deadline `limit` from now, as the imaging code checks them.
pub(crate) fn interrupt(ctx: &JobContext, limit: Duration) -> Interrupt {
    let token = ctx.cancellation().clone();
    Interrupt::when(move || token.is_cancelled()).within(limit)
}

/// Checks the decoding settings a pipeline's config section holds (`section` names it in
/// the error, with the section's own key names).
pub(crate) fn check_decode_settings(section: &str, limits: &Limits, decode_timeout_secs: u64) -> Result<(), String> {
    let Limits { max_bytes, max_side, max_pixels, max_decode_bytes, max_scans } = *limits;
    if max_bytes == 0 || max_side == 0 || max_pixels == 0 || max_decode_bytes == 0 || max_scans == 0 {
        return Err(format!(
            "{section}.max_source_bytes, max_side, max_pixels, max_decode_bytes and max_scans must be positive"
        ));
    }
    if !(1..=3600).contains(&decode_timeout_secs) {
        return Err(format!("{section}.decode_timeout_secs: 1 to 3600"));
    }
    Ok(())
}

/// Imaging errors are permanent: the same bytes fail the same way (past a deadline too).
/// A stop on request is the job's cancellation.
pub(crate) fn job_error(ctx: &JobContext, e: ImagingError) -> JobError {
    if e == ImagingError::Cancelled {
        return ctx.check_cancelled().err().unwrap_or_else(JobError::cancelled);
    }
    JobError::permanent(e.code(), e.to_string())
}
