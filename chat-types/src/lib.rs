//! The chat engine's shared vocabulary.
//!
//! What the engine, its transports and its clients all speak: typed ids,
//! timestamps, the one error type with its stable machine codes,
//! validated values, the records services and stores pass around, and the
//! WebSocket frames. It depends on no runtime, database, web framework or
//! cryptography crate, so a client (`chat-client`) can use the wire types
//! without pulling in the engine. `chat-core` re-exports every module
//! here under the same path (`chat_core::protocol` is
//! `chat_types::protocol`).
//!
//! # Layout
//!
//! - [`ids`], [`time`]: typed ids (UUIDv7) and millisecond timestamps with
//!   an injectable [`Clock`].
//! - [`domain`]: validated value types ([`Username`], [`Email`],
//!   [`Password`], [`DisplayName`], message content), parsed once at the
//!   edge, and the control-character checks every text passes.
//! - [`error`]: [`ChatError`] with stable machine codes, and
//!   [`ValidationError`].
//! - [`model`]: plain records passed between services and stores, and the
//!   views of messages clients receive.
//! - [`protocol`]: the WebSocket frames (docs/protocol.md).
//! - `openapi` (feature `openapi`): `utoipa` schemas of the ids and
//!   [`Timestamp`], whose serde forms are custom.

pub mod domain;
pub mod error;
pub mod ids;
pub mod model;
#[cfg(feature = "openapi")]
mod openapi;
pub mod protocol;
pub mod time;

pub use domain::{
    ClientMsgId, DisplayName, Email, GroupName, MessageContent, MessageType, Password, Username,
};
pub use error::{ChatError, Result, ValidationError};
pub use ids::{ConnectionId, ConversationId, MessageId, SessionId, UserId};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
