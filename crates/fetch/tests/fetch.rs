//! End-to-end tests of the SSRF-guarded fetcher against a tiny hand-written HTTP/1.1 server
//! on 127.0.0.1:0: success, timeouts, size caps (announced and streamed), redirects
//! (followed, refused, looping), status codes, and the URL and address checks of the
//! default policy. Nothing here needs the internet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tintype_codes::Coded;

use tintype_fetch::{FetchError, FetchPolicy, Fetcher};

/// One fetch through a fresh client for `policy`.
async fn fetch(url: &str, policy: &FetchPolicy) -> Result<tintype_fetch::Fetched, FetchError> {
    Fetcher::new(policy.clone()).expect("client").fetch(url).await
}
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Bytes `/ok` serves.
const OK_LEN: usize = 4096;
/// What `/big-chunked` would send if the client never stopped reading.
const CHUNKED_TOTAL: u64 = 256 * 1024 * 1024;

/// The test server: its address and the byte counts `/big-chunked` reports when it ends.
struct Server {
    addr: SocketAddr,
    chunked_sent: mpsc::UnboundedReceiver<u64>,
}

impl Server {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, chunked_sent) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(respond(stream, tx.clone()));
            }
        });
        Self { addr, chunked_sent }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Reads one request head and answers by path.
async fn respond(mut stream: TcpStream, chunked_sent: mpsc::UnboundedSender<u64>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let redirect = |to: &str| format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\n{CLOSE}");
    let _ = match path.as_str() {
        "/ok" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {OK_LEN}\r\n\
                 Connection: close\r\n\r\n"
            );
            let mut response = head.into_bytes();
            response.extend(std::iter::repeat_n(0xAB, OK_LEN));
            stream.write_all(&response).await
        }
        "/slow" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc";
            let _ = stream.write_all(head.as_bytes()).await;
            // Deliberately never finish the body; the client's deadline must end the fetch.
            std::future::pending::<()>().await;
            Ok(())
        }
        "/big" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await
        }
        "/big-chunked" => {
            let sent = stream_forever(&mut stream).await;
            let _ = chunked_sent.send(sent);
            Ok(())
        }
        "/redirect-ok" => stream.write_all(redirect("/ok").as_bytes()).await,
        "/redirect-private" => stream.write_all(redirect("http://10.0.0.1/x").as_bytes()).await,
        "/redirect-metadata" => {
            let to = "http://169.254.169.254/latest/meta-data/";
            stream.write_all(redirect(to).as_bytes()).await
        }
        "/redirect-mapped" => {
            let to = "http://[::ffff:169.254.169.254]/latest/meta-data/";
            stream.write_all(redirect(to).as_bytes()).await
        }
        "/redirect-ftp" => stream.write_all(redirect("ftp://example.com/x").as_bytes()).await,
        "/redirect-loop" => stream.write_all(redirect("/redirect-loop").as_bytes()).await,
        "/500" => stream.write_all(format!("HTTP/1.1 500 Oops\r\n{CLOSE}").as_bytes()).await,
        _ => stream.write_all(format!("HTTP/1.1 404 Not Found\r\n{CLOSE}").as_bytes()).await,
    };
    let _ = stream.shutdown().await;
}

/// Header tail for empty responses.
const CLOSE: &str = "Content-Length: 0\r\nConnection: close\r\n\r\n";

/// Streams an unannounced body (no Content-Length, ended by close) until the client hangs
/// up or `CHUNKED_TOTAL` is sent; returns how many body bytes were written.
async fn stream_forever(stream: &mut TcpStream) -> u64 {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return 0;
    }
    let chunk = vec![0x5Au8; 16 * 1024];
    let sent = Arc::new(AtomicU64::new(0));
    while sent.load(Ordering::Relaxed) < CHUNKED_TOTAL {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    sent.load(Ordering::Relaxed)
}

