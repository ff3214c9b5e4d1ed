//! [`WsConnection`]: one WebSocket to `/ws`, speaking
//! [`ClientFrame`]s and [`ServerFrame`]s; and its halves [`WsSender`] and
//! [`WsReceiver`] for separate tasks.
//!
//! Control frames are handled underneath: pings are answered and skipped,
//! as are pongs. A close frame with code 1000 (or none) ends the stream
//! with `Ok(None)`; any other code is [`ClientError::Closed`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chat_types::protocol::{ClientFrame, ServerFrame, close};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, Stream, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{ClientError, Result};
use crate::local::LocalBind;

/// Bytes read from the socket at a time.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Bytes written before frames are flushed.
const WRITE_BUFFER_BYTES: usize = 4 * 1024;

/// How long [`WsConnection::close`] waits for the server's close reply.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open WebSocket. Made by
/// [`ChatClient::connect`](crate::ChatClient::connect).
///
/// Reads do not time out; wrap them in `tokio::time::timeout` when a frame
/// must arrive in time.
pub struct WsConnection {
    socket: Socket,
    ended: bool,
    closing: Arc<AtomicBool>,
}

/// The sending half of a [`WsConnection`] (see [`WsConnection::split`]).
pub struct WsSender {
    sink: SplitSink<Socket, Message>,
    closing: Arc<AtomicBool>,
}

/// The receiving half of a [`WsConnection`] (see [`WsConnection::split`]).
/// Keep reading it: pings are answered only while something reads.
pub struct WsReceiver {
    stream: SplitStream<Socket>,
    ended: bool,
    closing: Arc<AtomicBool>,
}

impl WsConnection {
    /// Opens the WebSocket at `url` (`ws://.../ws?token=...`).
    pub(crate) async fn connect(url: &str, local: Option<&LocalBind>) -> Result<Self> {
        // Nagle's algorithm would hold back small frames for up to 40 ms.
        // Small buffers: tungstenite's defaults (128 KiB read buffer,
        // allocated up front) would cost a load tool holding thousands of
        // connections gigabytes. Larger frames grow the buffer as needed.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(WRITE_BUFFER_BYTES);
        let (socket, _) = match local {
            None => tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?,
            Some(local) => {
                let stream = tcp_from(url, local).await?;
                tokio_tungstenite::client_async_with_config(
                    url,
                    MaybeTlsStream::Plain(stream),
                    Some(config),
                )
                .await?
            }
        };
        Ok(Self {
            socket,
            ended: false,
            closing: Arc::default(),
        })
    }

    /// Sends a frame as JSON text.
    ///
    /// # Errors
    /// [`ClientError::WebSocket`] when the socket is closed or fails.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        let text = encode(frame)?;
        Ok(self.socket.send(Message::text(text)).await?)
    }

    /// Sends `text` as it is, for callers that build frames themselves.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        Ok(self.socket.send(Message::text(text)).await?)
    }

    /// The next frame from the server; `Ok(None)` once the connection has
    /// ended normally.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the server closes with a code other
    /// than 1000 (later calls give `Ok(None)`), [`ClientError::Decode`] for
    /// a frame that is not a [`ServerFrame`] (the connection stays usable),
    /// [`ClientError::WebSocket`] when the socket fails.
    pub async fn next(&mut self) -> Result<Option<ServerFrame>> {
        parse(next_text(&mut self.socket, &mut self.ended, &self.closing).await?)
    }

    /// The text of the next text frame, undecoded, for callers that parse
    /// only what they need; `Ok(None)` once the connection has ended
    /// normally.
    ///
    /// # Errors
    /// As [`next`](Self::next), except that text is never decoded.
    pub async fn next_raw(&mut self) -> Result<Option<String>> {
        Ok(next_text(&mut self.socket, &mut self.ended, &self.closing)
            .await?
            .map(|t| t.as_str().to_owned()))
    }

    /// Splits the connection into halves that separate tasks can own.
    pub fn split(self) -> (WsSender, WsReceiver) {
        let (sink, stream) = self.socket.split();
        (
            WsSender {
                sink,
                closing: Arc::clone(&self.closing),
            },
            WsReceiver {
                stream,
                ended: self.ended,
                closing: self.closing,
            },
        )
    }

    /// Closes the connection with code 1000 and waits (up to 5 seconds)
    /// for the server's reply, so the server has seen the close.
    ///
    /// # Errors
    /// [`ClientError::WebSocket`] when the close frame cannot be sent for
    /// a reason other than the connection being closed already.
    pub async fn close(mut self) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.closing.store(true, Ordering::Relaxed);
        match self.socket.close(Some(normal_close())).await {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {}
            Err(e) => return Err(e.into()),
        }
        let drain = async { while let Some(Ok(_)) = self.socket.next().await {} };
        if tokio::time::timeout(CLOSE_WAIT, drain).await.is_err() {
            tracing::debug!("no close reply from the server within {CLOSE_WAIT:?}");
        }
        Ok(())
    }
}

