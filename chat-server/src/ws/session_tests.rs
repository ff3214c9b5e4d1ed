//! Sessions driven through in-memory channels instead of sockets: the
//! whole session (frames, sends, events, closes) over the in-memory
//! backends, in milliseconds. The tests over real sockets are in
//! `tests/api/ws_*.rs`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::ws::Message;
use chat_core::memory::MemoryRateLimiter;
use chat_core::{
    ChatEngine, ChatError, ConversationRef, ManualClock, OutgoingMessage, RateDecision, RateLimit,
    RateLimiter, Timestamp, TokenPair, UserId,
};
use futures::channel::mpsc;
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use serde_json::{Value, json};

use super::session;
use crate::limits::FrameRate;
use crate::state::{AppState, HttpSettings, WsSettings};

/// How long a test waits for a frame it expects.
const WAIT: Duration = Duration::from_secs(5);

/// The server's end of an in-memory connection: what the client sent
/// comes out of one channel, what the session writes goes into the other
/// (bounded, so a client that stops reading holds the session's writes as
/// a full socket would).
struct MemorySocket {
    from_client: mpsc::UnboundedReceiver<Result<Message, axum::Error>>,
    to_client: mpsc::Sender<Message>,
}

impl Stream for MemorySocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.from_client.poll_next_unpin(cx)
    }
}

