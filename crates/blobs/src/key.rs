//! Blob keys: [`BlobKey`], the only way to name a blob, and [`validate_prefix`] for list
//! prefixes. A key that passes validation can be joined onto a store's root segment by
//! segment without ever leaving it: no empty, `.`-led (so no `.`, `..` or `.tmp`) segments,
//! no leading `/`, no backslashes, no control characters, at most [`MAX_KEY_LEN`] bytes.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::BlobError;

/// Longest key accepted, in bytes (S3's limit).
pub const MAX_KEY_LEN: usize = 1024;

/// Everything but RFC 3986 unreserved characters is escaped in a URL path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A validated blob key such as `t/acme/uploads/<sha256>`: `/`-separated, relative, with no
/// segment that could climb out of (or hide inside) a store's root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// Validates `key`; the error is [`BlobError::InvalidKey`] with the reason.
    pub fn new(key: impl Into<String>) -> Result<BlobKey, BlobError> {
        let key = key.into();
        if key.is_empty() {
            return Err(invalid("empty"));
        }
        check(&key)?;
        Ok(BlobKey(key))
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments (each non-empty).
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The key as a URL path (no leading `/`): each segment percent-encoded, `/` kept.
    pub fn url_path(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for (i, segment) in self.segments().enumerate() {
            if i > 0 {
                out.push('/');
            }
            out.extend(utf8_percent_encode(segment, SEGMENT));
        }
        out
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BlobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for BlobKey {
    type Err = BlobError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BlobKey::new(s)
    }
}

/// Validates a list prefix: the key rules, except that it may be empty (everything) and
/// may end with `/` (a "directory"). A partial last segment (`t/acme/up`) is fine.
pub fn validate_prefix(prefix: &str) -> Result<(), BlobError> {
    match prefix.strip_suffix('/') {
        None if prefix.is_empty() => Ok(()),
        None => check(prefix),
        Some("") => Err(invalid("starts with '/'")),
        Some(dir) => check(dir),
    }
}

/// The rules shared by keys and prefixes, for a non-empty `s`.
fn check(s: &str) -> Result<(), BlobError> {
    if s.len() > MAX_KEY_LEN {
        return Err(invalid(&format!("longer than {MAX_KEY_LEN} bytes")));
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || *c == '\\') {
        return Err(invalid(&format!("contains {c:?}")));
    }
    for segment in s.split('/') {
        if segment.is_empty() {
            return Err(invalid("has an empty segment (leading, trailing or double '/')"));
        }
        if segment.starts_with('.') {
            return Err(invalid(&format!("segment {segment:?} starts with '.'")));
        }
    }
    Ok(())
}

fn invalid(reason: &str) -> BlobError {
    BlobError::InvalidKey(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_key(input: &str, ok: bool) {
        let got = BlobKey::new(input);
        match (&got, ok) {
            (Ok(key), true) => assert_eq!(key.as_str(), input),
            (Err(BlobError::InvalidKey(_)), false) => {}
            _ => panic!("BlobKey::new({input:?}) = {got:?}, expected ok={ok}"),
        }
    }

    #[test]
    fn keys() {
        let long_ok = "a".repeat(MAX_KEY_LEN);
        let too_long = "a".repeat(MAX_KEY_LEN + 1);
        let cases: &[(&str, bool)] = &[
            ("t/acme/uploads/abc", true),
            ("t/acme/jobs/job_1/out.jpg", true),
            ("a", true),
            ("a.b/c..d/e.", true),
            ("photos/été/日本語 名前.jpg", true),
            ("with space/and:colon", true),
            (&long_ok, true),
            (&too_long, false),
            ("", false),
            ("../etc/passwd", false),
            ("/abs", false),
            ("a/../b", false),
            ("a/..", false),
            ("..", false),
            (".", false),
            ("a//b", false),
            ("a/./b", false),
            ("a/", false),
            ("/", false),
            ("a\\b", false),
            ("..\\x", false),
            ("a\0b", false),
            ("a\nb", false),
            ("a\rb", false),
            ("a\tb", false),
            ("a\u{7f}b", false),
            ("a\u{85}b", false),
            (".tmp/x", false),
            ("t/.hidden", false),
        ];
        for (input, ok) in cases {
            check_key(input, *ok);
        }
    }

    #[test]
    fn prefixes() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("t/", true),
            ("t/acme/jobs/job_1/", true),
            ("t/acme/up", true),
            ("/", false),
            ("/t", false),
            ("t//", false),
            ("../", false),
            ("t/../", false),
            (".tmp/", false),
            ("a\0/", false),
        ];
        for (input, ok) in cases {
            let got = validate_prefix(input);
            assert_eq!(got.is_ok(), *ok, "validate_prefix({input:?}) = {got:?}");
        }
    }

    #[test]
    fn url_paths() {
        let cases = [
            ("t/acme/uploads/abc", "t/acme/uploads/abc"),
            ("a b/c?d#e", "a%20b/c%3Fd%23e"),
            ("x/été.jpg", "x/%C3%A9t%C3%A9.jpg"),
            ("p/100%/a+b&c=d", "p/100%25/a%2Bb%26c%3Dd"),
            ("keep-._~", "keep-._~"),
        ];
        for (input, want) in cases {
            assert_eq!(BlobKey::new(input).unwrap().url_path(), want, "{input:?}");
        }
    }

    #[test]
    fn display_and_parse() {
        let key: BlobKey = "t/a/b".parse().unwrap();
        assert_eq!(key.to_string(), "t/a/b");
        assert_eq!(key.segments().collect::<Vec<_>>(), ["t", "a", "b"]);
        assert!("a//b".parse::<BlobKey>().is_err());
    }
}
