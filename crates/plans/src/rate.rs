//! Rate limits per key and route class, as a generic cell rate algorithm (GCRA): a limit
//! of `requests` per `per_secs` lets a burst of `requests` through, then one request
//! every `per_secs / requests`. Its whole state is one instant per key, the theoretical
//! arrival time (TAT), so a store keeps it in one row and decides in one transaction
//! ([`Rate::decide`] is the pure rule; the catalog stores the TAT on both backends, so
//! the limit holds across api processes).
//!
//! The answers carry the IETF headers (draft-ietf-httpapi-ratelimit-headers):
//! `RateLimit-Policy: "jobs";q=30;w=600` and `RateLimit: "jobs";r=12;t=240`.

use serde::{Deserialize, Serialize};

/// The route classes a plan can limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// `POST /v1/uploads` and presigned uploads.
    Uploads,
    /// `POST /v1/jobs` and job retries.
    Jobs,
}

impl RouteClass {
    /// Every class.
    pub const ALL: [RouteClass; 2] = [RouteClass::Uploads, RouteClass::Jobs];

    /// The name plans use.
    pub fn name(self) -> &'static str {
        match self {
            RouteClass::Uploads => "uploads",
            RouteClass::Jobs => "jobs",
        }
    }

    /// The class of a name.
    pub fn parse(name: &str) -> Option<RouteClass> {
        RouteClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// At most `requests` per `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per window (also the burst).
    pub requests: u32,
    /// The window, seconds.
    pub per_secs: u64,
}

/// What [`Rate::decide`] says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Let through.
    pub allowed: bool,
    /// The TAT to store (unchanged when refused), ms since the epoch.
    pub tat_ms: i64,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Seconds until the whole burst is back.
    pub reset_secs: u64,
    /// Seconds until a request is let through again (0 when this one was).
    pub retry_after_secs: u64,
}

impl Rate {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 || self.per_secs == 0 || self.per_secs > 31 * 24 * 3600 {
            return Err("requests and per_secs must be positive (per_secs at most 31 days)".into());
        }
        Ok(())
    }

    fn window_ms(&self) -> i64 {
        self.per_secs as i64 * 1000
    }

    fn interval_ms(&self) -> i64 {
        (self.window_ms() / i64::from(self.requests)).max(1)
    }

    /// The decision for a request at `now_ms` given the key's stored TAT (`None`: the
    /// key was never seen, or its TAT lapsed and was dropped).
    pub fn decide(&self, tat_ms: Option<i64>, now_ms: i64) -> RateDecision {
        let (window, interval) = (self.window_ms(), self.interval_ms());
        let base = tat_ms.unwrap_or(now_ms).max(now_ms);
        let next = base + interval;
        let secs = |ms: i64| (ms.max(0) as u64).div_ceil(1000);
        if next - now_ms <= window {
            let remaining = ((window - (next - now_ms)) / interval).clamp(0, i64::from(u32::MAX)) as u32;
            RateDecision {
                allowed: true,
                tat_ms: next,
                remaining,
                reset_secs: secs(next - now_ms),
                retry_after_secs: 0,
            }
        } else {
            RateDecision {
                allowed: false,
                tat_ms: base,
                remaining: 0,
                reset_secs: secs(base - now_ms),
                retry_after_secs: secs(next - window - now_ms).max(1),
            }
        }
    }

    /// `RateLimit-Policy` for this limit under a class name.
    pub fn policy_header(&self, class: RouteClass) -> String {
        format!("\"{}\";q={};w={}", class.name(), self.requests, self.per_secs)
    }
}

impl RateDecision {
    /// `RateLimit` for this decision under a class name.
    pub fn header(&self, class: RouteClass) -> String {
        format!("\"{}\";r={};t={}", class.name(), self.remaining, self.reset_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs requests at the given seconds, returning which were let through.
    fn run(rate: Rate, at_secs: &[f64]) -> Vec<bool> {
        let mut tat = None;
        at_secs
            .iter()
            .map(|s| {
                let d = rate.decide(tat, (s * 1000.0) as i64);
                if d.allowed {
                    tat = Some(d.tat_ms);
                }
                d.allowed
            })
            .collect()
    }

    #[test]
    fn a_burst_of_the_limit_then_one_per_interval() {
        let rate = Rate { requests: 10, per_secs: 600 };
        let burst: Vec<f64> = (0..11).map(|i| f64::from(i) * 0.1).collect();
        let got = run(rate, &burst);
        assert_eq!(got.iter().filter(|a| **a).count(), 10, "{got:?}");
        assert!(!got[10]);
        // One comes back every 60 s; after 600 s of quiet the whole burst does.
        let mut at = burst.clone();
        at.extend([30.0, 61.0, 62.0, 1300.0]);
        let got = run(rate, &at);
        assert_eq!(&got[11..], [false, true, false, true]);
    }

    #[test]
    fn the_headers_and_waits_say_what_happened() {
        let rate = Rate { requests: 3, per_secs: 60 };
        let first = rate.decide(None, 0);
        assert_eq!((first.allowed, first.remaining, first.reset_secs), (true, 2, 20));
        assert_eq!(first.header(RouteClass::Jobs), "\"jobs\";r=2;t=20");
        assert_eq!(rate.policy_header(RouteClass::Uploads), "\"uploads\";q=3;w=60");
        let second = rate.decide(Some(first.tat_ms), 0);
        let third = rate.decide(Some(second.tat_ms), 0);
        assert_eq!((second.remaining, third.remaining, third.reset_secs), (1, 0, 60));
        let refused = rate.decide(Some(third.tat_ms), 5_000);
        assert_eq!((refused.allowed, refused.tat_ms, refused.retry_after_secs), (false, third.tat_ms, 15));
        assert_eq!(refused.reset_secs, 55);
        assert!(rate.decide(Some(third.tat_ms), 20_000).allowed);
    }

    #[test]
    fn bad_rates_are_refused() {
        assert!(Rate { requests: 0, per_secs: 60 }.validate().is_err());
        assert!(Rate { requests: 1, per_secs: 0 }.validate().is_err());
        assert!(Rate { requests: 1, per_secs: 60 }.validate().is_ok());
    }
}
