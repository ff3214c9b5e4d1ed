//! One WebSocket connection, from upgrade to close.
//!
//! The session owns the connection's state and is the only one to change
//! it: frame handlers (`frames`) return an [`Outcome`] that it applies,
//! the outbox writes events, and the socket bounds every write.

use axum::extract::ws::Message;
use chat_core::Timestamp;
use chat_core::auth::AuthContext;
use chat_core::protocol::{DecodeError, ErrorFrame, ServerFrame, close, decode_client_frame};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::acks::Acks;
use super::frames::{self, Caller, FrameState, Outcome};
use super::outbox::Outbox;
use super::sends::{Finished, Sends};
use super::socket::{Ending, Socket, Transport, ending_for};
use crate::limits::Seat;
use crate::state::AppState;

/// Ack error frames held for the session before more are dropped.
const ACK_ERRORS: usize = 16;

/// The state of one connection.
struct Session<S> {
    socket: Socket<S>,
    state: AppState,
    /// The connection's events and the order they are written in.
    outbox: Outbox,
    /// Budgets, the flood count and the ack worker of frame handling.
    frames: FrameState,
    /// The send under way and those waiting their turn.
    sends: Sends,
    /// When the connection's access token expires.
    expires_at: Timestamp,
    /// Error frames from the ack worker.
    ack_errors: mpsc::Receiver<Box<ErrorFrame>>,
    last_heard: Instant,
    /// This socket's place among its user's (freed when the session ends).
    _seat: Seat,
}

/// Runs a connection over `socket` until it closes, then unregisters it.
pub(super) async fn run<S: Transport>(socket: S, state: AppState, auth: AuthContext, seat: Seat) {
    let ws = &state.http.ws;
    let mut socket = Socket::new(socket, ws.write_timeout);
    let delivery = state.engine.delivery();
    let (connection, catch_up) = match Box::pin(delivery.connect(auth.user_id, auth.session_id))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, instance_id = %state.instance.id, user_id = %auth.user_id, "cannot open a connection");
            socket
                .close(Some((close::INTERNAL_ERROR, "server error; reconnect")))
                .await;
            return;
        }
    };
    tracing::debug!(instance_id = %state.instance.id, user_id = %auth.user_id, connection_id = %connection.id, "websocket connected");
    state.engine.metrics().connection_opened();
    let (errors, ack_errors) = mpsc::channel(ACK_ERRORS);
    let frames = FrameState::new(ws, Acks::new(auth.user_id, errors));
    let mut session = Session {
        socket,
        outbox: Outbox::new(connection, catch_up, state.engine.clone()),
        state,
        frames,
        sends: Sends::default(),
        expires_at: auth.expires_at,
        ack_errors,
        last_heard: Instant::now(),
        _seat: seat,
    };
    let ending = session.serve().await;
    // A revoked or expired session's sends are not stored; any other
    // ending stores what the client sent before it.
    if !matches!(ending, Some((close::AUTH_EXPIRED, _))) {
        session.sends.finish().await;
    }
    session.socket.close(ending).await;
    let connection = session.outbox.into_connection();
    tracing::debug!(
        instance_id = %session.state.instance.id,
        user_id = %connection.user_id,
        connection_id = %connection.id,
        close_code = ending.map(|e| e.0),
        "websocket closed"
    );
    session.state.engine.metrics().connection_closed();
    let delivery = session.state.engine.delivery().clone();
    Box::pin(delivery.disconnect(connection)).await;
}