/// A fast policy for tests against the loopback server.
fn loopback_policy() -> FetchPolicy {
    FetchPolicy {
        timeout: Duration::from_millis(500),
        max_bytes: 10_000,
        max_redirects: 3,
        allow_loopback: true,
        ..FetchPolicy::default()
    }
}

/// What a fetch should come to.
enum Expect {
    /// Success: body length, content type and the path the body came from.
    Ok(usize, &'static str, &'static str),
    /// Failure: code, retryable, and a piece of text the message must contain.
    Err(&'static str, bool, &'static str),
}

/// Fetches `url` under `policy` and compares with `expected`.
async fn check(url: &str, policy: &FetchPolicy, expected: Expect) {
    let got = fetch(url, policy).await;
    match (got, expected) {
        (Ok(f), Expect::Ok(len, content_type, final_path)) => {
            assert_eq!(f.bytes.len(), len, "{url}: body length");
            assert_eq!(f.content_type.as_deref(), Some(content_type), "{url}: content type");
            assert!(f.final_url.ends_with(final_path), "{url}: final URL {}", f.final_url);
        }
        (Err(e), Expect::Err(code, retryable, mentions)) => {
            assert_eq!(e.code(), code, "{url}: {e}");
            assert_eq!(e.is_retryable(), retryable, "{url}: retryable? {e}");
            let msg = e.to_string();
            assert!(msg.contains(mentions), "{url}: `{msg}` lacks `{mentions}`");
        }
        (Ok(f), Expect::Err(code, ..)) => panic!("{url}: got {} bytes, expected {code}", f.bytes.len()),
        (Err(e), Expect::Ok(..)) => panic!("{url}: expected success, got {} ({e})", e.code()),
    }
}

#[tokio::test]
async fn loopback_server_cases() {
    let server = Server::start().await;
    #[rustfmt::skip]
    let cases = [
        ("/ok",                Expect::Ok(OK_LEN, "image/jpeg", "/ok")),
        ("/redirect-ok",       Expect::Ok(OK_LEN, "image/jpeg", "/ok")),
        ("/slow",              Expect::Err("fetch_timeout", true, "timed out")),
        ("/big",               Expect::Err("fetch_too_large", false, "10000 bytes")),
        ("/big-chunked",       Expect::Err("fetch_too_large", false, "10000 bytes")),
        ("/redirect-private",  Expect::Err("url_host_not_allowed", false, "10.0.0.1 is a private address")),
        ("/redirect-metadata", Expect::Err("url_host_not_allowed", false, "169.254.169.254 is a cloud metadata address")),
        ("/redirect-mapped",   Expect::Err("url_host_not_allowed", false, "via embedded IPv4 169.254.169.254")),
        ("/redirect-ftp",      Expect::Err("url_scheme_not_allowed", false, "ftp")),
        ("/redirect-loop",     Expect::Err("too_many_redirects", false, "more than 3")),
        ("/404",               Expect::Err("fetch_status", false, "404")),
        ("/500",               Expect::Err("fetch_status", true, "500")),
    ];
    let policy = loopback_policy();
    for (path, expected) in cases {
        check(&server.url(path), &policy, expected).await;
    }
}

#[tokio::test]
async fn host_names_connect_to_the_vetted_address() {
    // reqwest's own resolver refuses every name, so this only works through the pinned,
    // vetted addresses of `localhost`.
    let server = Server::start().await;
    let url = format!("http://localhost:{}/redirect-ok", server.addr.port());
    check(&url, &loopback_policy(), Expect::Ok(OK_LEN, "image/jpeg", "/ok")).await;
}

