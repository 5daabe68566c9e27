//! The timeline's keyset cursor: the position of the last photo of a page (`sort_at` in
//! unix milliseconds and id), handed to clients as an opaque, URL-safe token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The longest id a cursor may carry (ids are `pho_` and 32 hex digits).
const MAX_ID: usize = 64;

/// A position on the timeline: the next page starts strictly after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The last photo's `sort_at`, unix milliseconds.
    pub sort_at_ms: i64,
    /// The last photo's id.
    pub id: String,
}

impl Cursor {
    /// The token a client sees: base64url (no padding) of `<ms>.<id>`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.sort_at_ms, self.id))
    }

    /// The cursor a token names; `None` for anything [`encode`](Cursor::encode) could not
    /// have made (never panics).
    pub fn decode(token: &str) -> Option<Cursor> {
        if token.len() > 2 * MAX_ID {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (ms, id) = text.split_once('.')?;
        let well_formed = !id.is_empty()
            && id.len() <= MAX_ID
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed || ms.starts_with('+') {
            return None;
        }
        Some(Cursor { sort_at_ms: ms.parse().ok()?, id: id.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for (ms, id) in [
            (1_900_000_000_123, "pho_0190f3b2c4d57a8b9c0d1e2f3a4b5c6d"),
            (0, "x"),
            (-86_400_000, "pho_old"),
            (i64::MIN, "pho_a"),
            (i64::MAX, "pho_b"),
        ] {
            let cursor = Cursor { sort_at_ms: ms, id: id.into() };
            let token = cursor.encode();
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(Cursor::decode(&token), Some(cursor));
        }
    }

    #[test]
    fn garbage_is_no_cursor() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let long = format!("1.{}", "a".repeat(MAX_ID + 1));
        for token in [
            String::new(),
            "!!!".into(),
            "a".into(),
            "€".into(),
            "x".repeat(10_000),
            b64("123"),
            b64("123."),
            b64(".pho_a"),
            b64("abc.pho_a"),
            b64("+1.pho_a"),
            b64("1.pho a"),
            b64("1.pho_a'; DROP TABLE photos"),
            b64("99999999999999999999.pho_a"),
            b64(&long),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'.', b'a']),
        ] {
            assert_eq!(Cursor::decode(&token), None, "{token:?}");
        }
    }
}
