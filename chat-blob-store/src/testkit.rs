//! [`ThrowawayS3`]: a private S3-protocol server for tests, so the S3
//! backend is tested against a real one (moto's server mode, from PyPI:
//! `pip install 'moto[server]'`), not a mock.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chat_core::testkit::backend_unavailable;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::ObjectBlobStore;

/// The program started, unless `CHAT_MOTO_SERVER` names another.
const MOTO_SERVER: &str = "moto_server";

/// `moto_server` on a free port of 127.0.0.1, holding one empty bucket.
/// It keeps everything in memory and is killed on drop.
#[derive(Debug)]
pub struct ThrowawayS3 {
    port: u16,
    child: Child,
}

/// The bucket every throwaway server holds.
pub const BUCKET: &str = "chat-test";

impl ThrowawayS3 {
    /// Starts one and makes its bucket; `None` when moto is not installed
    /// (a panic when backends are required: `CHAT_REQUIRE_BACKENDS=1`).
    pub async fn start() -> Option<Self> {
        let unavailable = |why: String| {
            backend_unavailable(
                "S3 (moto)",
                &why,
                "install it with pip install 'moto[server]' (or set CHAT_MOTO_SERVER to its moto_server)",
            )
        };
        let port = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l.local_addr().map(|a| a.port()).unwrap_or(0),
            Err(e) => return unavailable(format!("no free port: {e}")),
        };
        let program = std::env::var("CHAT_MOTO_SERVER").unwrap_or_else(|_| MOTO_SERVER.to_owned());
        let child = match Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => return unavailable(format!("cannot start {program}: {e}")),
        };
        let s3 = Self { port, child };
        // Python takes a second or two to start, more on a busy machine.
        for _ in 0..300 {
            if let Ok(status) = s3.create_bucket().await {
                if status == 200 {
                    return Some(s3);
                }
                return unavailable(format!("creating the bucket answered {status}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        unavailable(format!(
            "{program} did not answer on port {port} within 30 s"
        ))
    }

    /// `PUT /BUCKET`, unsigned (moto accepts any request), over plain
    /// HTTP/1.1: the status code.
    async fn create_bucket(&self) -> std::io::Result<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let request = format!(
            "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        let status = String::from_utf8_lossy(&answer)
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status line"))?;
        Ok(status)
    }

    /// The blob store URL of its bucket, under `prefix` (may be empty).
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{BUCKET}/{prefix}?endpoint=http://127.0.0.1:{}&region=us-east-1\
             &access_key_id=testing&secret_access_key=testing",
            self.port
        )
    }

    /// A blob store on its bucket, under `prefix`.
    ///
    /// # Panics
    /// When the store cannot be made (a bug).
    pub fn store(&self, prefix: &str) -> ObjectBlobStore {
        ObjectBlobStore::s3(&self.url(prefix)).expect("an S3 blob store on moto")
    }
}

impl Drop for ThrowawayS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
