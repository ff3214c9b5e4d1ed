use serde::{Deserialize, Serialize};

use crate::domain::{ClientMsgId, MessageContent, MessageType};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{ConversationKind, Member, MessageAttachment, ReactionCount, ReplyQuote};
use crate::time::Timestamp;

/// A stored message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Message id (UUIDv7).
    #[serde(rename = "message_id")]
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Position in the conversation's log. Messages and changes to them
    /// (edits, deletions, reactions) share one gap-free sequence, so a
    /// message's seq is greater than every earlier entry's; history, unread
    /// counts and live delivery all order by it.
    pub seq: u64,
    /// Author.
    pub sender_id: UserId,
    /// Text, verbatim as sent or last edited; empty once deleted.
    pub content: String,
    /// Client-defined type, `text` by default.
    pub message_type: String,
    /// The sender's idempotency key, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// Server time of acceptance.
    pub created_at: Timestamp,
    /// The message of the same conversation this one answers.
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// The members this message mentions (`@username` in its content,
    /// resolved by the server when it was sent or last edited).
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// The files sent with it, in order (docs/api.md, "Attachments");
    /// gone once the message is deleted.
    #[serde(default)]
    pub attachments: Vec<MessageAttachment>,
    /// When the content was last edited.
    #[serde(default)]
    pub edited_at: Option<Timestamp>,
    /// When the message was deleted; its content and mentions are gone and
    /// the row stays as a tombstone so history keeps its place.
    #[serde(default)]
    pub deleted_at: Option<Timestamp>,
}

impl Message {
    /// True once the message is deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A message to store. The store assigns its seq.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id to use if it is created.
    pub id: MessageId,
    /// Target conversation.
    pub conversation_id: ConversationId,
    /// Author, who must be a member.
    pub sender_id: UserId,
    /// Validated text.
    pub content: MessageContent,
    /// Validated type.
    pub message_type: MessageType,
    /// Idempotency key.
    pub client_msg_id: Option<ClientMsgId>,
    /// Server time.
    pub created_at: Timestamp,
    /// The message this one answers, already checked to be a message of
    /// the same conversation.
    pub reply_to: Option<MessageId>,
    /// The mentioned members, resolved from the content.
    pub mentions: Vec<UserId>,
    /// The attachments it sends, in order (at most
    /// [`MAX_ATTACHMENTS_PER_MESSAGE`](crate::model::MAX_ATTACHMENTS_PER_MESSAGE)):
    /// uploads of the sender's never sent before, which the store links to
    /// the message in its transaction, or refuses the message with
    /// [`InsertOutcome::AttachmentNotFound`].
    pub attachments: Vec<MessageAttachment>,
}

/// The result of `MessageStore::insert_message` (in `chat-core`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored with the next seq.
    Created(Message),
    /// The sender had already sent a message with this `client_msg_id` in
    /// this conversation; this is that message, and nothing was stored.
    Existing(Message),
    /// The sender is not a member of the conversation (or it does not
    /// exist); nothing was stored.
    NotMember,
    /// One of its attachments is not there, was not uploaded by the
    /// sender, or was sent already (in a message committed meanwhile);
    /// nothing was stored.
    AttachmentNotFound,
}

/// A message as clients see it: the stored message plus, for a direct
/// message, its recipient and when it was delivered to and read by them,
/// or for a group message, the group's id.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// The message.
    #[serde(flatten)]
    pub message: Message,
    /// Direct or group details.
    #[serde(flatten)]
    pub target: MessageTarget,
    /// A short quote of the message this one answers, when it has
    /// `reply_to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyQuote>,
    /// Reactions, counted per emoji, in the order each emoji was first
    /// used; `me` is for the reader. Live frames of new messages carry
    /// none (a new message has no reactions).
    #[serde(default)]
    pub reactions: Vec<ReactionCount>,
}

/// The kind-specific fields of a [`MessageView`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageTarget {
    /// A direct message.
    Direct {
        /// The other member.
        recipient_id: UserId,
        /// When the recipient's delivery cursor last moved, once it covers
        /// this message.
        delivered_at: Option<Timestamp>,
        /// When the recipient's read cursor last moved, once it covers this
        /// message.
        read_at: Option<Timestamp>,
    },
    /// A group message.
    Group {
        /// The group (the conversation id).
        group_id: ConversationId,
    },
}

