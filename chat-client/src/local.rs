//! [`LocalBind`]: the source address (and optionally ports) of a client's
//! WebSockets.
//!
//! Binding a socket to `(address, 0)` before connecting makes the kernel
//! reserve a port from the ephemeral range for it alone, whatever the
//! destination: tens of thousands of such sockets starve every other
//! program on the machine of ephemeral ports. A load tool gives a port
//! range outside the ephemeral range instead, and the client walks it.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpSocket, TcpStream};

/// Where a client's connections come from.
#[derive(Debug, Clone)]
pub(crate) struct LocalBind {
    ip: IpAddr,
    ports: Option<Arc<PortCursor>>,
}

/// A port range walked round-robin by every connection of a client.
#[derive(Debug)]
struct PortCursor {
    range: RangeInclusive<u16>,
    next: AtomicUsize,
}

impl LocalBind {
    pub(crate) fn new(ip: IpAddr, ports: Option<RangeInclusive<u16>>) -> Self {
        Self {
            ip,
            ports: ports.map(|range| {
                Arc::new(PortCursor {
                    range,
                    // Processes sharing a range start apart; a port taken
                    // by another is skipped.
                    next: AtomicUsize::new(std::process::id() as usize * 7_919),
                })
            }),
        }
    }

    pub(crate) fn ip(&self) -> IpAddr {
        self.ip
    }

    /// A TCP connection to `to` from this address: from the next free port
    /// of the range, or from a port the system picks.
    pub(crate) async fn connect(&self, to: SocketAddr) -> std::io::Result<TcpStream> {
        let Some(cursor) = &self.ports else {
            let socket = self.socket(to)?;
            socket.bind(SocketAddr::new(self.ip, 0))?;
            return socket.connect(to).await;
        };
        let (start, end) = (*cursor.range.start(), *cursor.range.end());
        let len = usize::from(end.saturating_sub(start)) + 1;
        let mut last = None;
        for _ in 0..len {
            let offset = cursor.next.fetch_add(1, Ordering::Relaxed) % len;
            let port = start.saturating_add(u16::try_from(offset).unwrap_or(u16::MAX));
            let socket = self.socket(to)?;
            match socket.bind(SocketAddr::new(self.ip, port)) {
                Ok(()) => return socket.connect(to).await,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("an empty port range")))
    }

    fn socket(&self, to: SocketAddr) -> std::io::Result<TcpSocket> {
        if to.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
    }
}
