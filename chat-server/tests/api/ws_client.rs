//! A small WebSocket client for the tests: real sockets, JSON frames.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{TestApp, Tokens};

/// How long a test waits for a frame it expects.
const WAIT: Duration = Duration::from_secs(5);

pub(crate) struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while waiting for the first `pong`, not yet taken.
    pending: VecDeque<Value>,
}

impl TestApp {
    fn ws_url(&self, token: &str) -> String {
        format!("{}/ws?token={token}", self.base.replacen("http", "ws", 1))
    }

    /// Opens a WebSocket with `token`.
    pub(crate) async fn ws(&self, token: &str) -> Ws {
        Ws::connect(&self.base, token).await
    }

    /// Alice and Bob, signed up, each with a connection.
    pub(crate) async fn connected_pair(&self) -> (Tokens, Tokens, Ws, Ws) {
        let alice = self.signup("alice").await;
        let bob = self.signup("bob").await;
        let a = self.ws(&alice.access).await;
        let b = self.ws(&bob.access).await;
        (alice, bob, a, b)
    }

    /// The HTTP status of a refused upgrade.
    pub(crate) async fn ws_refusal(&self, token: &str) -> u16 {
        match tokio_tungstenite::connect_async(self.ws_url(token)).await {
            Ok(_) => panic!("the upgrade was accepted"),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
}

impl Ws {
    /// Opens a WebSocket to the server at `base` (`http://host:port`) and
    /// waits until the server serves it: the upgrade answers before the
    /// connection is registered, so without the wait a message sent at
    /// once could arrive in the catch-up instead of live. Frames that come
    /// before the `pong` stay readable.
    pub(crate) async fn connect(base: &str, token: &str) -> Ws {
        let mut ws = Self::connect_silently(base, token).await;
        ws.send(serde_json::json!({"type": "ping"})).await;
        let mut early = VecDeque::new();
        loop {
            let frame = ws.next().await;
            if frame["type"] == "pong" {
                break;
            }
            early.push_back(frame);
        }
        ws.pending = early;
        ws
    }

    /// Opens a WebSocket and sends nothing (for tests of silent clients).
    pub(crate) async fn connect_silently(base: &str, token: &str) -> Ws {
        let url = format!("{}/ws?token={token}", base.replacen("http", "ws", 1));
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        Ws {
            stream,
            pending: VecDeque::new(),
        }
    }

    /// Opens a WebSocket whose socket has a receive buffer of a few KiB,
    /// so the server's writes to it soon wait while the test reads nothing.
    pub(crate) async fn connect_with_small_window(base: &str, token: &str) -> Ws {
        let addr = base
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("small buffer");
        let tcp = socket.connect(addr).await.expect("connect");
        let url = format!("{}/ws?token={token}", base.replacen("http", "ws", 1));
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .expect("upgrade");
        Ws {
            stream,
            pending: VecDeque::new(),
        }
    }

    /// Sends a message as it is (a raw frame, say).
    pub(crate) async fn send_message(&mut self, message: Message) {
        self.stream.send(message).await.expect("send frame");
    }

    pub(crate) async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub(crate) async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("send frame");
    }

    /// The next text frame; panics on close or after 5 s.
    pub(crate) async fn next(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within 5 s")
                .expect("the socket is open")
                .expect("a frame");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).expect("JSON frame"),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// The next frame of `kind`, skipping others.
    pub(crate) async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Reads until `n` frames of `kind` have come; returns `n`.
    pub(crate) async fn count_of(&mut self, kind: &str, n: usize) -> usize {
        let mut seen = 0;
        while seen < n {
            if self.next().await["type"] == kind {
                seen += 1;
            }
        }
        seen
    }

    /// The contents of the next `n` messages, whether they arrive live
    /// (`message.new`, `message.group.new`) or in `messages.offline`
    /// batches (a message sent just as a socket opens may be in either).
    pub(crate) async fn contents(ws: &mut Ws, n: usize) -> Vec<String> {
        let text = |m: &Value| m["content"].as_str().expect("content").to_owned();
        let mut out = Vec::new();
        while out.len() < n {
            let frame = ws.next().await;
            match frame["type"].as_str() {
                Some("message.new" | "message.group.new") => out.push(text(&frame)),
                Some("messages.offline") => {
                    out.extend(
                        frame["messages"]
                            .as_array()
                            .expect("messages")
                            .iter()
                            .map(text),
                    );
                }
                _ => {}
            }
        }
        out
    }

    /// Asserts that no text frame (other than those of `ignore` types)
    /// arrives within `d`.
    pub(crate) async fn expect_silence(&mut self, d: Duration, ignore: &[&str]) {
        for v in self.pending.drain(..) {
            let kind = v["type"].as_str().unwrap_or_default();
            assert!(ignore.contains(&kind), "unexpected frame: {v}");
        }
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).expect("JSON");
                    let kind = v["type"].as_str().unwrap_or_default();
                    assert!(ignore.contains(&kind), "unexpected frame: {v}");
                }
                Ok(Some(Ok(Message::Close(c)))) => panic!("closed: {c:?}"),
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub(crate) async fn close_code(&mut self) -> u16 {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.stream.next())
                .await
                .expect("a close within 20 s");
            match msg {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket failed before a close frame: {e}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }

    /// Closes from the client side.
    pub(crate) async fn close(mut self) {
        let _ = self.stream.close(None).await;
        // Drain until the server's close arrives, so the server has seen it.
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_secs(2), self.stream.next()).await
        {}
    }
}
