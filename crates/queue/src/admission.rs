//! Admission, as both drivers check it inside the enqueue's transaction: count the
//! tenant's active jobs, refuse at the cap; take one of a daily quota.
//!
//! Daily quotas are one row per tenant, UTC day and quota class in `quota_usage`, taken
//! after an idempotent replay is ruled out (a replay is never counted twice) by one
//! conditional upsert that only adds while under the limit; concurrent enqueues
//! serialise on that row. A job keeps the day and class it was counted against
//! (`quota_day`, `quota_class`) until a failure through the server's fault gives the
//! count back, once, and clears them.

use crate::engine::Result;
use crate::error::QueueError;
use crate::model::DailyQuota;

/// The tenant's queued and running jobs (served by the partial index `jobs_active`).
pub(crate) const ACTIVE: &str = "SELECT count(*) FROM jobs WHERE tenant = $1 AND state IN ('queued', 'running')";

/// Refuses a new job when `active` already reaches `cap`.
pub(crate) fn check(active: i64, cap: u32) -> Result<()> {
    if active >= i64::from(cap) { Err(QueueError::TooManyActive { limit: cap }) } else { Ok(()) }
}

/// Takes one of the limit: returns the new count, or no row when the limit is reached.
/// `$1` tenant, `$2` day, `$3` class, `$4` limit (at least 1).
pub(crate) const TAKE: &str = "INSERT INTO quota_usage (tenant, day, class, used) VALUES ($1, $2, $3, 1)
    ON CONFLICT (tenant, day, class) DO UPDATE SET used = quota_usage.used + 1
    WHERE quota_usage.used < $4
    RETURNING used";

/// Gives back what job `$1` was counted against (nothing if it was not, or was given
/// back already).
pub(crate) const GIVE_BACK: &str = "UPDATE quota_usage SET used = used - 1
    WHERE used > 0 AND (tenant, day, class) IN
        (SELECT tenant, quota_day, quota_class FROM jobs WHERE id = $1 AND quota_class IS NOT NULL)";

/// Marks job `$1` as given back (run after [`GIVE_BACK`], in its transaction).
pub(crate) const FORGET: &str = "UPDATE jobs SET quota_class = NULL, quota_day = NULL WHERE id = $1";

/// Queued jobs of queue `$1`, at most `$2` of them counted (the claim index serves it).
pub(crate) const DEPTH: &str =
    "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE state = 'queued' AND queue = $1 LIMIT $2) AS waiting";

/// Records on job `$1` the class `$2` and day `$3` it is now counted against.
pub(crate) const COUNT_JOB: &str = "UPDATE jobs SET quota_class = $2, quota_day = $3 WHERE id = $1";

/// A tenant's counts on one day.
pub(crate) const USED: &str = "SELECT class, used FROM quota_usage WHERE tenant = $1 AND day = $2";

/// Refuses at once a quota of 0 (the upsert would insert a first row of 1).
pub(crate) fn check_quota(quota: &DailyQuota) -> Result<()> {
    if quota.limit == 0 { Err(refused(quota)) } else { Ok(()) }
}

/// The error of a spent quota.
pub(crate) fn refused(quota: &DailyQuota) -> QueueError {
    QueueError::QuotaExceeded { class: quota.class.clone(), limit: quota.limit }
}
