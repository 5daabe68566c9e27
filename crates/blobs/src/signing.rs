//! Signed blob URLs for backends that cannot presign their own (the local one): the API
//! serves `/v1/blobs/<key>?exp=…&sig=…[&rcd=…]`, and [`UrlSigner`] makes and checks the
//! query. The signature is HMAC-SHA256 over a length-prefixed canonical encoding of method,
//! key, expiry and content-disposition, compared in constant time.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

use crate::BlobKey;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: a signature made for anything else never verifies here.
const CONTEXT: &[u8] = b"tintype-blob-url-v1";

/// Everything but RFC 3986 unreserved characters is escaped in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature is genuine but its expiry has passed.
    #[error("signed URL has expired")]
    Expired,
    /// The signature does not match (tampered, wrong key, method or disposition).
    #[error("signed URL is invalid")]
    Invalid,
}

impl tintype_codes::Coded for SignatureError {
    fn code(&self) -> tintype_codes::Code {
        match self {
            SignatureError::Expired => crate::SIGNATURE_EXPIRED,
            SignatureError::Invalid => crate::SIGNATURE_INVALID,
        }
    }
}

/// The signed part of a blob URL's query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQuery {
    /// Expiry, seconds since the Unix epoch; the link works while `now <= exp`.
    pub exp: u64,
    /// Lowercase hex HMAC-SHA256.
    pub sig: String,
    /// `Content-Disposition` the server must answer with (`rcd`), signed too.
    pub disposition: Option<String>,
}

impl SignedQuery {
    /// `exp=…&sig=…`, plus `&rcd=<percent-encoded disposition>` when there is one.
    pub fn to_query(&self) -> String {
        let mut q = format!("exp={}&sig={}", self.exp, self.sig);
        if let Some(d) = &self.disposition {
            q.push_str("&rcd=");
            q.extend(utf8_percent_encode(d, QUERY_VALUE));
        }
        q
    }

    /// Parses a raw query string (without `?`), the inverse of [`SignedQuery::to_query`].
    /// Other parameters are ignored; a missing, repeated or malformed `exp`, `sig` or `rcd`
    /// gives `None`.
    pub fn parse(query: &str) -> Option<SignedQuery> {
        let (mut exp, mut sig, mut rcd) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "exp" => &mut exp,
                "sig" => &mut sig,
                "rcd" => &mut rcd,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        let exp = exp?;
        if exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let disposition = match rcd {
            None => None,
            Some(v) => Some(percent_decode_str(v).decode_utf8().ok()?.into_owned()),
        };
        Some(SignedQuery { exp: exp.parse().ok()?, sig: sig?.to_owned(), disposition })
    }
}

/// Signs and verifies blob URLs with one server secret.
#[derive(Clone)]
pub struct UrlSigner {
    secret: Vec<u8>,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner").field("secret", &"<redacted>").finish()
    }
}

impl UrlSigner {
    /// A signer keyed with `secret` (use at least 32 random bytes).
    pub fn new(secret: impl Into<Vec<u8>>) -> UrlSigner {
        UrlSigner { secret: secret.into() }
    }

    /// Signs a `method` request for `key`, valid until `expires_at_unix` (inclusive), that
    /// must be answered with `content_disposition` when given.
    pub fn sign(
        &self,
        method: &str,
        key: &BlobKey,
        expires_at_unix: u64,
        content_disposition: Option<&str>,
    ) -> SignedQuery {
        let mac = self.mac(method, key.as_str(), expires_at_unix, content_disposition);
        SignedQuery {
            exp: expires_at_unix,
            sig: hex::encode(mac.finalize().into_bytes()),
            disposition: content_disposition.map(str::to_owned),
        }
    }