#[tokio::test]
async fn streamed_body_stops_early_at_the_cap() {
    let mut server = Server::start().await;
    let err = fetch(&server.url("/big-chunked"), &loopback_policy()).await;
    assert_eq!(err.map(|_| ()).map_err(|e| e.code().name()), Err("fetch_too_large"));
    let sent = server.chunked_sent.recv().await.expect("server reports bytes sent");
    assert!(sent < CHUNKED_TOTAL, "server sent all {sent} bytes: the client kept reading");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind then drop to get a loopback port with nothing listening.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let url = format!("http://{addr}/ok");
    check(&url, &loopback_policy(), Expect::Err("fetch_failed", true, "")).await;
}

#[tokio::test]
async fn default_policy_refuses_before_connecting() {
    let server = Server::start().await;
    let port = server.addr.port();
    let policy = FetchPolicy::default();
    let refused = |mentions| Expect::Err("url_host_not_allowed", false, mentions);
    #[rustfmt::skip]
    let cases = [
        (format!("http://127.0.0.1:{port}/ok"),          refused("127.0.0.1 is a loopback address")),
        (format!("http://localhost:{port}/ok"),          refused("`localhost`")),
        (format!("http://[::ffff:127.0.0.1]:{port}/"),   refused("via embedded IPv4 127.0.0.1")),
        (format!("http://2130706433:{port}/"),           refused("127.0.0.1 is a loopback address")),
        (format!("http://0x7f.1:{port}/"),               refused("127.0.0.1 is a loopback address")),
        (format!("http://[::1]:{port}/ok"),              refused("::1 is a loopback address")),
        ("http://169.254.169.254/latest/meta-data/".to_owned(), refused("cloud metadata")),
        ("http://[fd00:ec2::254]/".to_owned(),           refused("cloud metadata")),
        ("http://metadata.google.internal/".to_owned(),  refused("cloud metadata host name")),
        ("http://10.0.0.1/x".to_owned(),                 refused("private")),
        ("http://0.0.0.0/".to_owned(),                   refused("unspecified")),
        ("ftp://example.com/x".to_owned(),  Expect::Err("url_scheme_not_allowed", false, "ftp")),
        ("file:///etc/passwd".to_owned(),   Expect::Err("url_scheme_not_allowed", false, "file")),
        ("http://user:pw@example.com/".to_owned(), Expect::Err("url_credentials_not_allowed", false, "")),
        ("http://user@example.com/".to_owned(),    Expect::Err("url_credentials_not_allowed", false, "")),
        ("not a url".to_owned(),            Expect::Err("invalid_url", false, "not a url")),
        ("http://".to_owned(),              Expect::Err("invalid_url", false, "")),
    ];
    for (url, expected) in cases {
        check(&url, &policy, expected).await;
    }
}

#[tokio::test]
async fn allow_loopback_does_not_open_private_or_metadata() {
    let policy = loopback_policy();
    for url in ["http://10.0.0.1/", "http://169.254.169.254/", "http://[fe80::1]/"] {
        let err: FetchError = fetch(url, &policy).await.expect_err(url);
        assert_eq!(err.code(), "url_host_not_allowed", "{url}: {err}");
    }
}

/// One client serves every fetch of a process: its resolver vets each name it resolves
/// (a name pointing at loopback is refused exactly like the literal address), and the
/// same client keeps working for allowed hosts afterwards.
#[tokio::test]
async fn one_shared_client_vets_every_name_it_resolves() {
    let server = Server::start().await;
    let port = server.addr.port();
    let strict = Fetcher::new(FetchPolicy::default()).expect("client");
    for url in [format!("http://localhost:{port}/ok"), format!("http://127.0.0.1:{port}/ok")] {
        let err = strict.fetch(&url).await.expect_err(&url);
        assert_eq!(err.code(), "url_host_not_allowed", "{url}: {err}");
    }
    let open = Fetcher::new(loopback_policy()).expect("client");
    let urls = [format!("http://localhost:{port}/ok"), format!("http://127.0.0.1:{port}/ok")];
    for url in urls.iter().chain(urls.iter()) {
        assert_eq!(open.fetch(url).await.expect(url).bytes.len(), OK_LEN, "{url}");
    }
}
