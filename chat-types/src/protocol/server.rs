//! Frames the server sends.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{ConversationKind, MessageChange, MessageView};
use crate::time::Timestamp;

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerFrame {
    /// A new direct message, to both members' connections (the original
    /// design's fields plus `conversation_id`, `seq`, `recipient_id`).
    #[serde(rename = "message.new")]
    MessageNew(MessageView),
    /// A new group message, to every member's connections.
    #[serde(rename = "message.group.new")]
    GroupMessageNew(MessageView),
    /// A message was edited, deleted or reacted to: an entry of the
    /// conversation's log, to every member's connections (the actor's
    /// included: it is their confirmation), in seq order with messages.
    #[serde(rename = "message.changed")]
    MessageChanged(MessageChange),
    /// The sender's own connection: the message is stored.
    #[serde(rename = "message.sent")]
    MessageSent(MessageSent),
    /// What the device missed while it was away, oldest first, at most
    /// 100 log entries per frame: messages, and changes to messages. A
    /// client applies the messages, then the changes, in seq order.
    #[serde(rename = "messages.offline")]
    Offline {
        /// The messages.
        messages: Vec<OfflineMessage>,
        /// The changes (edits, deletions, reactions) among the entries.
        #[serde(default)]
        changes: Vec<MessageChange>,
    },
    /// The answer to `sync`.
    #[serde(rename = "messages.sync")]
    Sync(SyncResult),
    /// A member's devices have messages up to `seq`.
    #[serde(rename = "message.delivered")]
    Delivered(DeliveryReceipt),
    /// A member has read up to `seq`.
    #[serde(rename = "message.read")]
    Read(ReadReceipt),
    /// Someone in a conversation started or stopped typing.
    #[serde(rename = "typing")]
    Typing(TypingEvent),
    /// A direct-conversation peer came online or went offline.
    #[serde(rename = "presence")]
    Presence(PresenceEvent),
    /// An in-band `auth` was accepted.
    #[serde(rename = "auth.ok")]
    AuthOk {
        /// When the new token expires.
        expires_at: Timestamp,
    },
    /// The answer to `ping`.
    #[serde(rename = "pong")]
    Pong,
    /// A frame could not be handled; the connection stays open.
    #[serde(rename = "error")]
    Error(ErrorFrame),
}

/// `message.sent`: the sender's message is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSent {
    /// The key the client gave, if any.
    pub client_msg_id: Option<String>,
    /// The message id.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its seq.
    pub seq: u64,
    /// Server time of acceptance.
    pub created_at: Timestamp,
    /// The stored text, only when it may not be the text the frame
    /// carried: the server's moderation hook rewrote it, or the
    /// `client_msg_id` was used before and this is the first message's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// One message of a `messages.offline` batch: a `type`
/// (`direct` or `group`) plus the message as `message.new` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineMessage {
    /// `direct` or `group`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// The message.
    #[serde(flatten)]
    pub message: MessageView,
}

/// `messages.sync`: messages of a conversation after a seq, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResult {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The messages.
    pub messages: Vec<MessageView>,
    /// The changes to messages among the entries, in seq order.
    #[serde(default)]
    pub changes: Vec<MessageChange>,
    /// True when more entries follow the last one returned.
    pub has_more: bool,
}

/// `message.delivered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    /// The newest message delivered.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// The member whose devices have it.
    pub user_id: UserId,
    /// Everything up to this seq is delivered to them.
    pub seq: u64,
    /// When.
    pub delivered_at: Timestamp,
}

/// `message.read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipt {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The reader.
    pub user_id: UserId,
    /// Everything up to this seq is read.
    pub seq: u64,
    /// The message at `seq`.
    pub message_id: MessageId,
    /// When.
    pub read_at: Timestamp,
}

/// `typing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingEvent {
    /// Who is typing.
    pub user_id: UserId,
    /// Where.
    pub conversation_id: ConversationId,
    /// True while typing.
    pub is_typing: bool,
}

/// `presence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEvent {
    /// The user.
    pub user_id: UserId,
    /// True when they have a live connection.
    pub online: bool,
    /// When their last connection closed (`null` while online).
    pub last_seen: Option<Timestamp>,
}

/// `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Stable machine code (`INVALID_MESSAGE`, `RATE_LIMITED`, ...).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The `client_msg_id` of the frame that failed, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// The field at fault, for an error about one field
    /// ([`ChatError::field`](crate::error::ChatError::field)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `RATE_LIMITED`: seconds until a retry can succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The `request_id` of the frame this answers (`message.edit`,
    /// `message.delete`, `reaction.add`, `reaction.remove`), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ServerFrame {
    /// The JSON text of the frame.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string
        // and no field has a fallible `Serialize`.
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot serialize a server frame");
            r#"{"type":"error","code":"INTERNAL","message":"internal error"}"#.to_owned()
        })
    }
}

impl From<super::DecodeError> for ErrorFrame {
    fn from(e: super::DecodeError) -> Self {
        Self {
            code: e.code.to_owned(),
            message: e.message,
            client_msg_id: e.client_msg_id,
            field: None,
            retry_after: None,
            request_id: None,
        }
    }
}

impl ErrorFrame {
    /// The error frame for an engine error, echoing the failed frame's
    /// `client_msg_id`. Internal causes are never included.
    pub fn from_error(error: &crate::error::ChatError, client_msg_id: Option<String>) -> Self {
        use crate::error::ChatError;
        let retry_after = match error {
            ChatError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        Self {
            code: error.code().to_owned(),
            message: error.to_string(),
            client_msg_id,
            field: error.field().map(str::to_owned),
            retry_after,
            request_id: None,
        }
    }

    /// The error frame for an engine error answering a frame with a
    /// `request_id`.
    pub fn for_request(error: &crate::error::ChatError, request_id: Option<String>) -> Self {
        Self {
            request_id,
            ..Self::from_error(error, None)
        }
    }
}