    /// Checks `q` for a `method` request on `key` (as taken from the URL). The signature is
    /// checked first, in constant time, so `Expired` is only ever said of genuine links.
    pub fn verify(&self, method: &str, key: &str, q: &SignedQuery, now_unix: u64) -> Result<(), SignatureError> {
        let sig = hex::decode(&q.sig).map_err(|_| SignatureError::Invalid)?;
        self.mac(method, key, q.exp, q.disposition.as_deref())
            .verify_slice(&sig)
            .map_err(|_| SignatureError::Invalid)?;
        if now_unix > q.exp {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }

    /// The MAC over the canonical encoding: every variable field is length-prefixed and the
    /// disposition carries a presence byte, so no two inputs encode alike.
    fn mac(&self, method: &str, key: &str, exp: u64, disposition: Option<&str>) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts keys of any length");
        let field = |mac: &mut HmacSha256, bytes: &[u8]| {
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        };
        field(&mut mac, CONTEXT);
        field(&mut mac, method.as_bytes());
        field(&mut mac, key.as_bytes());
        mac.update(&exp.to_be_bytes());
        match disposition {
            None => mac.update(&[0]),
            Some(d) => {
                mac.update(&[1]);
                field(&mut mac, d.as_bytes());
            }
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn signer() -> UrlSigner {
        UrlSigner::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    fn key(s: &str) -> BlobKey {
        BlobKey::new(s).unwrap()
    }

    #[track_caller]
    fn check(q: &SignedQuery, method: &str, k: &str, now: u64, want: Result<(), SignatureError>) {
        assert_eq!(signer().verify(method, k, q, now), want, "{method} {k} {q:?} at {now}");
    }

    #[test]
    fn verification() {
        let k = "t/acme/jobs/job_1/out.jpg";
        let plain = signer().sign("GET", &key(k), NOW + 60, None);
        let with_cd = signer().sign("GET", &key(k), NOW + 60, Some("attachment; filename=\"a.jpg\""));
        let empty_cd = signer().sign("GET", &key(k), NOW + 60, Some(""));

        let mut flipped = plain.clone();
        let last = if flipped.sig.ends_with('0') { "1" } else { "0" };
        flipped.sig.replace_range(63.., last);
        let bad_hex = SignedQuery { sig: "zz".repeat(32), ..plain.clone() };
        let short = SignedQuery { sig: plain.sig[..62].to_owned(), ..plain.clone() };
        let later = SignedQuery { exp: plain.exp + 1, ..plain.clone() };
        let added_cd = SignedQuery { disposition: Some("inline".into()), ..plain.clone() };
        let empty_cd_added = SignedQuery { disposition: Some(String::new()), ..plain.clone() };
        let removed_cd = SignedQuery { disposition: None, ..with_cd.clone() };
        let removed_empty_cd = SignedQuery { disposition: None, ..empty_cd.clone() };
        let changed_cd = SignedQuery { disposition: Some("inline".into()), ..with_cd.clone() };

        use SignatureError::{Expired, Invalid};
        // (query, method, key, now, expected)
        type Case<'a> = (&'a SignedQuery, &'a str, &'a str, u64, Result<(), SignatureError>);
        let cases: &[Case] = &[
            (&plain, "GET", k, NOW, Ok(())),
            (&plain, "GET", k, NOW + 60, Ok(())),
            (&with_cd, "GET", k, NOW, Ok(())),
            (&empty_cd, "GET", k, NOW, Ok(())),
            (&plain, "GET", k, NOW + 61, Err(Expired)),
            (&with_cd, "GET", k, NOW + 61, Err(Expired)),
            (&plain, "HEAD", k, NOW, Err(Invalid)),
            (&plain, "PUT", k, NOW, Err(Invalid)),
            (&plain, "GET", "t/acme/jobs/job_1/out.jpeg", NOW, Err(Invalid)),
            (&plain, "GET", "t/other/jobs/job_1/out.jpg", NOW, Err(Invalid)),
            (&flipped, "GET", k, NOW, Err(Invalid)),
            (&bad_hex, "GET", k, NOW, Err(Invalid)),
            (&short, "GET", k, NOW, Err(Invalid)),
            (&later, "GET", k, NOW, Err(Invalid)),
            (&later, "GET", k, NOW + 1000, Err(Invalid)),
            (&added_cd, "GET", k, NOW, Err(Invalid)),
            (&empty_cd_added, "GET", k, NOW, Err(Invalid)),
            (&removed_cd, "GET", k, NOW, Err(Invalid)),
            (&removed_empty_cd, "GET", k, NOW, Err(Invalid)),
            (&changed_cd, "GET", k, NOW, Err(Invalid)),
        ];
        for (q, method, k, now, want) in cases {
            check(q, method, k, *now, *want);
        }
        let other = UrlSigner::new(b"another secret".to_vec());
        assert_eq!(other.verify("GET", k, &plain, NOW), Err(Invalid));
    }

    #[test]
    fn query_round_trip() {
        let dispositions = [
            None,
            Some(""),
            Some("inline"),
            Some("attachment; filename=\"my photo (1).jpg\""),
            Some("attachment; filename*=UTF-8''%C3%A9t%C3%A9.jpg; x=été 日本 & = + % #"),
        ];
        for d in dispositions {
            let q = signer().sign("GET", &key("t/a/b"), NOW, d);
            let text = q.to_query();
            assert!(!text.contains([' ', '"', '#', '+']) && text.is_ascii(), "{text}");
            assert_eq!(SignedQuery::parse(&text), Some(q.clone()), "{text}");
            assert_eq!(SignedQuery::parse(&format!("x=1&{text}&y")), Some(q), "{text}");
        }
    }

    #[test]
    fn malformed_queries() {
        let cases = [
            "",
            "sig=abc",
            "exp=10",
            "exp=&sig=abc",
            "exp=-1&sig=abc",
            "exp=+1&sig=abc",
            "exp=99999999999999999999999&sig=abc",
            "exp=1&exp=2&sig=abc",
            "exp=1&sig=abc&sig=abd",
            "exp=1&sig=abc&rcd=a&rcd=b",
            "exp=1&sig=abc&rcd=%FF",
        ];
        for q in cases {
            assert_eq!(SignedQuery::parse(q), None, "{q:?}");
        }
        assert_eq!(
            SignedQuery::parse("exp=1&sig=abc"),
            Some(SignedQuery { exp: 1, sig: "abc".into(), disposition: None })
        );
    }

    #[test]
    fn codes_and_debug() {
        use tintype_codes::Coded;
        assert_eq!(SignatureError::Expired.code(), "signature_expired");
        assert_eq!(SignatureError::Invalid.code(), "signature_invalid");
        assert!(!format!("{:?}", signer()).contains("0123"));
    }
}