impl Sink<Message> for MemorySocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_client
            .poll_ready_unpin(cx)
            .map_err(axum::Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.to_client
            .start_send_unpin(item)
            .map_err(axum::Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_client
            .poll_flush_unpin(cx)
            .map_err(axum::Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.to_client
            .poll_close_unpin(cx)
            .map_err(axum::Error::new)
    }
}

/// The client's end: JSON frames in and out.
struct Client {
    to_server: mpsc::UnboundedSender<Result<Message, axum::Error>>,
    from_server: mpsc::Receiver<Message>,
    session: tokio::task::JoinHandle<()>,
}

impl Client {
    fn send(&self, frame: Value) {
        self.send_message(Message::Text(frame.to_string().into()));
    }

    fn send_message(&self, message: Message) {
        self.to_server
            .unbounded_send(Ok(message))
            .expect("the session reads");
    }

    /// The next message the session wrote, whatever it is.
    async fn next_message(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.from_server.next())
            .await
            .expect("a frame within 5 s")
            .expect("the session is open")
    }

    /// The next text frame (skipping pings); panics on a close.
    async fn next(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Message::Text(t) => return serde_json::from_str(&t).expect("JSON frame"),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// The next frame of `kind`, skipping others.
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Reads until the session closes; answers the close and returns its
    /// code.
    async fn close_code(&mut self) -> u16 {
        loop {
            if let Message::Close(frame) = self.next_message().await {
                // The session waits for the client's close before it ends.
                let _ = self.to_server.unbounded_send(Ok(Message::Close(None)));
                return frame.expect("a close code").code;
            }
        }
    }

    /// Asserts that the session writes no text frame within `d`.
    async fn expect_silence(&mut self, d: Duration) {
        if let Ok(Some(Message::Text(t))) = tokio::time::timeout(d, self.from_server.next()).await {
            panic!("unexpected frame: {t}");
        }
    }

    /// Waits for the session's task to end.
    async fn ended(self) {
        tokio::time::timeout(WAIT, self.session)
            .await
            .expect("the session ends")
            .expect("the session did not panic");
    }
}

/// What a [`Gate`] says to one message send.
enum Verdict {
    Allow,
    Limit,
    Fail,
}

/// A rate limiter whose message sends each wait for the test's verdict,
/// so a test decides when (and how) each send ends. Other keys pass.
struct Gate {
    inner: MemoryRateLimiter,
    verdicts: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Verdict>>,
}

#[async_trait]
impl RateLimiter for Gate {
    async fn hit(&self, key: &str, limit: RateLimit) -> chat_core::Result<RateDecision> {
        if !key.starts_with("msg:") {
            return self.inner.hit(key, limit).await;
        }
        match self.verdicts.lock().await.recv().await {
            Some(Verdict::Allow) => Ok(RateDecision::Allowed { remaining: 1 }),
            Some(Verdict::Limit) => Ok(RateDecision::Limited {
                retry_after: Duration::from_secs(1),
            }),
            Some(Verdict::Fail) => Err(ChatError::StoreUnavailable("the test said so".into())),
            None => std::future::pending().await,
        }
    }

    async fn peek(&self, key: &str, limit: RateLimit) -> chat_core::Result<RateDecision> {
        self.inner.peek(key, limit).await
    }
}

/// An engine over the in-memory backends, the state around it, and the
/// test's hold on its clock and (when gated) its sends.
struct Server {
    state: AppState,
    clock: Arc<ManualClock>,
    verdicts: Option<tokio::sync::mpsc::UnboundedSender<Verdict>>,
}

impl Server {
    fn new(ws: WsSettings) -> Self {
        Self::build(ws, false)
    }

    /// A server whose message sends wait for [`Server::verdict`].
    fn gated(ws: WsSettings) -> Self {
        Self::build(ws, true)
    }

    fn build(ws: WsSettings, gated: bool) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::now()));
        let mut builder = ChatEngine::builder()
            .auth_config(crate::testing::fast_auth_config())
            .clock(clock.clone())
            .jwt_secret(b"session-tests-secret-of-32-bytes!".to_vec());
        let mut verdicts = None;
        if gated {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            verdicts = Some(tx);
            builder = builder.rate_limiter(Arc::new(Gate {
                inner: MemoryRateLimiter::with_clock(clock.clone()),
                verdicts: tokio::sync::Mutex::new(rx),
            }));
        }
        let engine = builder.build().expect("engine");
        let http = HttpSettings {
            ws,
            ..HttpSettings::default()
        };
        Self {
            state: AppState::with_settings(engine, http),
            clock,
            verdicts,
        }
    }

    /// Decides the next message send (of a gated server).
    fn verdict(&self, verdict: Verdict) {
        let gate = self.verdicts.as_ref().expect("a gated server");
        gate.send(verdict).expect("the gate is open");
    }

    fn engine(&self) -> &ChatEngine {
        &self.state.engine
    }

    /// A user with a session (no password: provisioned, as an embedding
    /// application does).
    async fn user(&self, name: &str) -> TokenPair {
        let user = crate::testing::provisioned_user(self.engine(), name);
        user.await.expect("a user")
    }

    /// Another session of `user`.
    async fn login(&self, user: UserId) -> TokenPair {
        let auth = self.engine().auth();
        auth.issue_tokens(user, None).await.expect("tokens")
    }

    /// A session for `tokens`, served once this returns (its catch-up is
    /// written; a `ping` was answered).
    async fn connect(&self, tokens: &TokenPair) -> Client {
        self.connect_with_buffer(tokens, 1024).await
    }

    /// A session whose client holds at most about `buffer` unread
    /// messages before the session's writes wait.
    async fn connect_with_buffer(&self, tokens: &TokenPair, buffer: usize) -> Client {
        let auth = self
            .engine()
            .auth()
            .authenticate(&tokens.access_token)
            .expect("a valid token");
        let seat = self.state.sockets.take(auth.user_id).expect("a seat");
        let (to_server, from_client) = mpsc::unbounded();
        let (to_client, from_server) = mpsc::channel(buffer);
        let socket = MemorySocket {
            from_client,
            to_client,
        };
        let session = tokio::spawn(session::run(socket, self.state.clone(), auth, seat));
        let mut client = Client {
            to_server,
            from_server,
            session,
        };
        client.send(json!({"type": "ping"}));
        client.next_of("pong").await;
        client
    }

    /// `from` sends `to` a message outside any session; returns its
    /// conversation.
    async fn message(&self, from: &TokenPair, to: &TokenPair) -> String {
        let m = OutgoingMessage::parse("hello", None, None).expect("valid");
        let target = ConversationRef::Direct(to.user_id);
        let sent = self
            .engine()
            .conversations()
            .send(from.user_id, target, m)
            .await
            .expect("sent");
        sent.message.conversation_id.to_string()
    }
}

fn direct(to: &TokenPair, content: &str, client_msg_id: &str) -> Value {
    json!({"type": "message.send", "recipient_id": to.user_id, "content": content, "client_msg_id": client_msg_id})
}

