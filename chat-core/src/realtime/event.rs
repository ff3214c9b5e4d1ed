//! What the [`EventBus`](super::EventBus) carries.

use std::sync::Arc;

use bytes::Bytes;

use crate::ids::{ConnectionId, ConversationId, SessionId};

/// An event for the live connections of one or more users. Cheap to clone:
/// the payload is shared, so a frame is serialized once whatever the number
/// of recipients.
#[derive(Debug, Clone)]
pub struct Event(Arc<EventKind>);

/// The kinds of [`Event`].
#[derive(Debug)]
pub enum EventKind {
    /// A server frame to write to the socket as is.
    Frame(Frame),
    /// The session was revoked (logout, password reset, refresh token
    /// reuse): its connections close at once with code 4001.
    SessionRevoked(SessionId),
    /// The instance was cut off from the others and events may have been
    /// lost on the way: the connection checks its conversations for gaps
    /// and fills them from the store.
    Resync,
}

/// A serialized server frame and what the connection needs to know about
/// it without parsing it.
#[derive(Debug)]
pub struct Frame {
    /// The JSON text of the frame.
    pub json: Bytes,
    /// How it is treated under backpressure.
    pub class: FrameClass,
    /// For a message frame, its conversation and seq, so a connection can
    /// skip what its catch-up already sent.
    pub message: Option<(ConversationId, u64)>,
    /// The connection whose action caused the frame; it is not sent back
    /// there (the sender's own device gets `message.sent` instead).
    pub origin: Option<ConnectionId>,
}

/// How a frame is treated when a connection's outgoing queue fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    /// Messages: never dropped; a connection that cannot take one is
    /// closed and catches up from its cursor when it reconnects.
    Durable,
    /// Typing, presence and receipts: dropped first when the queue is half
    /// full. Each is superseded by the next of its kind, and the store
    /// keeps the current state (cursors, `delivered_at`, `read_at`).
    Ephemeral,
}

impl Event {
    /// A frame event.
    pub fn frame(frame: Frame) -> Self {
        Self(Arc::new(EventKind::Frame(frame)))
    }

    /// A session revocation.
    pub fn session_revoked(session: SessionId) -> Self {
        Self(Arc::new(EventKind::SessionRevoked(session)))
    }

    /// A resync after the instance was cut off from the others.
    pub fn resync() -> Self {
        Self(Arc::new(EventKind::Resync))
    }

    /// What the event is.
    pub fn kind(&self) -> &EventKind {
        &self.0
    }

    /// True for events dropped first under backpressure.
    pub fn is_ephemeral(&self) -> bool {
        matches!(&*self.0, EventKind::Frame(f) if f.class == FrameClass::Ephemeral)
    }
}
