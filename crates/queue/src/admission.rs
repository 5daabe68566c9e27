//! Admission, as both drivers check it inside the enqueue's transaction: count the
//! tenant's active jobs, refuse at the cap.

use crate::engine::Result;
use crate::error::QueueError;

/// The tenant's queued and running jobs (served by the partial index `jobs_active`).
pub(crate) const ACTIVE: &str = "SELECT count(*) FROM jobs WHERE tenant = $1 AND state IN ('queued', 'running')";

/// Refuses a new job when `active` already reaches `cap`.
pub(crate) fn check(active: i64, cap: u32) -> Result<()> {
    if active >= i64::from(cap) { Err(QueueError::TooManyActive { limit: cap }) } else { Ok(()) }
}
