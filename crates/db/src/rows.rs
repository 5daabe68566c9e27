//! Helpers every component's row decoder uses. Both backends store timestamps as integer
//! unix milliseconds and documents as JSON text, so one decoder per table serves SQLite
//! and PostgreSQL rows alike (read columns by name; generic over sqlx's `Row`).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;

use crate::{DbError, Result};

/// Unix milliseconds, the stored form of every timestamp.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A duration in milliseconds, saturating.
pub fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A stored unix-milliseconds timestamp.
pub fn time(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| DbError::Corrupt(format!("timestamp out of range: {ms}")))
}

/// An optional stored timestamp.
pub fn opt_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(time).transpose()
}

/// A JSON text column.
pub fn json<T: DeserializeOwned>(text: String) -> Result<T> {
    serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("bad JSON column: {e}")))
}

/// An optional JSON text column.
pub fn opt_json<T: DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.map(json).transpose()
}

/// A document to store as JSON text.
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| DbError::Invalid(format!("unserializable document: {e}")))
}

/// A size or count as the signed 64-bit integer both backends store.
pub fn to_i64(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| DbError::Invalid(format!("{what} out of range: {n}")))
}

/// A stored signed 64-bit size or count, which must not be negative.
pub fn to_u64(n: i64, what: &str) -> Result<u64> {
    u64::try_from(n).map_err(|_| DbError::Corrupt(format!("negative {what}: {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_roundtrip_and_bad_values_are_corrupt() {
        let t = Utc.timestamp_millis_opt(1_700_000_000_123).unwrap();
        assert_eq!(time(ms(t)).unwrap(), t);
        assert!(matches!(time(i64::MAX), Err(DbError::Corrupt(_))));
        assert!(matches!(json::<u32>("nope".into()), Err(DbError::Corrupt(_))));
        assert!(matches!(to_u64(-1, "size"), Err(DbError::Corrupt(_))));
        assert_eq!(duration_ms(Duration::MAX), i64::MAX);
    }
}
