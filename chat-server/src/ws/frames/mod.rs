//! What each client frame does, one file per family of frames.
//!
//! A handler takes what it needs explicitly: the engine and the
//! connection's facts ([`Caller`], read-only) and the state that frame
//! handling owns ([`FrameState`]: budgets, the flood count, the ack
//! worker). It never writes to the socket or to the session: it returns
//! an [`Outcome`], and the session applies it (answers, closes, starts a
//! send, fills a gap before `message.sent`, takes a fresh token).
//!
//! - `send`: `message.send`, `message.group.send`, and the answer to a
//!   send that ended.
//! - `changes`: `message.edit`, `message.delete`, `reaction.add`,
//!   `reaction.remove`.
//! - `receipts`: `message.read`, `messages.ack`.
//! - `typing`: `typing`.
//! - `sync`: `sync`.
//! - `auth`: `auth`, `ping`.

mod auth;
mod changes;
mod receipts;
mod send;
mod sync;
mod typing;

pub(super) use send::sent;

use chat_core::auth::AuthContext;
use chat_core::protocol::{ClientFrame, ErrorFrame, MessageSent, ServerFrame};
use chat_core::{ChatEngine, ChatError, Connection, ConversationRef, Timestamp, ValidationError};

use super::acks::Acks;
use super::sends::PendingSend;
use crate::limits::Bucket;
use crate::state::WsSettings;

/// What the session does after a frame.
pub(super) enum Outcome {
    /// Answer the client.
    Reply(Box<ServerFrame>),
    /// Nothing to say.
    Nothing,
    /// Close the connection.
    Close(u16, &'static str),
    /// A send to run in its turn; [`sent`] answers it when it ends.
    Sending(PendingSend),
    /// A send was stored: count the message as this connection's own
    /// (filling the gap of others' messages before it), then answer.
    Sent(MessageSent),
    /// The token of an `auth` frame was accepted: the connection now
    /// belongs to its session and lives until it expires. Answer
    /// `auth.ok`.
    Reauthenticated(AuthContext),
}

/// What a handler may read of the connection that sent the frame.
#[derive(Clone, Copy)]
pub(super) struct Caller<'a> {
    /// The engine, for the services a frame calls.
    pub(super) engine: &'a ChatEngine,
    /// Who sent the frame: user, connection and session ids.
    pub(super) connection: &'a Connection,
    /// When the connection's access token expires.
    pub(super) expires_at: Timestamp,
}

/// The state frame handling keeps per connection.
pub(super) struct FrameState {
    /// `sync` frames this connection may still send.
    sync_budget: Bucket,
    /// `typing` frames this connection may still send.
    typing_budget: Bucket,
    /// Sends refused by the rate limit since the last accepted one.
    refused_in_a_row: u32,
    /// Refused sends in a row answered before the connection is closed.
    flood_limit: u32,
    /// Acknowledgements, written by a worker beside the session.
    acks: Acks,
}

impl FrameState {
    /// Full budgets, as `settings` give them, and the connection's ack
    /// worker.
    pub(super) fn new(settings: &WsSettings, acks: Acks) -> Self {
        Self {
            sync_budget: Bucket::new(settings.sync_rate),
            typing_budget: Bucket::new(settings.typing_rate),
            refused_in_a_row: 0,
            flood_limit: settings.flood_limit,
            acks,
        }
    }
}

/// Handles one decoded frame.
pub(super) async fn handle(
    frame: ClientFrame,
    caller: Caller<'_>,
    state: &mut FrameState,
) -> Outcome {
    match frame {
        ClientFrame::Send {
            recipient_id,
            content,
            message_type,
            client_msg_id,
            reply_to,
            attachments,
        } => {
            let target = ConversationRef::Direct(recipient_id);
            let fields = send::SendFields {
                content: &content,
                message_type,
                client_msg_id,
                reply_to,
                attachments,
            };
            send::send(caller, target, fields)
        }
        ClientFrame::GroupSend {
            group_id,
            content,
            message_type,
            client_msg_id,
            reply_to,
            attachments,
        } => {
            let target = ConversationRef::Group(group_id);
            let fields = send::SendFields {
                content: &content,
                message_type,
                client_msg_id,
                reply_to,
                attachments,
            };
            send::send(caller, target, fields)
        }
        ClientFrame::Edit {
            message_id,
            content,
            request_id,
        } => {
            changes::change(
                caller,
                message_id,
                changes::Change::Edit(content),
                request_id,
            )
            .await
        }
        ClientFrame::Delete {
            message_id,
            request_id,
        } => changes::change(caller, message_id, changes::Change::Delete, request_id).await,
        ClientFrame::ReactionAdd {
            message_id,
            emoji,
            request_id,
        } => {
            let change = changes::Change::React(emoji, true);
            changes::change(caller, message_id, change, request_id).await
        }
        ClientFrame::ReactionRemove {
            message_id,
            emoji,
            request_id,
        } => {
            let change = changes::Change::React(emoji, false);
            changes::change(caller, message_id, change, request_id).await
        }
        ClientFrame::Read {
            message_id,
            conversation_id,
        } => receipts::read(caller, message_id, conversation_id).await,
        ClientFrame::Ack {
            message_ids,
            conversation_id,
            seq,
        } => receipts::ack(caller, state, message_ids, conversation_id, seq),
        ClientFrame::Typing {
            recipient_id,
            group_id,
            conversation_id,
            is_typing,
        } => {
            let (peer, group, conversation) = (recipient_id, group_id, conversation_id);
            typing::typing(caller, state, peer, group, conversation, is_typing).await
        }
        ClientFrame::Sync {
            conversation_id,
            after_seq,
            limit,
        } => sync::sync(caller, state, conversation_id, after_seq, limit).await,
        ClientFrame::Auth { token } => auth::auth(caller, &token),
        ClientFrame::Ping => auth::ping(),
    }
}

/// The error frame for `e`; failures of the server are logged.
fn error(e: &ChatError, client_msg_id: Option<String>) -> Outcome {
    if matches!(e, ChatError::StoreUnavailable(_) | ChatError::Internal(_)) {
        tracing::error!(error = %e, source = ?std::error::Error::source(e), "websocket request failed");
    }
    Outcome::Reply(Box::new(ServerFrame::Error(ErrorFrame::from_error(
        e,
        client_msg_id,
    ))))
}

/// `RATE_LIMITED` for a frame past its connection's budget.
fn over_budget(retry_after: std::time::Duration) -> Outcome {
    error(&ChatError::RateLimited { retry_after }, None)
}

/// `INVALID_MESSAGE` for a frame whose fields do not go together.
fn invalid(field: &'static str, message: &str) -> ChatError {
    ValidationError::new(field, "INVALID_MESSAGE", message).into()
}
