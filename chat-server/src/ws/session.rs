//! One WebSocket connection, from upgrade to close.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use std::collections::VecDeque;

use bytes::Bytes;
use chat_core::auth::AuthContext;
use chat_core::protocol::{DecodeError, ErrorFrame, ServerFrame, close, decode_client_frame};
use chat_core::realtime::{Event, EventKind};
use chat_core::{Admission, CatchUp, Connection, ConversationId, Timestamp};
use futures::SinkExt as _;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::acks::Acks;
use super::dispatch::{self, Outcome, PendingSend};
use crate::state::AppState;

/// Events written before one flush when several are ready.
const WRITE_BATCH: usize = 64;
/// Ack error frames held for the session before more are dropped.
const ACK_ERRORS: usize = 16;
/// Events held while a send is under way before the connection counts as
/// overflowed, as its queue would.
const HELD_MAX: usize = 1024;

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
    /// Events that wait for it (see `must_hold`).
    held: VecDeque<Event>,
    last_heard: Instant,
}

/// Runs a connection until it closes, then unregisters it.
pub(super) async fn run(socket: WebSocket, state: AppState, auth: AuthContext) {
    let delivery = state.engine.delivery();
    let (connection, catch_up) = match Box::pin(delivery.connect(auth.user_id, auth.session_id))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, instance_id = %state.instance.id, user_id = %auth.user_id, "cannot open a connection");
            let mut socket = socket;
            let _ = socket
                .send(close_message(
                    close::INTERNAL_ERROR,
                    "server error; reconnect",
                ))
                .await;
            return;
        }
    };
    tracing::debug!(instance_id = %state.instance.id, user_id = %auth.user_id, connection_id = %connection.id, "websocket connected");
    state.engine.metrics().connection_opened();
    let (errors, ack_errors) = mpsc::channel(ACK_ERRORS);
    let acks = Acks::new(auth.user_id, errors);
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
        held: VecDeque::new(),
        last_heard: Instant::now(),
    };
    let ending = session.serve().await;
    match ending {
        Some((code, reason)) => {
            let _ = session.socket.send(close_message(code, reason)).await;
        }
        // The peer closed (or vanished): flush the close reply tungstenite
        // queued, so a client that said goodbye sees a clean handshake.
        None => {
            let _ = session.socket.flush().await;
        }
    }
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
                // One frame at a time: the next is read once a send ends.
                incoming = self.socket.recv(), if self.sending.is_none() => {
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
                    if Box::pin(self.socket.send(Message::Ping(Default::default()))).await.is_err() {
                        return None;
                    }
                    if let Err(e) = Box::pin(self.state.engine.delivery().heartbeat(&self.connection)).await {
                        tracing::warn!(error = %e, "could not refresh presence");
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
                self.sending = Some(pending);
                Ok(())
            }
        }
    }

    /// Answers a send that ended, then writes the events held meanwhile.
    async fn on_sent(
        &mut self,
        result: chat_core::Result<chat_core::conversations::SentMessage>,
        client_msg_id: Option<String>,
    ) -> Result<(), Ending> {
        match dispatch::sent(self, result, client_msg_id).await {
            Outcome::Reply(frame) => self.send_frame(&frame).await?,
            Outcome::Close(code, reason) => return Err(Some((code, reason))),
            Outcome::Nothing | Outcome::Sending(_) => {}
        }
        let mut written = 0;
        while let Some(event) = self.held.pop_front() {
            written += self.write_event(event).await?;
        }
        if written > 0 {
            self.socket.flush().await.map_err(|_| None)?;
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
        self.socket.flush().await.map_err(|_| None)
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
                let _ = self.socket.flush().await;
                return Err(Some((close::AUTH_EXPIRED, "session revoked")));
            }
            EventKind::SessionRevoked(_) => {}
            EventKind::Resync => {
                self.socket.flush().await.map_err(|_| None)?;
                self.resync().await?;
            }
        }
        Ok(written)
    }

    /// Queues a frame's text for the next flush.
    async fn feed(&mut self, json: &Bytes) -> Result<(), Ending> {
        let text = Utf8Bytes::try_from(json.clone())
            .map_err(|_| Some((close::INTERNAL_ERROR, "server error")))?;
        self.socket
            .feed(Message::Text(text))
            .await
            .map_err(|_| None)
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
            self.socket
                .feed(Message::Text(frame.to_json().into()))
                .await
                .map_err(|_| None)?;
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
        self.socket
            .send(Message::Text(frame.to_json().into()))
            .await
            .map_err(|_| None)
    }
}

/// The close for a socket error: an oversized frame gets 1009; anything
/// else means the peer is gone.
fn ending_for(error: &axum::Error) -> Ending {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match std::error::Error::source(error).and_then(|e| e.downcast_ref::<WsError>()) {
        Some(WsError::Capacity(_)) => Some((close::MESSAGE_TOO_BIG, "frame larger than 64 KiB")),
        _ => {
            tracing::debug!(error = %error, "websocket read failed");
            None
        }
    }
}
