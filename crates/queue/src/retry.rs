//! Retry policy: exponential backoff with jitter, capped.

use std::time::Duration;

/// How long a transiently failed job waits before its next attempt:
/// `base * 2^(attempt-1)`, capped at `cap`, then scaled by a jitter factor in
/// `[1 - jitter, 1 + jitter]` (and capped again).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt (default 1 s).
    pub base: Duration,
    /// Longest delay (default 5 min).
    pub cap: Duration,
    /// Relative jitter, 0.0 ..= 1.0 (default 0.25).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(1), cap: Duration::from_secs(300), jitter: 0.25 }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based), with `unit` a uniform
    /// random number in `[0, 1)` supplying the jitter (pass 0.5 for none).
    pub fn delay(&self, attempt: i32, unit: f64) -> Duration {
        let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
        let raw = self.base.saturating_mul(1u32 << exp.min(30)).min(self.cap);
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        raw.mul_f64(factor.max(0.0)).min(self.cap)
    }

    /// The delay with a fresh random jitter.
    pub fn delay_random(&self, attempt: i32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(attempt: i32, unit: f64, expected_ms: u64) {
        let got = RetryPolicy::default().delay(attempt, unit);
        assert_eq!(got, Duration::from_millis(expected_ms), "attempt {attempt}, unit {unit}");
    }

    #[test]
    fn backoff_doubles_then_caps() {
        for (attempt, ms) in
            [(1, 1_000), (2, 2_000), (3, 4_000), (4, 8_000), (9, 256_000), (10, 300_000), (40, 300_000)]
        {
            check(attempt, 0.5, ms);
        }
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        check(3, 0.0, 3_000);
        check(3, 1.0, 5_000);
        check(20, 1.0, 300_000);
    }

    #[test]
    fn backoff_grows_whatever_the_jitter() {
        let p = RetryPolicy::default();
        for attempt in 1..8 {
            assert!(p.delay(attempt + 1, 0.0) > p.delay(attempt, 0.999), "attempt {attempt}");
        }
    }
}
