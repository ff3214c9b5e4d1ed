//! The WebSocket protocol: JSON text frames, each an object with a `type`.
//!
//! [`ClientFrame`] is what a client sends, [`ServerFrame`] what the server
//! sends; both are shared by the server and `chat-client`, so the two
//! cannot drift apart. `docs/protocol.md` describes every frame with an
//! example, the close codes ([`close`]) and the delivery guarantees.
//!
//! The frame types and fields of the original design are kept as they are;
//! additions (`client_msg_id`, `conversation_id`, `seq`, acks, receipts,
//! presence, `sync`, in-band `auth`) are new fields and new types, so a
//! client written against that design still works.

mod client;
mod decode;
mod server;

pub use client::ClientFrame;
pub use decode::{DecodeError, decode_client_frame};
pub use server::{
    DeliveryReceipt, ErrorFrame, MessageSent, OfflineMessage, PresenceEvent, ReadReceipt,
    ServerFrame, SyncResult, TypingEvent,
};

/// Largest text frame a client may send, in bytes; a larger one closes the
/// connection with [`close::MESSAGE_TOO_BIG`].
pub const MAX_CLIENT_FRAME_BYTES: usize = 64 * 1024;

/// Most messages in one `messages.offline` batch or one `messages.sync`
/// answer.
pub const MAX_BATCH: usize = 100;

/// Most message content, in bytes, in one `messages.offline` batch or one
/// `messages.sync` answer (a batch holds at least one message, whatever
/// its size). A hundred messages of 10,000 four-byte characters would
/// make a 4 MB frame, which a client that stops reading leaves in the
/// server's memory until its write timeout; fewer, smaller batches cost
/// nothing (a hundred typical messages are far below this).
pub const MAX_BATCH_BYTES: usize = 64 * 1024;

/// WebSocket close codes the server uses.
pub mod close {
    /// The client said goodbye, or the server closed an idle connection.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down; reconnect to another instance or later.
    pub const GOING_AWAY: u16 = 1001;
    /// A text frame was not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// The client broke the rules past the point of warnings (it kept
    /// sending far beyond its rate limit).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame was larger than [`MAX_CLIENT_FRAME_BYTES`](super::MAX_CLIENT_FRAME_BYTES).
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server failed; reconnect.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The client did not read its events fast enough (its queue
    /// overflowed, or one write waited past the write timeout); reconnect,
    /// and the catch-up delivers what it missed.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The access token expired without an in-band `auth`, or the session
    /// was revoked (logout, password reset, refresh token reuse).
    pub const AUTH_EXPIRED: u16 = 4001;
}
