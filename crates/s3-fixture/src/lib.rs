//! A real S3-protocol server for tests: [`S3Server::start`] runs `s3s-fs` (which verifies
//! SigV4 on every request, presigned URLs included) on `127.0.0.1:0` on a thread of its
//! own, over a temporary directory, with one bucket and one access key. The thread keeps
//! serving while the value lives, so tests on any runtime, and other processes, can use it.
//!
//! This is not a mock: Tintype's S3 backend, curl and boto3 speak to it exactly as they
//! would to MinIO or R2 (path-style addressing, custom endpoint).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

/// Access key id every fixture server accepts.
pub const ACCESS_KEY: &str = "tintype-test-key";
/// Secret key every fixture server accepts.
pub const SECRET_KEY: &str = "tintype-test-secret-0123456789";
/// Region the clients sign for (s3s accepts any; this keeps them consistent).
pub const REGION: &str = "us-east-1";

/// A running server; dropping it stops the server and removes its files.
pub struct S3Server {
    addr: SocketAddr,
    bucket: String,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server with one empty bucket named `tintype-<random>`.
    pub fn start() -> std::io::Result<S3Server> {
        let dir = tempfile::tempdir()?;
        let bucket = format!("tintype-{}", uuid::Uuid::new_v4().simple());
        std::fs::create_dir(dir.path().join(&bucket))?;
        let fs = s3s_fs::FileSystem::new(dir.path()).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("s3-fixture".into()).spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("s3 fixture runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let socket = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => break,
                    };
                    let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
            rt.shutdown_background();
        })?;
        Ok(S3Server { addr, bucket, dir, stop: Some(stop), thread: Some(thread) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The `TINTYPE_BLOBS` URL that points Tintype at this server (credentials go in the
    /// `AWS_*` variables, see [`S3Server::env`]).
    pub fn blobs_url(&self) -> String {
        format!("s3://{}?endpoint={}&region={REGION}", self.bucket, self.endpoint())
    }

    /// The `AWS_*` variables a client process needs.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }

    /// The directory the server stores into (objects under `<root>/<bucket>/`, multipart
    /// parts as `<root>/.upload_id-*` files until completed or aborted).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Files the server holds for multipart uploads not yet completed or aborted.
    pub fn pending_upload_parts(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else { return Vec::new() };
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".upload")))
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
