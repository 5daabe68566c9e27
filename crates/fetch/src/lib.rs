//! Fetching by URL, safely: the SSRF-guarded HTTP client every part of Tintype that
//! reaches out uses (print and export sources, screenshot pages, webhooks).
//!
//! A [`Fetcher`] is one HTTP client per policy, shared by every fetch of a process (and
//! its connection pool). Only http and https, no credentials in URLs. Its resolver vets
//! every address a name resolves to with [`check_addr`] and hands the connector only
//! those, so the connection goes to a vetted address and DNS rebinding cannot slip past;
//! an IP-literal host is checked before the request. Redirects are followed here, each
//! hop checked the same way. One deadline covers the whole fetch (redirects and body),
//! and the size cap is enforced both on `Content-Length` and while streaming.
//!
//! `[fetch]` in the configuration is [`FetchSection`], owned here.

mod addr;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Client, StatusCode, Url, redirect};
use serde::{Deserialize, Serialize};
use tintype_codes::{Code, Coded};

pub use addr::check_addr;

/// Limits and address rules for one fetch. Defaults follow the spec: 20 s, 25 MB, 5
/// redirects, private and loopback addresses refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Deadline for the whole fetch: DNS, every redirect hop and the body.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_bytes: u64,
    /// How many redirects are followed before giving up.
    pub max_redirects: u8,
    /// Opens private ranges (RFC 1918, CGNAT 100.64/10, ULA fc00::/7) and nothing else.
    pub allow_private: bool,
    /// Opens loopback (127/8, ::1) and nothing else.
    pub allow_loopback: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_bytes: 25_000_000,
            max_redirects: 5,
            allow_private: false,
            allow_loopback: false,
        }
    }
}

/// `[fetch]` in the configuration: the rules for http(s) source URLs, as operators write
/// them. Defaults are [`FetchPolicy::default`]'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchSection {
    /// Deadline for a whole fetch, seconds.
    pub timeout_secs: f64,
    /// Largest body, bytes.
    pub max_bytes: u64,
    /// Redirects followed.
    pub max_redirects: u8,
    /// Allow private addresses (RFC 1918, CGNAT, ULA): only on a trusted network.
    pub allow_private: bool,
    /// Allow loopback addresses: only for local testing.
    pub allow_loopback: bool,
}

impl Default for FetchSection {
    fn default() -> Self {
        let p = FetchPolicy::default();
        Self {
            timeout_secs: p.timeout.as_secs_f64(),
            max_bytes: p.max_bytes,
            max_redirects: p.max_redirects,
            allow_private: p.allow_private,
            allow_loopback: p.allow_loopback,
        }
    }
}

impl FetchSection {
    /// Checks the section; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0) {
            return Err(format!("fetch.timeout_secs: must be a positive number of seconds, got {}", self.timeout_secs));
        }
        if self.max_bytes == 0 {
            return Err("fetch.max_bytes: must be positive".into());
        }
        Ok(())
    }

    /// The policy the section describes.
    pub fn policy(&self) -> FetchPolicy {
        FetchPolicy {
            timeout: Duration::from_secs_f64(self.timeout_secs),
            max_bytes: self.max_bytes,
            max_redirects: self.max_redirects,
            allow_private: self.allow_private,
            allow_loopback: self.allow_loopback,
        }
    }
}

/// A fetched body with what the server said about it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The whole body, at most `max_bytes` long.
    pub bytes: Bytes,
    /// The `Content-Type` header of the final response, if any and readable.
    pub content_type: Option<String>,
    /// The URL the body came from, after redirects.
    pub final_url: String,
}

/// Why a fetch failed; each variant has a stable [`code`](FetchError::code) and knows
/// whether retrying could help.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL (or a redirect's `Location`) does not parse or has no host.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The offending text.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scheme other than http or https.
    #[error("URL scheme `{0}` is not allowed (only http and https)")]
    SchemeNotAllowed(String),
    /// A user name or password in the URL.
    #[error("credentials in URLs are not allowed")]
    CredentialsNotAllowed,
    /// The host is, or resolves to, an address the policy refuses.
    #[error("host `{host}` is not allowed: {reason}")]
    HostNotAllowed {
        /// The host as written in the URL.
        host: String,
        /// Which address and why it is refused.
        reason: String,
    },
    /// The host name did not resolve.
    #[error("could not resolve `{host}`: {reason}")]
    DnsFailed {
        /// The host name.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The whole fetch took longer than the policy's timeout.
    #[error("fetch timed out after {0:?}")]
    Timeout(Duration),
    /// The body is (or announces itself as) larger than the policy's `max_bytes`.
    #[error("response is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The server answered with a non-success status.
    #[error("server answered HTTP {status} for {url}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The URL that answered it.
        url: String,
    },
    /// Connecting, sending or reading failed (refused, reset, TLS, broken body).
    #[error("fetch failed: {0}")]
    Failed(String),
    /// More redirects than the policy's `max_redirects`.
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(u8),
}

