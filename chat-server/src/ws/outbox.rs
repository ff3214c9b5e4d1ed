//! What a connection is sent unasked: the catch-up, live events in order
//! and exactly once, the gaps filled before them, and resyncs.
//!
//! The outbox owns the engine's [`Connection`] (its subscription and its
//! [`MessageOrder`](chat_core::MessageOrder)) and the events held while a
//! send is under way; the session hands it the socket to write to.

use std::collections::VecDeque;

use chat_core::protocol::{ServerFrame, close};
use chat_core::realtime::{Event, EventKind};
use chat_core::{Admission, CatchUp, ChatEngine, Connection, ConversationId, SessionId};

use super::sends::Unanswered;
use super::socket::{Ending, Socket, Transport};

/// Events written before one flush when several are ready.
const WRITE_BATCH: usize = 64;
/// Events held while a send is under way before the connection counts as
/// overflowed, as its queue would.
const HELD_MAX: usize = 1024;

/// A connection's events on their way to its socket.
pub(super) struct Outbox {
    connection: Connection,
    /// What the connection still has to be sent from the store.
    catch_up: CatchUp,
    /// Events that wait for the send under way (see `must_hold`).
    held: VecDeque<Event>,
    engine: ChatEngine,
}

impl Outbox {
    /// The outbox of a connection just opened, with its catch-up to send.
    pub(super) fn new(connection: Connection, catch_up: CatchUp, engine: ChatEngine) -> Self {
        Self {
            connection,
            catch_up,
            held: VecDeque::new(),
            engine,
        }
    }

    /// The engine's connection, for what frames read of it.
    pub(super) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The connection now belongs to `session` (after an `auth` frame):
    /// that session's revocation closes it.
    pub(super) fn set_session(&mut self, session: SessionId) {
        self.connection.session_id = session;
    }

    /// The connection, to unregister it once the session ends.
    pub(super) fn into_connection(self) -> Connection {
        self.connection
    }

