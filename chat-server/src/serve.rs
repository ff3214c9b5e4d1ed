//! [`serve_router`]: the accept loop under [`crate::serve`].
//!
//! `axum::serve` gives hyper no timer, so a client could hold a
//! connection open forever by sending its request head a byte at a time
//! (slowloris). This loop builds each connection itself: hyper's
//! HTTP/1 header read timeout is armed, `TCP_NODELAY` is set, the peer's
//! address is handed to handlers as `ConnectInfo`, and shutdown is
//! graceful and bounded.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// How long in-flight requests get to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The kernel's send buffer of each connection (it doubles the figure
/// for its own bookkeeping). Left to autotuning, a connection whose client
/// reads nothing grows it to `net.ipv4.tcp_wmem`'s maximum, 4 MiB: 500
/// such WebSockets held 1.7 GiB of kernel memory, past the host's TCP
/// memory pressure point, until their write timeout closed them
/// (docs/benchmarks.md, "Slow readers"). Chat frames are small; this is
/// ample for them, and for a REST answer.
const SEND_BUFFER_BYTES: usize = 128 * 1024;

/// Pause after an accept error (such as running out of file
/// descriptors) before accepting again, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then stops
/// accepting and gives open connections 10 seconds to finish.
///
/// A request head (request line and headers) must arrive within
/// `header_timeout` of its first byte (and an idle keep-alive connection
/// is closed after the same time); otherwise the connection is closed.
///
/// # Errors
/// None today: accept errors are logged and retried. The `Result` leaves
/// room for listener errors worth ending the server for.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // WebSockets over HTTP/2 (RFC 8441) need the CONNECT protocol.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Chat frames are small and latency matters more than packet
        // count: without TCP_NODELAY a frame can wait for the peer's
        // delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        if let Err(e) = socket2::SockRef::from(&tcp).set_send_buffer_size(SEND_BUFFER_BYTES) {
            tracing::debug!(error = %e, "cannot set SO_SNDBUF");
        }
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // hyper's head timer starts with the head's first byte: a
            // client that connects and sends nothing gets the same time.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_timeout, tcp.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let service =
                TowerToHyperService::new(tower::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(remote));
                    app.clone().oneshot(req.map(axum::body::Body::new))
                }));
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                // Timeouts, resets and malformed requests: the client's
                // business, not an operator's.
                tracing::debug!(error = %e, peer = %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}