impl WsSender {
    /// Sends a frame as JSON text.
    ///
    /// # Errors
    /// [`ClientError::WebSocket`] when the socket is closed or fails.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        let text = encode(frame)?;
        Ok(self.sink.send(Message::text(text)).await?)
    }

    /// Sends `text` as it is.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        Ok(self.sink.send(Message::text(text)).await?)
    }

    /// Sends a close frame with code 1000. The server's reply (or its
    /// hanging up) ends the [`WsReceiver`] with `Ok(None)`.
    ///
    /// # Errors
    /// [`ClientError::WebSocket`] when the close frame cannot be sent for
    /// a reason other than the connection being closed already.
    pub async fn close(mut self) -> Result<()> {
        self.closing.store(true, Ordering::Relaxed);
        match self.sink.send(Message::Close(Some(normal_close()))).await {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl WsReceiver {
    /// The next frame from the server; as [`WsConnection::next`].
    ///
    /// # Errors
    /// As [`WsConnection::next`].
    pub async fn next(&mut self) -> Result<Option<ServerFrame>> {
        parse(next_text(&mut self.stream, &mut self.ended, &self.closing).await?)
    }

    /// The text of the next text frame; as [`WsConnection::next_raw`].
    ///
    /// # Errors
    /// As [`WsConnection::next_raw`].
    pub async fn next_raw(&mut self) -> Result<Option<String>> {
        Ok(next_text(&mut self.stream, &mut self.ended, &self.closing)
            .await?
            .map(|t| t.as_str().to_owned()))
    }
}

impl fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConnection")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSender").finish_non_exhaustive()
    }
}

impl fmt::Debug for WsReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsReceiver")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// A TCP connection to `url`'s host from `local`, without Nagle's delay.
async fn tcp_from(url: &str, local: &LocalBind) -> Result<TcpStream> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ClientError::InvalidUrl(format!("`{url}`: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| ClientError::InvalidUrl(format!("`{url}` has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let io = |e: std::io::Error| ClientError::from(tungstenite::Error::Io(e));
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await.map_err(io)? {
        if addr.is_ipv4() != local.ip().is_ipv4() {
            continue;
        }
        match local.connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(io)?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || ClientError::InvalidUrl(format!("`{url}` has no address of {}'s family", local.ip())),
        io,
    ))
}

fn normal_close() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: Utf8Bytes::from_static(""),
    }
}

fn encode(frame: &ClientFrame) -> Result<String> {
    serde_json::to_string(frame).map_err(|e| {
        ClientError::Decode(format!(
            "cannot encode a `{}` frame: {e}",
            frame.type_name()
        ))
    })
}

fn parse(text: Option<Utf8Bytes>) -> Result<Option<ServerFrame>> {
    text.map(|t| {
        serde_json::from_str(t.as_str())
            .map_err(|e| ClientError::decode("unexpected server frame", &e, t.as_bytes()))
    })
    .transpose()
}

/// The next text frame of `stream`, skipping control frames. `ended` is
/// set once the stream is over, so later calls answer `Ok(None)` without
/// reading. Once `closing` (this side sent a close frame), the server
/// hanging up without a close reply is a normal end too.
async fn next_text<S>(
    stream: &mut S,
    ended: &mut bool,
    closing: &AtomicBool,
) -> Result<Option<Utf8Bytes>>
where
    S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    if *ended {
        return Ok(None);
    }
    loop {
        let message = match stream.next().await {
            None => {
                *ended = true;
                return Ok(None);
            }
            Some(Ok(message)) => message,
            Some(Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed)) => {
                *ended = true;
                return Ok(None);
            }
            Some(Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ))) if closing.load(Ordering::Relaxed) => {
                *ended = true;
                return Ok(None);
            }
            Some(Err(e)) => return Err(e.into()),
        };
        match message {
            Message::Text(text) => return Ok(Some(text)),
            Message::Binary(_) => {
                return Err(ClientError::Decode(
                    "the server sent a binary frame; the protocol uses text frames".to_owned(),
                ));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            Message::Close(frame) => {
                *ended = true;
                return match frame {
                    Some(f) if u16::from(f.code) != close::NORMAL => Err(ClientError::Closed {
                        code: Some(u16::from(f.code)),
                        reason: f.reason.as_str().to_owned(),
                    }),
                    _ => Ok(None),
                };
            }
        }
    }
}
