//! One WebSocket connection, from upgrade to close.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use chat_core::auth::AuthContext;
use chat_core::protocol::{DecodeError, ErrorFrame, ServerFrame, close, decode_client_frame};
use chat_core::realtime::{Event, EventKind};
use chat_core::{Admission, CatchUp, Connection, ConversationId, Timestamp};
use futures::SinkExt as _;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::acks::Acks;
use super::budget::Bucket;
use super::dispatch::{self, Outcome, PendingSend};
use super::seats::Seat;
use crate::state::AppState;

/// Events written before one flush when several are ready.
const WRITE_BATCH: usize = 64;
/// Ack error frames held for the session before more are dropped.
const ACK_ERRORS: usize = 16;
/// Events held while a send is under way before the connection counts as
/// overflowed, as its queue would.
const HELD_MAX: usize = 1024;
/// Sends read while another is under way, waiting their turn. While they
/// wait, the session goes on reading (so it answers pings and every other
/// frame); with this many waiting it stops reading until one is answered.
const QUEUED_SENDS_MAX: usize = 32;
/// How long a closing server waits for the client's close frame after
/// sending its own. Dropping the connection at once would reset it while
/// the client's frames are still arriving, and a reset can destroy the
/// close frame before the client reads it.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why a session ends: a close frame to send, or nothing when the peer is
/// already gone.
type Ending = Option<(u16, &'static str)>;

/// The state of one connection.
pub(super) struct Session {
    pub(super) socket: WebSocket,
    pub(super) state: AppState,
    pub(super) connection: Connection,
    pub(super) catch_up: CatchUp,
    /// When the connection's access token expires.
    pub(super) expires_at: Timestamp,
    /// Sends refused by the rate limit since the last accepted one.
    pub(super) refused_in_a_row: u32,
    /// Acknowledgements, written by a worker beside the session.
    pub(super) acks: Acks,
    /// Error frames from the ack worker.
    ack_errors: mpsc::Receiver<Box<ErrorFrame>>,
    /// The send under way, if any.
    sending: Option<PendingSend>,
    /// Sends that wait for it, in the order they were read.
    queued: VecDeque<PendingSend>,
    /// Events that wait for it (see `must_hold`).
    held: VecDeque<Event>,
    /// `sync` frames this connection may still send.
    pub(super) sync_budget: Bucket,
    /// `typing` frames this connection may still send.
    pub(super) typing_budget: Bucket,
    /// How long one write may wait for the client to read.
    write_timeout: Duration,
    last_heard: Instant,
    /// This socket's place among its user's (freed when the session ends).
    _seat: Seat,
}

/// Runs a connection until it closes, then unregisters it.
pub(super) async fn run(socket: WebSocket, state: AppState, auth: AuthContext, seat: Seat) {
    let delivery = state.engine.delivery();
    let (connection, catch_up) = match Box::pin(delivery.connect(auth.user_id, auth.session_id))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, instance_id = %state.instance.id, user_id = %auth.user_id, "cannot open a connection");
            let mut socket = socket;
            close_socket(
                &mut socket,
                Some((close::INTERNAL_ERROR, "server error; reconnect")),
            )
            .await;
            return;
        }
    };
    tracing::debug!(instance_id = %state.instance.id, user_id = %auth.user_id, connection_id = %connection.id, "websocket connected");
    state.engine.metrics().connection_opened();
    let (errors, ack_errors) = mpsc::channel(ACK_ERRORS);
    let acks = Acks::new(auth.user_id, errors);
    let ws = &state.http.ws;
    let (sync_budget, typing_budget) = (Bucket::new(ws.sync_rate), Bucket::new(ws.typing_rate));
    let write_timeout = ws.write_timeout;
    let mut session = Session {
        socket,
        state,
        connection,
        catch_up,
        expires_at: auth.expires_at,
        refused_in_a_row: 0,
        acks,
        ack_errors,
        sending: None,
        queued: VecDeque::new(),
        held: VecDeque::new(),
        sync_budget,
        typing_budget,
        write_timeout,
        last_heard: Instant::now(),
        _seat: seat,
    };
    let ending = session.serve().await;
    // A revoked or expired session's sends are not stored; any other
    // ending stores what the client sent before it.
    if !matches!(ending, Some((close::AUTH_EXPIRED, _))) {
        session.finish_sends().await;
    }
    close_socket(&mut session.socket, ending).await;
    tracing::debug!(
        instance_id = %session.state.instance.id,
        user_id = %session.connection.user_id,
        connection_id = %session.connection.id,
        close_code = ending.map(|e| e.0),
        "websocket closed"
    );
    session.state.engine.metrics().connection_closed();
    let delivery = session.state.engine.delivery().clone();
    Box::pin(delivery.disconnect(session.connection)).await;
}

