//! The socket under a session: every write bounded by the write timeout,
//! and the close handshake.
//!
//! A session runs over any [`Transport`]: axum's `WebSocket` in
//! production, a pair of in-memory channels in the session tests.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use bytes::Bytes;
use chat_core::protocol::{ServerFrame, close};
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};

/// How long a closing server waits for the client's close frame after
/// sending its own. Dropping the connection at once would reset it while
/// the client's frames are still arriving, and a reset can destroy the
/// close frame before the client reads it.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why a session ends: a close frame to send, or nothing when the peer is
/// already gone.
pub(super) type Ending = Option<(u16, &'static str)>;

/// What a session reads client messages from and writes server messages
/// to. axum's `WebSocket` is one; so is any `Sink` and `Stream` of
/// [`Message`]s with axum's error type.
pub(super) trait Transport:
    Sink<Message, Error = axum::Error> + Stream<Item = Result<Message, axum::Error>> + Unpin + Send
{
}

impl<T> Transport for T where
    T: Sink<Message, Error = axum::Error>
        + Stream<Item = Result<Message, axum::Error>>
        + Unpin
        + Send
{
}

/// A session's socket. Every write waits at most `write_timeout` for the
/// client to read: past it the client is closed with 1013, so one that
/// stops reading cannot hold the server's memory.
pub(super) struct Socket<S> {
    io: S,
    write_timeout: Duration,
}

impl<S: Transport> Socket<S> {
    /// `io`, each write to it bounded by `write_timeout`.
    pub(super) fn new(io: S, write_timeout: Duration) -> Self {
        Self { io, write_timeout }
    }

    /// The next message from the client; `None` once the peer is gone.
    /// Cancel-safe, so it can wait in a `select!`. (Not an `async fn`:
    /// the session's loop waits on it always, and a wrapper would add its
    /// own state to every idle connection.)
    pub(super) fn recv(&mut self) -> futures::stream::Next<'_, S> {
        self.io.next()
    }

    /// Writes and flushes one frame (an answer, an error, a batch).
    pub(super) async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), Ending> {
        let text = Message::Text(frame.to_json().into());
        within(self.write_timeout, self.io.send(text)).await
    }

    /// Queues a frame for the next flush.
    pub(super) async fn feed_frame(&mut self, frame: &ServerFrame) -> Result<(), Ending> {
        let text = Message::Text(frame.to_json().into());
        within(self.write_timeout, self.io.feed(text)).await
    }

    /// Queues a frame serialized elsewhere (a live event) for the next
    /// flush.
    pub(super) async fn feed_json(&mut self, json: &Bytes) -> Result<(), Ending> {
        let text = Utf8Bytes::try_from(json.clone())
            .map_err(|_| Some((close::INTERNAL_ERROR, "server error")))?;
        within(self.write_timeout, self.io.feed(Message::Text(text))).await
    }

    /// Writes what was fed.
    pub(super) async fn flush(&mut self) -> Result<(), Ending> {
        within(self.write_timeout, self.io.flush()).await
    }

    /// Sends a WebSocket ping (the heartbeat).
    pub(super) async fn ping(&mut self) -> Result<(), Ending> {
        let ping = self.io.send(Message::Ping(Bytes::new()));
        within(self.write_timeout, ping).await
    }

    /// Ends the connection. With a close to send: sends it, then reads
    /// (and drops) what the client still sends until its own close frame
    /// arrives, for at most [`CLOSE_GRACE`], so the connection ends with
    /// the close handshake and not a reset. Without one (the peer closed
    /// or vanished): flushes the close reply tungstenite queued. Every
    /// step is bounded, so a client that reads nothing cannot hold the
    /// session.
    pub(super) async fn close(&mut self, ending: Ending) {
        let Some((code, reason)) = ending else {
            let _ = tokio::time::timeout(CLOSE_GRACE, self.io.flush()).await;
            return;
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            if self.io.send(close_message(code, reason)).await.is_err() {
                return;
            }
            while let Some(Ok(message)) = self.io.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Runs one write to the socket within `limit`. A failed write means the
/// peer is gone; a write that waits past `limit` means the client stopped
/// reading, and it is closed with 1013.
async fn within<T>(
    limit: Duration,
    write: impl Future<Output = Result<T, axum::Error>>,
) -> Result<T, Ending> {
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some((
            close::TRY_AGAIN_LATER,
            "too slow to read; reconnect to catch up",
        ))),
    }
}

/// The close for a socket read error: an oversized frame gets 1009, a
/// text frame that is not UTF-8 1007; anything else means the peer is
/// gone.
pub(super) fn ending_for(error: &axum::Error) -> Ending {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match std::error::Error::source(error).and_then(|e| e.downcast_ref::<WsError>()) {
        Some(WsError::Capacity(_)) => Some((close::MESSAGE_TOO_BIG, "frame larger than 64 KiB")),
        Some(WsError::Utf8(_)) => Some((close::INVALID_PAYLOAD, "text frames must be UTF-8")),
        _ => {
            tracing::debug!(error = %error, "websocket read failed");
            None
        }
    }
}