tintype_codes::codes! {
    /// Not a URL.
    INVALID_URL = ("invalid_url", InvalidInput);
    /// Not http or https.
    URL_SCHEME_NOT_ALLOWED = ("url_scheme_not_allowed", InvalidInput);
    /// A URL with a user or password in it.
    URL_CREDENTIALS_NOT_ALLOWED = ("url_credentials_not_allowed", InvalidInput);
    /// The host resolves to a private, loopback, link-local or metadata address.
    URL_HOST_NOT_ALLOWED = ("url_host_not_allowed", InvalidInput);
    /// The host name did not resolve (transient).
    DNS_FAILED = ("dns_failed", Unavailable);
    /// The fetch took longer than its deadline (transient).
    FETCH_TIMEOUT = ("fetch_timeout", Unavailable);
    /// The response is larger than the limit.
    FETCH_TOO_LARGE = ("fetch_too_large", TooLarge);
    /// The server answered a non-success status (5xx, 408 and 429 are transient).
    FETCH_STATUS = ("fetch_status", Unavailable);
    /// Connecting or reading failed (transient).
    FETCH_FAILED = ("fetch_failed", Unavailable);
    /// More redirects than allowed.
    TOO_MANY_REDIRECTS = ("too_many_redirects", InvalidInput);
}

impl Coded for FetchError {
    fn code(&self) -> Code {
        match self {
            FetchError::InvalidUrl { .. } => INVALID_URL,
            FetchError::SchemeNotAllowed(_) => URL_SCHEME_NOT_ALLOWED,
            FetchError::CredentialsNotAllowed => URL_CREDENTIALS_NOT_ALLOWED,
            FetchError::HostNotAllowed { .. } => URL_HOST_NOT_ALLOWED,
            FetchError::DnsFailed { .. } => DNS_FAILED,
            FetchError::Timeout(_) => FETCH_TIMEOUT,
            FetchError::TooLarge { .. } => FETCH_TOO_LARGE,
            FetchError::Status { .. } => FETCH_STATUS,
            FetchError::Failed(_) => FETCH_FAILED,
            FetchError::TooManyRedirects(_) => TOO_MANY_REDIRECTS,
        }
    }
}

impl FetchError {
    /// Whether trying again later could succeed: DNS, timeouts, transport failures, 5xx,
    /// 408 and 429. Everything else is permanent.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::DnsFailed { .. } | FetchError::Timeout(_) | FetchError::Failed(_) => true,
            FetchError::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        }
    }
}

/// The SSRF-guarded client: one per policy, cheap to clone, shared by every fetch.
#[derive(Clone)]
pub struct Fetcher {
    client: Client,
    policy: FetchPolicy,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Fetcher {
    /// The client for `policy` (no request is made). Fails only when the TLS backend
    /// cannot start.
    pub fn new(policy: FetchPolicy) -> Result<Fetcher, FetchError> {
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(VettingResolver { policy: policy.clone() }))
            .user_agent(concat!("tintype/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(failed)?;
        Ok(Fetcher { client, policy })
    }

    /// The rules this client enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Fetches `url`: checks every hop against SSRF, follows redirects itself, and
    /// returns the body once it is whole.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.policy.timeout, self.fetch_within_deadline(url)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::Timeout(self.policy.timeout)),
        }
    }

    async fn fetch_within_deadline(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut url = Url::parse(url).map_err(|e| invalid(url, e))?;
        let mut redirects = 0u8;
        loop {
            check_url(&url, &self.policy)?;
            let response = self.client.get(url.clone()).send().await.map_err(failed)?;
            let status = response.status();
            if is_followed_redirect(status) {
                if redirects >= self.policy.max_redirects {
                    return Err(FetchError::TooManyRedirects(self.policy.max_redirects));
                }
                redirects += 1;
                url = redirect_target(&url, &response)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status { status: status.as_u16(), url: url.to_string() });
            }
            return read_body(response, url, self.policy.max_bytes).await;
        }
    }
}

/// Checks what can be checked of `url` before connecting: the scheme, credentials, a
/// metadata host name and an IP-literal host. Names are vetted by the resolver.
pub fn check_url(url: &Url, policy: &FetchPolicy) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::SchemeNotAllowed(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::CredentialsNotAllowed);
    }
    let host = url.host_str().filter(|h| !h.is_empty());
    let host = host.ok_or_else(|| invalid(url.as_str(), "no host"))?;
    match literal_ip(host) {
        Some(ip) => check_addr(ip, policy).map_err(|e| with_host(e, host)),
        None => addr::check_host_name(host),
    }
}