#[tokio::test]
async fn a_send_is_answered_with_message_sent_and_reaches_the_other_users_session() {
    let server = Server::new(WsSettings::default());
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.connect(&alice).await;
    let mut b = server.connect(&bob).await;

    a.send(direct(&bob, "hi bob", "k1"));

    let sent = a.next().await;
    assert_eq!(sent["type"], "message.sent", "{sent}");
    assert_eq!(sent["client_msg_id"], "k1");
    assert_eq!(sent["seq"], 1);
    let new = b.next_of("message.new").await;
    assert_eq!(new["content"], "hi bob");
    assert_eq!(new["message_id"], sent["message_id"]);
    // The sending session gets no echo of its own message.
    a.expect_silence(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn frames_that_are_not_json_text_get_an_error_and_the_session_goes_on() {
    let server = Server::new(WsSettings::default());
    let alice = server.user("alice").await;
    let mut a = server.connect(&alice).await;

    a.send_message(Message::Text("{not json".into()));
    assert_eq!(a.next().await["code"], "INVALID_JSON");
    a.send_message(Message::Binary(b"{}".to_vec().into()));
    assert_eq!(a.next().await["code"], "INVALID_JSON");
    a.send(json!({"type": "launch"}));
    assert_eq!(a.next().await["code"], "UNKNOWN_TYPE");

    a.send(json!({"type": "ping"}));
    assert_eq!(a.next().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn sync_and_typing_frames_past_their_budget_are_answered_rate_limited() {
    let server = Server::new(WsSettings {
        sync_rate: FrameRate::new(2, 0.001),
        typing_rate: FrameRate::new(1, 0.001),
        ..WsSettings::default()
    });
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let conversation = server.message(&alice, &bob).await;
    let mut a = server.connect(&alice).await;

    let sync = json!({"type": "sync", "conversation_id": conversation, "after_seq": 0});
    for _ in 0..3 {
        a.send(sync.clone());
    }
    assert_eq!(a.next().await["type"], "messages.sync");
    assert_eq!(a.next().await["type"], "messages.sync");
    let refused = a.next().await;
    assert_eq!(refused["code"], "RATE_LIMITED", "{refused}");
    assert!(refused["retry_after"].as_u64().is_some_and(|s| s >= 1));

    let typing = json!({"type": "typing", "conversation_id": conversation, "is_typing": true});
    a.send(typing.clone());
    a.send(typing);
    // The first is relayed (no answer), the second refused.
    assert_eq!(a.next().await["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn an_auth_frame_with_a_fresh_token_keeps_the_session_past_the_old_expiry() {
    // Expiry is checked at each ping tick, against the engine's clock.
    let server = Server::new(WsSettings {
        ping_interval: Duration::from_millis(100),
        ..WsSettings::default()
    });
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.connect(&alice).await;

    a.send(json!({"type": "auth", "token": bob.access_token}));
    assert_eq!(
        a.next().await["code"],
        "INVALID_TOKEN",
        "another user's token"
    );

    server.clock.advance(Duration::from_secs(10 * 60));
    let auth = server.engine().auth();
    let fresh = auth.refresh(&alice.refresh_token).await.expect("refresh");
    a.send(json!({"type": "auth", "token": fresh.access_token}));
    let ok = a.next().await;
    assert_eq!(ok["type"], "auth.ok", "{ok}");
    assert_eq!(
        ok["expires_at"],
        serde_json::to_value(fresh.access_expires_at).expect("a timestamp")
    );

    // Past the first token's expiry: ticks come and go, and the session
    // lives on (kept from "no heartbeat" by the client's pings).
    server.clock.advance(Duration::from_secs(6 * 60));
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        a.send(json!({"type": "ping"}));
        assert_eq!(a.next().await["type"], "pong");
    }
    // Until the fresh one expires too.
    server.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(a.close_code().await, 4001);
}

#[tokio::test]
async fn a_ping_frame_is_answered_with_pong() {
    let server = Server::new(WsSettings::default());
    let alice = server.user("alice").await;
    let mut a = server.connect(&alice).await;
    a.send(json!({"type": "ping"}));
    assert_eq!(a.next().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn logout_closes_the_sessions_connection_with_4001_and_spares_another_session() {
    let server = Server::new(WsSettings::default());
    let alice = server.user("alice").await;
    let other = server.login(alice.user_id).await;
    let mut first = server.connect(&alice).await;
    let mut second = server.connect(&other).await;

    let auth = server.engine().auth();
    auth.logout(&alice.refresh_token).await.expect("logout");

    assert_eq!(first.close_code().await, 4001);
    first.ended().await;
    second.send(json!({"type": "ping"}));
    assert_eq!(
        second.next().await["type"],
        "pong",
        "the other session lives on"
    );
}

/// Alice's session on a gated server with three sends to Bob read: the
/// first waits at the gate, the other two behind it. Returns her client
/// and Bob's tokens.
async fn three_sends_waiting(server: &Server) -> (Client, TokenPair) {
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.connect(&alice).await;
    for k in ["k1", "k2", "k3"] {
        a.send(direct(&bob, k, k));
    }
    // The session reads on while the sends wait: the ping after them is
    // answered, so all three were read.
    a.send(json!({"type": "ping"}));
    assert_eq!(a.next().await["type"], "pong");
    (a, bob)
}

#[tokio::test]
async fn sends_wait_their_turn_are_answered_in_order_and_other_frames_meanwhile() {
    let server = Server::gated(WsSettings::default());
    let (mut a, _) = three_sends_waiting(&server).await;

    for _ in 0..3 {
        server.verdict(Verdict::Allow);
    }
    for (k, seq) in [("k1", 1), ("k2", 2), ("k3", 3)] {
        let sent = a.next().await;
        assert_eq!(sent["type"], "message.sent", "{sent}");
        assert_eq!(sent["client_msg_id"], k, "{sent}");
        assert_eq!(sent["seq"], seq, "{sent}");
    }
}

#[tokio::test]
async fn when_the_store_fails_a_send_the_sends_waiting_behind_it_are_refused_at_once() {
    let server = Server::gated(WsSettings::default());
    let (mut a, bob) = three_sends_waiting(&server).await;

    // Only the first send is decided: the others never reach the gate.
    server.verdict(Verdict::Fail);

    for k in ["k1", "k2", "k3"] {
        let e = a.next().await;
        assert_eq!(e["code"], "STORE_UNAVAILABLE", "{e}");
        assert_eq!(e["client_msg_id"], k);
    }
    // The session goes on; the next send is tried again.
    a.send(direct(&bob, "k4", "k4"));
    server.verdict(Verdict::Allow);
    assert_eq!(a.next().await["client_msg_id"], "k4");
}

#[tokio::test]
async fn refused_sends_are_answered_rate_limited_until_the_flood_limit_closes_with_1008() {
    let server = Server::gated(WsSettings {
        flood_limit: 2,
        ..WsSettings::default()
    });
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.connect(&alice).await;

    for i in 0..2 {
        a.send(direct(&bob, "x", &format!("k{i}")));
        server.verdict(Verdict::Limit);
        let e = a.next().await;
        assert_eq!(e["code"], "RATE_LIMITED", "{e}");
        assert_eq!(e["client_msg_id"], format!("k{i}"));
    }
    a.send(direct(&bob, "x", "k2"));
    server.verdict(Verdict::Limit);
    assert_eq!(a.close_code().await, 1008);
}

#[tokio::test]
async fn sends_read_before_the_client_closes_are_stored_in_order() {
    let server = Server::gated(WsSettings::default());
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut b = server.connect(&bob).await;
    let a = server.connect(&alice).await;

    a.send(direct(&bob, "one", "k1"));
    a.send(direct(&bob, "two", "k2"));
    a.send_message(Message::Close(None));
    // The session has read the close by now and stores the two on its
    // way out.
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.verdict(Verdict::Allow);
    server.verdict(Verdict::Allow);

    a.ended().await;
    assert_eq!(b.next_of("message.new").await["content"], "one");
    assert_eq!(b.next_of("message.new").await["content"], "two");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1013_after_the_write_timeout() {
    let server = Server::new(WsSettings {
        write_timeout: Duration::from_millis(100),
        ..WsSettings::default()
    });
    let alice = server.user("alice").await;
    // Room for two unread frames (the channel's buffer plus the sender's
    // own slot).
    let mut a = server.connect_with_buffer(&alice, 1).await;

    for _ in 0..4 {
        a.send(json!({"type": "ping"}));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(a.next().await["type"], "pong");
    assert_eq!(a.next().await["type"], "pong");
    assert_eq!(a.close_code().await, 1013);
}

#[tokio::test]
async fn shutdown_closes_the_session_with_1001() {
    let server = Server::new(WsSettings::default());
    let alice = server.user("alice").await;
    let mut a = server.connect(&alice).await;
    server.state.shutdown.send_replace(true);
    assert_eq!(a.close_code().await, 1001);
    a.ended().await;
}