impl MessageView {
    /// The view of `message` in a conversation of `kind`. For a direct
    /// message, `recipient` is the member who is not the sender; the times
    /// come from their cursors.
    pub fn new(message: Message, kind: ConversationKind, recipient: Option<&Member>) -> Self {
        let target = match (kind, recipient) {
            (ConversationKind::Direct, Some(r)) => MessageTarget::Direct {
                recipient_id: r.user_id,
                delivered_at: (r.delivered_seq >= message.seq)
                    .then_some(r.delivered_at)
                    .flatten(),
                read_at: (r.read_seq >= message.seq).then_some(r.read_at).flatten(),
            },
            _ => MessageTarget::Group {
                group_id: message.conversation_id,
            },
        };
        Self {
            message,
            target,
            reply: None,
            reactions: Vec::new(),
        }
    }
}

impl MessageView {
    /// The view of a message of a conversation of `kind`, for the member
    /// `reader`; `peer` is the other member of a direct conversation. The
    /// recipient of a direct message is whichever of the two did not send it.
    pub fn for_reader(
        message: Message,
        kind: ConversationKind,
        reader: &Member,
        peer: Option<&Member>,
    ) -> Self {
        let recipient = if message.sender_id == reader.user_id {
            peer
        } else {
            Some(reader)
        };
        Self::new(message, kind, recipient)
    }
}

/// Who has a message, by member: `delivered_at` and `read_at` for each,
/// served from the cursors.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The member.
    pub user_id: UserId,
    /// When their delivery cursor last moved, once it covers the message.
    pub delivered_at: Option<Timestamp>,
    /// When their read cursor last moved, once it covers the message.
    pub read_at: Option<Timestamp>,
}

impl Receipt {
    /// The receipt of `member` for the message at `seq`.
    pub fn of(member: &Member, seq: u64) -> Self {
        Self {
            user_id: member.user_id,
            delivered_at: (member.delivered_seq >= seq)
                .then_some(member.delivered_at)
                .flatten(),
            read_at: (member.read_seq >= seq).then_some(member.read_at).flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MemberRole;

    fn message(seq: u64) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: ConversationId::new(),
            seq,
            sender_id: UserId::new(),
            content: "hi".to_owned(),
            message_type: "text".to_owned(),
            client_msg_id: None,
            created_at: Timestamp::from_millis(1_000),
            reply_to: None,
            mentions: Vec::new(),
            attachments: Vec::new(),
            edited_at: None,
            deleted_at: None,
        }
    }

    fn recipient(delivered_seq: u64, read_seq: u64) -> Member {
        Member {
            user_id: UserId::new(),
            role: MemberRole::Member,
            joined_at: Timestamp::from_millis(0),
            joined_seq: 0,
            read_seq,
            read_message_count: read_seq,
            read_at: Some(Timestamp::from_millis(3_000)),
            delivered_seq,
            delivered_at: Some(Timestamp::from_millis(2_000)),
            own_unread: 0,
            muted: false,
        }
    }

    #[test]
    fn direct_views_take_their_times_from_the_recipients_cursors() {
        let r = recipient(5, 4);
        let view = MessageView::new(message(5), ConversationKind::Direct, Some(&r));
        let json = serde_json::to_value(&view).expect("serialize");
        assert_eq!(json["recipient_id"], r.user_id.to_string());
        assert_eq!(json["delivered_at"], "1970-01-01T00:00:02.000Z");
        assert_eq!(json["read_at"], serde_json::Value::Null);
        assert_eq!(json["seq"], 5);
        assert!(json.get("group_id").is_none());
        assert!(json.get("client_msg_id").is_none());
    }

    #[test]
    fn group_views_carry_the_group_id() {
        let m = message(1);
        let view = MessageView::new(m.clone(), ConversationKind::Group, None);
        let json = serde_json::to_value(&view).expect("serialize");
        assert_eq!(json["group_id"], m.conversation_id.to_string());
        assert_eq!(json["message_id"], m.id.to_string());
        let back: MessageView = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, view);
    }
}
