//! What every request passes through before and after its handler, outermost first:
//!
//! 1. [`guard`]: the `Host` must be one this server answers for, and in open mode a
//!    browser page of another origin gets nothing (DNS rebinding, cross-site forms).
//! 2. The panic guard: a handler that panics answers 500 problem+json, the process lives.
//! 3. [`problems`]: any error answer that is not problem+json yet (a 405 from the router,
//!    a path that does not decode) becomes one, with a code for its status.
//! 4. [`bound_request_id`]: a client's `x-request-id` is kept only when short and plain;
//!    otherwise a fresh one is made (it is logged and echoed).
//! 5. The body's idle timeout: a body that sends nothing for `body_idle_timeout` ends with
//!    an error (uploads answer 408).
//!
//! Hosts: with `public_url` set, links never come from the request, so any `Host` is
//! served (a proxy may rewrite it) except in open mode. Without it, links are built from
//! `Host`, so it must be a loopback name (`localhost`, `127.0.0.1`, `[::1]`) or one of
//! `allowed_hosts`; anything else is 421 `host_not_allowed`.

use std::any::Any;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{
    ApiError, BAD_REQUEST, CROSS_ORIGIN, HOST_NOT_ALLOWED, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT,
    ROUTE_NOT_FOUND, UNSUPPORTED_MEDIA_TYPE,
};
use crate::{AppState, REQUEST_ID};

/// Longest client `x-request-id` kept.
pub const MAX_REQUEST_ID: usize = 128;

/// Longest detail copied from a bare error body into its problem.
const MAX_DETAIL: usize = 300;

/// Whether `host` (a `Host` value or an origin's authority, port optional) names this
/// machine's loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The name part of `host[:port]` (`[::1]:8080` is `::1`).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether links may be built from `host`, and a browser origin of that host may call.
pub fn host_allowed(state: &AppState, host: &str) -> bool {
    if is_loopback_host(host) {
        return true;
    }
    let name = host_name(host);
    let public = state.config.public_url.as_deref().and_then(|u| u.split("://").nth(1)).map(|rest| {
        let authority = rest.split('/').next().unwrap_or("");
        host_name(authority).to_owned()
    });
    public.is_some_and(|p| p.eq_ignore_ascii_case(name))
        || state.config.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The `Host` of a request (HTTP/2 carries it in the URI).
fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
}

/// Layer 1: `Host` and, in open mode, `Origin` / `Sec-Fetch-Site`.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = request_host(&req).unwrap_or_default();
    let open = state.config.allow_open;
    let links_from_host = state.config.public_url.is_none();
    if (open || links_from_host) && !host_allowed(&state, &host) {
        let detail = "this server does not answer for that Host; set public_url or allowed_hosts";
        return ApiError::new(HOST_NOT_ALLOWED, detail).into_response();
    }
    if open {
        let cross_site = req.headers().get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
        let foreign_origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).is_some_and(|o| {
            let authority = o.split("://").nth(1).unwrap_or("");
            !(authority.eq_ignore_ascii_case(&host) || host_allowed(&state, authority))
        });
        if cross_site || foreign_origin {
            let detail = "an open (keyless) server takes no requests from pages of other origins";
            return ApiError::new(CROSS_ORIGIN, detail).into_response();
        }
    }
    next.run(req).await
}

/// Layer 2's answer to a panic.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let what = err
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    ApiError::new(tintype_codes::common::INTERNAL, format!("handler panicked: {what}")).into_response()
}

/// Layer 3: an error answer without a problem body gets one.
pub async fn problems(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let mut detail: String = String::from_utf8_lossy(&text).chars().filter(|c| !c.is_control()).collect();
    if detail.len() > MAX_DETAIL {
        let cut = (0..=MAX_DETAIL).rev().find(|&i| detail.is_char_boundary(i)).unwrap_or(0);
        detail.truncate(cut);
        detail.push('…');
    }
    let code = match status {
        StatusCode::NOT_FOUND => ROUTE_NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => METHOD_NOT_ALLOWED,
        StatusCode::REQUEST_TIMEOUT => REQUEST_TIMEOUT,
        StatusCode::PAYLOAD_TOO_LARGE => PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => UNSUPPORTED_MEDIA_TYPE,
        s if s.is_server_error() => tintype_codes::common::INTERNAL,
        _ => BAD_REQUEST,
    };
    if detail.is_empty() {
        detail = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let mut problem = ApiError::new(code, detail).into_response();
    *problem.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// Layer 4: drops a client `x-request-id` that is long or not plain (letters, digits,
/// `-_.:`), so the next layer makes a fresh one.
pub async fn bound_request_id(mut req: Request, next: Next) -> Response {
    let plain = |v: &HeaderValue| {
        v.len() <= MAX_REQUEST_ID
            && !v.is_empty()
            && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    if req.headers().get(&REQUEST_ID).is_some_and(|v| !plain(v)) {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:80", "[::1]:8080", "app.localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.1", "", "[::2]"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    async fn boom() -> &'static str {
        let detail = "secret detail";
        if !detail.is_empty() {
            panic!("{detail}");
        }
        "unreachable"
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_500_problem() {
        use tower::ServiceExt;
        let router = axum::Router::new()
            .route("/boom", axum::routing::get(boom))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response));
        let req = Request::builder().uri("/boom").body(Body::empty()).unwrap();
        let res = router.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("secret detail"), "the panic's text stays in the log: {body}");
    }

    #[test]
    fn host_names() {
        assert_eq!(host_name("img.example.com:443"), "img.example.com");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("img.example.com"), "img.example.com");
    }
}