/// The address of an IP-literal host as the URL parser serialises it (`1.2.3.4`, `[::1]`;
/// other IPv4 spellings are already normalised to dotted decimal).
fn literal_ip(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse().ok(),
        None => host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// Resolves `name` and refuses it if ANY address is disallowed; returns the addresses, all
/// vetted, for the connector to use (several, so a dual-stack host still works when one
/// family is unreachable). The port is the URL's: the connector sets it.
async fn resolve_vetted(name: &str, policy: &FetchPolicy) -> Result<Vec<SocketAddr>, FetchError> {
    addr::check_host_name(name)?;
    let dns_failed = |reason: String| FetchError::DnsFailed { host: name.to_owned(), reason };
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((name, 0)).await.map_err(|e| dns_failed(e.to_string()))?.collect();
    for addr in &addrs {
        check_addr(addr.ip(), policy).map_err(|e| with_host(e, name))?;
    }
    if addrs.is_empty() {
        return Err(dns_failed("no addresses".to_owned()));
    }
    Ok(addrs)
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The next hop: `Location` resolved against the current URL.
fn redirect_target(current: &Url, response: &reqwest::Response) -> Result<Url, FetchError> {
    let location = response
        .headers()
        .get(LOCATION)
        .ok_or_else(|| invalid(current.as_str(), "redirect without a Location header"))?;
    let location = location.to_str().map_err(|_| invalid(current.as_str(), "redirect Location is not valid text"))?;
    current.join(location).map_err(|e| invalid(location, e))
}

/// Streams the body, stopping as soon as it passes `max_bytes`.
async fn read_body(mut response: reqwest::Response, url: Url, max_bytes: u64) -> Result<Fetched, FetchError> {
    let too_large = FetchError::TooLarge { limit: max_bytes };
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(too_large);
    }
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { bytes: body.freeze(), content_type, final_url: url.to_string() })
}

/// Puts the URL's host name into a refusal raised for one of its addresses.
fn with_host(err: FetchError, host: &str) -> FetchError {
    match err {
        FetchError::HostNotAllowed { reason, .. } => FetchError::HostNotAllowed { host: host.to_owned(), reason },
        other => other,
    }
}

fn invalid(url: &str, reason: impl ToString) -> FetchError {
    FetchError::InvalidUrl { url: url.to_owned(), reason: reason.to_string() }
}

/// A transport failure, with its whole cause chain (reqwest's own message hides it); a
/// refusal by the vetting resolver comes back as the refusal it was.
fn failed(err: reqwest::Error) -> FetchError {
    let err = err.without_url();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<FetchError>() {
            return refused.clone();
        }
        cause = c.source();
    }
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    FetchError::Failed(message)
}

/// reqwest's resolver: resolves with the system, vets every address against the policy,
/// and hands the connector only vetted ones (or the refusal, as a [`FetchError`]).
struct VettingResolver {
    policy: FetchPolicy,
}

impl Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (name, policy) = (name.as_str().to_owned(), self.policy.clone());
        Box::pin(async move {
            match resolve_vetted(&name, &policy).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                // Boxed once, so `failed` can downcast it back.
                Err(refused) => Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retryability() {
        let status = |status| FetchError::Status { status, url: "http://x/".into() };
        let host = FetchError::HostNotAllowed { host: "h".into(), reason: "r".into() };
        let dns = FetchError::DnsFailed { host: "h".into(), reason: "r".into() };
        #[rustfmt::skip]
        let cases: Vec<(FetchError, &str, bool)> = vec![
            (invalid("x", "bad"),                      "invalid_url",                 false),
            (FetchError::SchemeNotAllowed("ftp".into()), "url_scheme_not_allowed",    false),
            (FetchError::CredentialsNotAllowed,        "url_credentials_not_allowed", false),
            (host,                                     "url_host_not_allowed",        false),
            (dns,                                      "dns_failed",                  true),
            (FetchError::Timeout(Duration::from_secs(1)), "fetch_timeout",            true),
            (FetchError::TooLarge { limit: 1 },        "fetch_too_large",             false),
            (status(404),                              "fetch_status",                false),
            (status(403),                              "fetch_status",                false),
            (status(408),                              "fetch_status",                true),
            (status(429),                              "fetch_status",                true),
            (status(500),                              "fetch_status",                true),
            (status(503),                              "fetch_status",                true),
            (FetchError::Failed("reset".into()),       "fetch_failed",                true),
            (FetchError::TooManyRedirects(5),          "too_many_redirects",          false),
        ];
        for (err, code, retryable) in cases {
            assert_eq!(err.code(), code, "{err}");
            assert_eq!(err.is_retryable(), retryable, "{err}");
        }
    }

    #[test]
    fn default_policy_follows_the_spec() {
        let p = FetchPolicy::default();
        assert_eq!(p.timeout, Duration::from_secs(20));
        assert_eq!(p.max_bytes, 25_000_000);
        assert_eq!(p.max_redirects, 5);
        assert!(!p.allow_private && !p.allow_loopback);
    }
}