impl<S: Transport> Session<S> {
    /// The connection's loop. Its future lives as long as the connection,
    /// so everything that runs only now and then (handling a frame,
    /// writing events, the catch-up, the ping tick) is boxed: an idle
    /// connection then holds only the futures it waits on, not the
    /// largest one it might ever run.
    async fn serve(&mut self) -> Ending {
        if let Err(ending) = Box::pin(self.outbox.send_catch_up(&mut self.socket)).await {
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
                incoming = self.socket.recv(), if self.sends.has_room() => {
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
                finished = self.sends.finished(), if self.sends.is_busy() => {
                    if let Err(ending) = Box::pin(self.on_sent(finished)).await {
                        return ending;
                    }
                }
                event = self.outbox.next_event() => {
                    let Some(event) = event else {
                        return Some((close::TRY_AGAIN_LATER, "too slow to keep up; reconnect to catch up"));
                    };
                    let unanswered = self.sends.unanswered();
                    let write = self.outbox.write_events(&mut self.socket, event, unanswered);
                    if let Err(ending) = Box::pin(write).await {
                        return ending;
                    }
                }
                Some(error) = self.ack_errors.recv() => {
                    if let Err(ending) = Box::pin(self.reply(&ServerFrame::Error(*error))).await {
                        return ending;
                    }
                }
                _ = ping.tick() => {
                    if let Err(ending) = Box::pin(self.on_ping_tick()).await {
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

    /// The heartbeat: token expiry by the engine's clock, a client gone
    /// silent, the ping itself, presence, and (while cut off from the
    /// other instances) the session's liveness in the store.
    async fn on_ping_tick(&mut self) -> Result<(), Ending> {
        // The expiry timer covers expiry in wall time; this check follows
        // the engine's clock, which tests move.
        if self.state.engine.clock().now() >= self.expires_at {
            return Err(Some((close::AUTH_EXPIRED, "access token expired")));
        }
        if self.last_heard.elapsed() >= self.state.http.ws.ping_interval * 2 {
            return Err(Some((close::NORMAL, "no heartbeat")));
        }
        self.socket.ping().await?;
        let delivery = self.state.engine.delivery();
        if let Err(e) = delivery.heartbeat(self.outbox.connection()).await {
            tracing::warn!(error = %e, "could not refresh presence");
        }
        // Cut off from the other instances, this one hears no logout of
        // theirs: ask the store now and then.
        if self.state.engine.auth().is_cut_off() {
            self.outbox.check_session().await?;
        }
        Ok(())
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
                return self.reply(&ServerFrame::Error(e.into())).await;
            }
            Message::Close(_) => return Err(None),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        let frame = match decode_client_frame(&text) {
            Ok(f) => f,
            Err(e) => return self.reply(&ServerFrame::Error(e.into())).await,
        };
        let caller = Caller {
            engine: &self.state.engine,
            connection: self.outbox.connection(),
            expires_at: self.expires_at,
        };
        let outcome = frames::handle(frame, caller, &mut self.frames).await;
        self.apply(outcome).await
    }

    /// Answers a send that ended, then writes the events held for it.
    async fn on_sent(&mut self, finished: Finished) -> Result<(), Ending> {
        let Finished {
            result,
            client_msg_id,
            conversation,
        } = finished;
        let outcome = frames::sent(result, client_msg_id, &mut self.frames);
        self.apply(outcome).await?;
        // Answered (and, when stored, counted as sent to this connection):
        // messages after it no longer wait for it.
        if let Some(conversation) = conversation {
            self.sends.unanswered().leave(conversation);
        }
        self.outbox
            .write_held(&mut self.socket, self.sends.unanswered())
            .await
    }

    /// Writes an answer, counting the messages and errors it carries.
    async fn reply(&mut self, frame: &ServerFrame) -> Result<(), Ending> {
        let metrics = self.state.engine.metrics();
        match frame {
            ServerFrame::Sync(result) => metrics.messages_delivered(result.messages.len() as u64),
            ServerFrame::Error(e) => metrics.error(&e.code),
            _ => {}
        }
        self.socket.send_frame(frame).await
    }

    /// Does what a frame handler decided.
    async fn apply(&mut self, outcome: Outcome) -> Result<(), Ending> {
        match outcome {
            Outcome::Reply(frame) => self.reply(&frame).await,
            Outcome::Nothing => Ok(()),
            Outcome::Close(code, reason) => Err(Some((code, reason))),
            Outcome::Sending(pending) => {
                self.sends.push(pending);
                Ok(())
            }
            Outcome::Sent(sent) => {
                let (conversation, seq) = (sent.conversation_id, sent.seq);
                let unanswered = self.sends.unanswered();
                self.outbox
                    .admit_own(&mut self.socket, conversation, seq, unanswered)
                    .await?;
                self.reply(&ServerFrame::MessageSent(sent)).await
            }
            Outcome::Reauthenticated(ctx) => {
                self.expires_at = ctx.expires_at;
                self.outbox.set_session(ctx.session_id);
                let expires_at = ctx.expires_at;
                self.reply(&ServerFrame::AuthOk { expires_at }).await
            }
        }
    }
}