    /// The next event for the connection; `None` when the engine dropped
    /// it for falling behind. Cancel-safe. (Not an `async fn`, for the
    /// same reason as [`Socket::recv`].)
    pub(super) fn next_event(&mut self) -> impl Future<Output = Option<Event>> + Send + '_ {
        self.connection.subscription.recv()
    }

    /// Sends what the device missed, in `messages.offline` batches.
    pub(super) async fn send_catch_up<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
    ) -> Result<(), Ending> {
        let delivery = self.engine.delivery().clone();
        loop {
            match delivery.next_offline_batch(&mut self.catch_up).await {
                Ok(Some(batch)) => {
                    let metrics = self.engine.metrics();
                    metrics.messages_delivered(batch.messages.len() as u64);
                    let frame = ServerFrame::Offline {
                        messages: batch.messages,
                        changes: batch.changes,
                    };
                    socket.send_frame(&frame).await?;
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "catch-up failed");
                    return Err(Some((close::INTERNAL_ERROR, "catch-up failed; reconnect")));
                }
            }
        }
    }

    /// Writes `first` and whatever other events are ready, then flushes.
    /// `unanswered`: where this connection's sends await their answer.
    pub(super) async fn write_events<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
        first: Event,
        unanswered: &Unanswered,
    ) -> Result<(), Ending> {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(event) = next.take() {
            written += self.take_event(socket, event, unanswered).await?;
            if written < WRITE_BATCH {
                next = self.connection.subscription.try_recv();
            }
        }
        socket.flush().await
    }

    /// Writes `event`, or holds it behind a send under way (or behind
    /// events already held); returns the frames queued.
    async fn take_event<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
        event: Event,
        unanswered: &Unanswered,
    ) -> Result<usize, Ending> {
        if self.held.is_empty() && !self.must_hold(&event, unanswered) {
            return self.write_event(socket, event).await;
        }
        if self.held.len() >= HELD_MAX {
            return Err(Some((
                close::TRY_AGAIN_LATER,
                "too slow to keep up; reconnect to catch up",
            )));
        }
        self.held.push_back(event);
        Ok(0)
    }

    /// Writes the held events that no longer wait for a send (after one
    /// was answered), oldest first, up to the first that still does.
    pub(super) async fn write_held<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
        unanswered: &Unanswered,
    ) -> Result<(), Ending> {
        let mut written = 0;
        while let Some(event) = self.held.front() {
            if self.must_hold(event, unanswered) {
                break;
            }
            let Some(event) = self.held.pop_front() else {
                break;
            };
            written += self.write_event(socket, event).await?;
        }
        if written > 0 {
            socket.flush().await?;
        }
        Ok(())
    }

    /// Counts this connection's own stored message as sent to it (it gets
    /// `message.sent`), so a gap fill never echoes it back. Messages of
    /// others below it that the connection has not had yet are fed first:
    /// those of this instance are already in its queue (a send is answered
    /// only after the earlier messages of its conversation are published),
    /// so they are written from there; only what is still missing then
    /// (messages of other instances on their way) is read from the store.
    pub(super) async fn admit_own<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
        conversation: ConversationId,
        seq: u64,
        unanswered: &Unanswered,
    ) -> Result<(), Ending> {
        let mut taken = 0;
        while self.held.is_empty()
            && taken < WRITE_BATCH
            && matches!(
                self.connection.order.peek(conversation, seq),
                Admission::FillGap { .. }
            )
        {
            let Some(event) = self.connection.subscription.try_recv() else {
                break;
            };
            self.take_event(socket, event, unanswered).await?;
            taken += 1;
        }
        if let Admission::FillGap { after, before } = self.connection.order.admit(conversation, seq)
        {
            self.fill_gap(socket, conversation, after, before).await?;
        }
        Ok(())
    }

    /// Closes the connection with 4001 when the store says its session
    /// was revoked; a store that cannot answer changes nothing.
    pub(super) async fn check_session(&self) -> Result<(), Ending> {
        let auth = self.engine.auth();
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

    /// Whether an event waits for a send's answer. A message with a seq
    /// past the next one would make the outbox fill the gap from the
    /// store, and in a conversation where this connection has a message
    /// queued or stored but unanswered, the gap may hold it, which the
    /// connection must get as `message.sent`, never as `message.new`. So
    /// it waits, and so does a resync while any send is unanswered (its
    /// catch-up could hold such a message too); events behind a held one
    /// wait too, to keep their order.
    fn must_hold(&self, event: &Event, unanswered: &Unanswered) -> bool {
        match event.kind() {
            EventKind::Frame(frame) => frame.message.is_some_and(|(c, seq)| {
                unanswered.in_conversation(c)
                    && matches!(
                        self.connection.order.peek(c, seq),
                        Admission::FillGap { .. }
                    )
            }),
            EventKind::Resync => unanswered.any(),
            EventKind::SessionRevoked(_) => false,
        }
    }

    /// Queues one event for the next flush; returns the frames queued.
    async fn write_event<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
        event: Event,
    ) -> Result<usize, Ending> {
        let mut written = 0;
        match event.kind() {
            EventKind::Frame(frame) if frame.origin == Some(self.connection.id) => {}
            EventKind::Frame(frame) => {
                let admission = frame
                    .message
                    .map(|(c, seq)| (c, self.connection.order.admit(c, seq)));
                if let Some((conversation, Admission::FillGap { after, before })) = admission {
                    written += self.fill_gap(socket, conversation, after, before).await?;
                }
                if !matches!(admission, Some((_, Admission::Skip))) {
                    socket.feed_json(&frame.json).await?;
                    written += 1;
                    if frame.message.is_some() {
                        self.engine.metrics().messages_delivered(1);
                    }
                }
            }
            EventKind::SessionRevoked(session) if *session == self.connection.session_id => {
                socket.flush().await?;
                return Err(Some((close::AUTH_EXPIRED, "session revoked")));
            }
            EventKind::SessionRevoked(_) => {}
            EventKind::Resync => {
                socket.flush().await?;
                // A logout elsewhere while this instance was cut off was
                // never announced here.
                self.check_session().await?;
                self.resync(socket).await?;
            }
        }
        Ok(written)
    }

    /// Feeds the messages a live event skipped past (they are in the store,
    /// since their seqs are smaller); returns how many. When the store
    /// cannot be read, the client's own gap check (`sync`) is the fallback.
    async fn fill_gap<S: Transport>(
        &mut self,
        socket: &mut Socket<S>,
        conversation: ConversationId,
        after: u64,
        before: u64,
    ) -> Result<usize, Ending> {
        let delivery = self.engine.delivery();
        let reader = self.connection.user_id;
        let frames = match delivery.fill_gap(reader, conversation, after, before).await {
            Ok(frames) => frames,
            Err(e) => {
                tracing::warn!(error = %e, %conversation, after, before, "could not fill a gap in a conversation");
                return Ok(0);
            }
        };
        for frame in &frames {
            socket.feed_frame(frame).await?;
        }
        self.engine
            .metrics()
            .messages_delivered(frames.len() as u64);
        Ok(frames.len())
    }

    /// After the instance was cut off from the others: sends what the
    /// connection missed meanwhile, as a catch-up.
    async fn resync<S: Transport>(&mut self, socket: &mut Socket<S>) -> Result<(), Ending> {
        let delivery = self.engine.delivery().clone();
        match delivery.resync(&mut self.connection).await {
            Ok(catch_up) => {
                self.catch_up = catch_up;
                self.send_catch_up(socket).await
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
}