/// The end of the send under way; never, without one.
async fn wait_sent(
    sending: &mut Option<PendingSend>,
) -> chat_core::Result<chat_core::conversations::SentMessage> {
    match sending {
        Some(pending) => pending.send.as_mut().await,
        None => std::future::pending().await,
    }
}

fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Ends a connection. With a close to send: sends it, then reads (and
/// drops) what the client still sends until its own close frame arrives,
/// for at most [`CLOSE_GRACE`], so the connection ends with the close
/// handshake and not a reset. Without one (the peer closed or vanished):
/// flushes the close reply tungstenite queued. Every step is bounded, so a
/// client that reads nothing cannot hold the session.
async fn close_socket(socket: &mut WebSocket, ending: Ending) {
    let Some((code, reason)) = ending else {
        let _ = tokio::time::timeout(CLOSE_GRACE, socket.flush()).await;
        return;
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if socket.send(close_message(code, reason)).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
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

impl Session {
    /// The connection's loop. Its future lives as long as the connection,
    /// so everything that runs only now and then (handling a frame,
    /// writing events, the catch-up) is boxed: an idle connection then
    /// holds only the futures it waits on, not the largest one it might
    /// ever run (6.4 KB before boxing, 2.4 KB after).
    async fn serve(&mut self) -> Ending {
        if let Err(ending) = Box::pin(self.send_catch_up()).await {
            return ending;
        }
        let interval = self.state.http.ws.ping_interval;
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.state.shutdown.subscribe();
        let expiry = tokio::time::sleep_until(self.expiry_deadline());
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                // Frames are read while a send is under way; sends among
                // them wait their turn, up to a bound.
                incoming = self.socket.recv(), if self.queued.len() < QUEUED_SENDS_MAX => {
                    let message = match incoming {
                        None => return None,
                        Some(Ok(m)) => m,
                        Some(Err(e)) => return ending_for(&e),
                    };
                    self.last_heard = Instant::now();
                    let before = self.expires_at;
                    if let Err(ending) = Box::pin(self.on_message(message)).await {
                        return ending;
                    }
                    if self.expires_at != before {
                        expiry.as_mut().reset(self.expiry_deadline());
                    }
                }
                result = wait_sent(&mut self.sending), if self.sending.is_some() => {
                    let client_msg_id = self.sending.take().and_then(|p| p.client_msg_id);
                    if let Err(ending) = Box::pin(self.on_sent(result, client_msg_id)).await {
                        return ending;
                    }
                    self.sending = self.queued.pop_front();
                }
                event = self.connection.subscription.recv() => {
                    let Some(event) = event else {
                        return Some((close::TRY_AGAIN_LATER, "too slow to keep up; reconnect to catch up"));
                    };
                    if let Err(ending) = Box::pin(self.on_events(event)).await {
                        return ending;
                    }
                }
                Some(error) = self.ack_errors.recv() => {
                    if let Err(ending) = Box::pin(self.send_frame(&ServerFrame::Error(*error))).await {
                        return ending;
                    }
                }
                _ = ping.tick() => {
                    // The timer below covers expiry in wall time; this
                    // check follows the engine's clock, which tests move.
                    if self.state.engine.clock().now() >= self.expires_at {
                        return Some((close::AUTH_EXPIRED, "access token expired"));
                    }
                    if self.last_heard.elapsed() >= interval * 2 {
                        return Some((close::NORMAL, "no heartbeat"));
                    }
                    let ping = self.socket.send(Message::Ping(Default::default()));
                    if let Err(ending) = Box::pin(within(self.write_timeout, ping)).await {
                        return ending;
                    }
                    if let Err(e) = Box::pin(self.state.engine.delivery().heartbeat(&self.connection)).await {
                        tracing::warn!(error = %e, "could not refresh presence");
                    }
                    // Cut off from the other instances, this one hears no
                    // logout of theirs: ask the store now and then.
                    if self.state.engine.auth().is_cut_off()
                        && let Err(ending) = Box::pin(self.check_session()).await
                    {
                        return ending;
                    }
                }
                () = &mut expiry => {
                    return Some((close::AUTH_EXPIRED, "access token expired"));
                }
                _ = shutdown.changed() => {
                    return Some((close::GOING_AWAY, "server shutting down"));
                }
            }
        }
    }

    fn expiry_deadline(&self) -> Instant {
        let now = self.state.engine.clock().now();
        Instant::now() + self.expires_at.since(now)
    }

    /// Sends what the device missed, in `messages.offline` batches.
    async fn send_catch_up(&mut self) -> Result<(), Ending> {
        let delivery = self.state.engine.delivery().clone();
        loop {
            match delivery.next_offline_batch(&mut self.catch_up).await {
                Ok(Some(messages)) => {
                    self.send_frame(&ServerFrame::Offline { messages }).await?;
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "catch-up failed");
                    return Err(Some((close::INTERNAL_ERROR, "catch-up failed; reconnect")));
                }
            }
        }
    }

    async fn on_message(&mut self, message: Message) -> Result<(), Ending> {
        let text = match message {
            Message::Text(t) => t,
            Message::Binary(_) => {
                let e = DecodeError {
                    code: "INVALID_JSON",
                    message: "frames must be JSON text, not binary".to_owned(),
                    client_msg_id: None,
                };
                return self.send_frame(&ServerFrame::Error(e.into())).await;
            }
            Message::Close(_) => return Err(None),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        let frame = match decode_client_frame(&text) {
            Ok(f) => f,
            Err(e) => {
                return self.send_frame(&ServerFrame::Error(e.into())).await;
            }
        };
        match dispatch::handle(self, frame).await {
            Outcome::Reply(frame) => self.send_frame(&frame).await,
            Outcome::Nothing => Ok(()),
            Outcome::Close(code, reason) => Err(Some((code, reason))),
            Outcome::Sending(pending) => {
                if self.sending.is_none() {
                    self.sending = Some(pending);
                } else {
                    self.queued.push_back(pending);
                }
                Ok(())
            }
        }
    }

    /// Runs the send under way and those waiting, in order, to the end:
    /// they were read before the connection ended (a client that sends a
    /// message and closes at once), so they are stored even though their
    /// answers cannot be written; a retry with the same `client_msg_id`
    /// gets the original. After a `STORE_UNAVAILABLE` the rest are not
    /// tried. Each send is bounded by the store's own timeouts.
    async fn finish_sends(&mut self) {
        let pending = self.sending.take().into_iter().chain(self.queued.drain(..));
        for send in pending {
            if let Err(chat_core::ChatError::StoreUnavailable(_)) = send.send.await {
                break;
            }
        }
    }

    /// Closes the connection with 4001 when the store says its session
    /// was revoked; a store that cannot answer changes nothing.
    async fn check_session(&mut self) -> Result<(), Ending> {
        let auth = self.state.engine.auth();
        match auth.check_live_in_store(self.connection.session_id).await {
            Err(chat_core::ChatError::SessionRevoked) => {
                Err(Some((close::AUTH_EXPIRED, "session revoked")))
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not check the session in the store");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Answers a send that ended, then writes the events held meanwhile.
    async fn on_sent(
        &mut self,
        result: chat_core::Result<chat_core::conversations::SentMessage>,
        client_msg_id: Option<String>,
    ) -> Result<(), Ending> {
        let outage = matches!(&result, Err(chat_core::ChatError::StoreUnavailable(_)));
        match dispatch::sent(self, result, client_msg_id).await {
            Outcome::Reply(frame) => self.send_frame(&frame).await?,
            Outcome::Close(code, reason) => return Err(Some((code, reason))),
            Outcome::Nothing | Outcome::Sending(_) => {}
        }
        // The sends waiting behind it would each wait for the store as
        // long again: they get the same answer now, and the client retries
        // them (with their client_msg_id, so nothing is stored twice).
        if outage {
            while let Some(pending) = self.queued.pop_front() {
                let refusal = dispatch::store_unavailable(pending.client_msg_id);
                self.send_frame(&refusal).await?;
            }
        }
        let mut written = 0;
        while let Some(event) = self.held.pop_front() {
            written += self.write_event(event).await?;
        }
        if written > 0 {
            within(self.write_timeout, self.socket.flush()).await?;
        }
        Ok(())
    }

    /// Writes `first` and whatever other events are ready, then flushes.
    async fn on_events(&mut self, first: Event) -> Result<(), Ending> {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(event) = next.take() {
            if self.must_hold(&event) {
                if self.held.len() >= HELD_MAX {
                    return Err(Some((
                        close::TRY_AGAIN_LATER,
                        "too slow to keep up; reconnect to catch up",
                    )));
                }
                self.held.push_back(event);
            } else {
                written += self.write_event(event).await?;
            }
            if written < WRITE_BATCH {
                next = self.connection.subscription.try_recv();
            }
        }
        within(self.write_timeout, self.socket.flush()).await
    }

    /// Whether an event waits for the send under way. A message with a
    /// seq past the next one would make the session fill the gap from the
    /// store, and the gap may hold this device's own message, which it
    /// must get as `message.sent`, never as `message.new`. So it waits,
    /// and so does a resync (its catch-up could hold that message too), and
    /// everything after them, to keep their order.
    fn must_hold(&self, event: &Event) -> bool {
        if self.sending.is_none() {
            return false;
        }
        if !self.held.is_empty() {
            return true;
        }
        match event.kind() {
            EventKind::Frame(frame) => frame.message.is_some_and(|(c, seq)| {
                matches!(
                    self.connection.order.peek(c, seq),
                    Admission::FillGap { .. }
                )
            }),
            EventKind::Resync => true,
            EventKind::SessionRevoked(_) => false,
        }
    }

    /// Queues one event for the next flush; returns the frames queued.
    async fn write_event(&mut self, event: Event) -> Result<usize, Ending> {
        let mut written = 0;
        match event.kind() {
            EventKind::Frame(frame) if frame.origin == Some(self.connection.id) => {}
            EventKind::Frame(frame) => {
                let admission = frame
                    .message
                    .map(|(c, seq)| (c, self.connection.order.admit(c, seq)));
                if let Some((conversation, Admission::FillGap { after, before })) = admission {
                    written += self.fill_gap(conversation, after, before).await?;
                }
                if !matches!(admission, Some((_, Admission::Skip))) {
                    self.feed(&frame.json).await?;
                    written += 1;
                    if frame.message.is_some() {
                        self.state.engine.metrics().messages_delivered(1);
                    }
                }
            }
            EventKind::SessionRevoked(session) if *session == self.connection.session_id => {
                within(self.write_timeout, self.socket.flush()).await?;
                return Err(Some((close::AUTH_EXPIRED, "session revoked")));
            }
            EventKind::SessionRevoked(_) => {}
            EventKind::Resync => {
                within(self.write_timeout, self.socket.flush()).await?;
                // A logout elsewhere while this instance was cut off was
                // never announced here.
                self.check_session().await?;
                self.resync().await?;
            }
        }
        Ok(written)
    }

    /// Queues a frame's text for the next flush.
    async fn feed(&mut self, json: &Bytes) -> Result<(), Ending> {
        let text = Utf8Bytes::try_from(json.clone())
            .map_err(|_| Some((close::INTERNAL_ERROR, "server error")))?;
        within(self.write_timeout, self.socket.feed(Message::Text(text))).await
    }

    /// Feeds the messages a live event skipped past (they are in the store,
    /// since their seqs are smaller); returns how many. When the store
    /// cannot be read, the client's own gap check (`sync`) is the fallback.
    pub(super) async fn fill_gap(
        &mut self,
        conversation: ConversationId,
        after: u64,
        before: u64,
    ) -> Result<usize, Ending> {
        let delivery = self.state.engine.delivery().clone();
        let frames = match delivery.fill_gap(conversation, after, before).await {
            Ok(frames) => frames,
            Err(e) => {
                tracing::warn!(error = %e, %conversation, after, before, "could not fill a gap in a conversation");
                return Ok(0);
            }
        };
        for frame in &frames {
            let text = Message::Text(frame.to_json().into());
            within(self.write_timeout, self.socket.feed(text)).await?;
        }
        self.state
            .engine
            .metrics()
            .messages_delivered(frames.len() as u64);
        Ok(frames.len())
    }

    /// After the instance was cut off from the others: sends what the
    /// connection missed meanwhile, as a catch-up.
    async fn resync(&mut self) -> Result<(), Ending> {
        let delivery = self.state.engine.delivery().clone();
        match delivery.resync(&mut self.connection).await {
            Ok(catch_up) => {
                self.catch_up = catch_up;
                self.send_catch_up().await
            }
            Err(e) => {
                tracing::warn!(error = %e, "resync failed; closing so the client reconnects");
                Err(Some((
                    close::TRY_AGAIN_LATER,
                    "missed events; reconnect to catch up",
                )))
            }
        }
    }

    pub(super) async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), Ending> {
        let metrics = self.state.engine.metrics();
        match frame {
            ServerFrame::Offline { messages } => metrics.messages_delivered(messages.len() as u64),
            ServerFrame::Sync(result) => metrics.messages_delivered(result.messages.len() as u64),
            ServerFrame::Error(e) => metrics.error(&e.code),
            _ => {}
        }
        let text = Message::Text(frame.to_json().into());
        within(self.write_timeout, self.socket.send(text)).await
    }
}

/// The close for a socket error: an oversized frame gets 1009; anything
/// else means the peer is gone.
fn ending_for(error: &axum::Error) -> Ending {
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
