//! Frames a client sends.

use serde::{Deserialize, Serialize};

use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};

/// A frame from a client. Text fields are validated by the service, not
/// here, so a bad value gets the same error code as over REST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ClientFrame {
    /// Sends a direct message.
    #[serde(rename = "message.send")]
    Send {
        /// The other user.
        recipient_id: UserId,
        /// Text; may be left out (or blank) when there are attachments.
        #[serde(default)]
        content: String,
        /// Type (default `text`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_type: Option<String>,
        /// Idempotency key: a resend with the same key returns the original.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        /// The message of the conversation this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
        /// The sender's uploads it sends, in order (at most 10).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentId>,
    },
    /// Sends a group message.
    #[serde(rename = "message.group.send")]
    GroupSend {
        /// The group.
        group_id: ConversationId,
        /// Text; may be left out (or blank) when there are attachments.
        #[serde(default)]
        content: String,
        /// Type (default `text`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_type: Option<String>,
        /// Idempotency key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        /// The message of the group this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<MessageId>,
        /// The sender's uploads it sends, in order (at most 10).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentId>,
    },
    /// Replaces the content of one's own message.
    #[serde(rename = "message.edit")]
    Edit {
        /// The message.
        message_id: MessageId,
        /// The new text.
        content: String,
        /// Echoed in an `error` frame answering this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Deletes one's own message (or, for a group's owner and admins, any
    /// message of the group).
    #[serde(rename = "message.delete")]
    Delete {
        /// The message.
        message_id: MessageId,
        /// Echoed in an `error` frame answering this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Reacts to a message with an emoji.
    #[serde(rename = "reaction.add")]
    ReactionAdd {
        /// The message.
        message_id: MessageId,
        /// One emoji, or its short name (`:+1:`).
        emoji: String,
        /// Echoed in an `error` frame answering this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Takes one's reaction back.
    #[serde(rename = "reaction.remove")]
    ReactionRemove {
        /// The message.
        message_id: MessageId,
        /// The emoji.
        emoji: String,
        /// Echoed in an `error` frame answering this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Moves the read cursor to a message, or with
    /// `conversation_id` alone to the newest message.
    #[serde(rename = "message.read")]
    Read {
        /// The newest message read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<MessageId>,
        /// The conversation, when no `message_id` is given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<ConversationId>,
    },
    /// The device has these messages: moves the delivery cursor. Either
    /// `message_ids`, or `conversation_id` with `seq` (everything up to it).
    #[serde(rename = "messages.ack")]
    Ack {
        /// Messages received.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_ids: Option<Vec<MessageId>>,
        /// A conversation ...
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<ConversationId>,
        /// ... and the seq up to which the device has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Typing indicator: exactly one of `recipient_id`, `group_id`,
    /// `conversation_id`. Never stored.
    #[serde(rename = "typing")]
    Typing {
        /// The other user of a direct conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient_id: Option<UserId>,
        /// A group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_id: Option<ConversationId>,
        /// Any conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<ConversationId>,
        /// True while typing.
        is_typing: bool,
    },
    /// Asks for the messages of a conversation after `after_seq`.
    #[serde(rename = "sync")]
    Sync {
        /// The conversation.
        conversation_id: ConversationId,
        /// The last seq the device has.
        after_seq: u64,
        /// Most messages to return (default and maximum 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Presents a fresh access token of the same user, extending the
    /// connection's life past the old token's expiry.
    #[serde(rename = "auth")]
    Auth {
        /// The access token.
        token: String,
    },
    /// Heartbeat; answered with `pong`.
    #[serde(rename = "ping")]
    Ping,
}

impl ClientFrame {
    /// The frame's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Send { .. } => "message.send",
            Self::GroupSend { .. } => "message.group.send",
            Self::Edit { .. } => "message.edit",
            Self::Delete { .. } => "message.delete",
            Self::ReactionAdd { .. } => "reaction.add",
            Self::ReactionRemove { .. } => "reaction.remove",
            Self::Read { .. } => "message.read",
            Self::Ack { .. } => "messages.ack",
            Self::Typing { .. } => "typing",
            Self::Sync { .. } => "sync",
            Self::Auth { .. } => "auth",
            Self::Ping => "ping",
        }
    }

    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "message.send",
        "message.group.send",
        "message.edit",
        "message.delete",
        "reaction.add",
        "reaction.remove",
        "message.read",
        "messages.ack",
        "typing",
        "sync",
        "auth",
        "ping",
    ];
}
