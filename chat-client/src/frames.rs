//! Constructors for the [`ClientFrame`]s a client sends most, so callers
//! need not spell out every optional field.

use chat_types::ids::AttachmentId;
use chat_types::protocol::ClientFrame;
use chat_types::{ConversationId, MessageId, UserId};

/// `message.send`: a direct message to `to`. With a `client_msg_id`, a
/// resend returns the original message.
pub fn send_direct(to: UserId, content: &str, client_msg_id: Option<&str>) -> ClientFrame {
    ClientFrame::Send {
        recipient_id: to,
        content: content.to_owned(),
        message_type: None,
        client_msg_id: client_msg_id.map(str::to_owned),
        reply_to: None,
        attachments: Vec::new(),
    }
}

/// `message.group.send`: a message to `group`.
pub fn send_group(
    group: ConversationId,
    content: &str,
    client_msg_id: Option<&str>,
) -> ClientFrame {
    ClientFrame::GroupSend {
        group_id: group,
        content: content.to_owned(),
        message_type: None,
        client_msg_id: client_msg_id.map(str::to_owned),
        reply_to: None,
        attachments: Vec::new(),
    }
}

/// `message.group.send` answering `parent`, a message of `group`.
pub fn reply_group(group: ConversationId, parent: MessageId, content: &str) -> ClientFrame {
    ClientFrame::GroupSend {
        group_id: group,
        content: content.to_owned(),
        message_type: None,
        client_msg_id: None,
        reply_to: Some(parent),
        attachments: Vec::new(),
    }
}

/// `message.group.send` of the sender's uploads `attachments` (ids from
/// `Client::upload`), in order, with `content` as their caption (may be
/// empty).
pub fn send_group_files(
    group: ConversationId,
    content: &str,
    attachments: Vec<AttachmentId>,
) -> ClientFrame {
    ClientFrame::GroupSend {
        group_id: group,
        content: content.to_owned(),
        message_type: None,
        client_msg_id: None,
        reply_to: None,
        attachments,
    }
}

/// `message.edit`: new text for one's own message.
pub fn edit(message: MessageId, content: &str) -> ClientFrame {
    ClientFrame::Edit {
        message_id: message,
        content: content.to_owned(),
        request_id: None,
    }
}

/// `message.delete`.
pub fn delete(message: MessageId) -> ClientFrame {
    ClientFrame::Delete {
        message_id: message,
        request_id: None,
    }
}

/// `reaction.add` (`add`) or `reaction.remove` with `emoji`.
pub fn react(message: MessageId, emoji: &str, add: bool) -> ClientFrame {
    let (message_id, emoji, request_id) = (message, emoji.to_owned(), None);
    if add {
        ClientFrame::ReactionAdd {
            message_id,
            emoji,
            request_id,
        }
    } else {
        ClientFrame::ReactionRemove {
            message_id,
            emoji,
            request_id,
        }
    }
}

/// `messages.ack`: this device has every message of `conversation` up to
/// `seq`. The senders get `message.delivered`.
pub fn ack_through(conversation: ConversationId, seq: u64) -> ClientFrame {
    ClientFrame::Ack {
        message_ids: None,
        conversation_id: Some(conversation),
        seq: Some(seq),
    }
}

/// `messages.ack`: this device has these messages (1 to 100 of them).
pub fn ack_ids(ids: Vec<MessageId>) -> ClientFrame {
    ClientFrame::Ack {
        message_ids: Some(ids),
        conversation_id: None,
        seq: None,
    }
}

/// `message.read`: the user has read up to `message_id`.
pub fn read(message_id: MessageId) -> ClientFrame {
    ClientFrame::Read {
        message_id: Some(message_id),
        conversation_id: None,
    }
}

/// `message.read`: the user has read all of `conversation`.
pub fn read_all(conversation: ConversationId) -> ClientFrame {
    ClientFrame::Read {
        message_id: None,
        conversation_id: Some(conversation),
    }
}

/// `typing` in `conversation` (direct or group).
pub fn typing(conversation: ConversationId, is_typing: bool) -> ClientFrame {
    ClientFrame::Typing {
        recipient_id: None,
        group_id: None,
        conversation_id: Some(conversation),
        is_typing,
    }
}

/// `sync`: the messages of `conversation` after `after_seq` (at most 100;
/// the answer's `has_more` says whether to ask again).
pub fn sync(conversation: ConversationId, after_seq: u64) -> ClientFrame {
    ClientFrame::Sync {
        conversation_id: conversation,
        after_seq,
        limit: None,
    }
}

/// `ping`; the server answers `pong`.
pub fn ping() -> ClientFrame {
    ClientFrame::Ping
}

/// `auth`: a fresh access token of the same user, extending the
/// connection's life past the old token's expiry.
pub fn auth(token: &str) -> ClientFrame {
    ClientFrame::Auth {
        token: token.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn wire(frame: &ClientFrame) -> Value {
        serde_json::to_value(frame).unwrap_or_default()
    }

    #[test]
    fn frames_carry_only_the_fields_given() {
        let to = UserId::new();
        assert_eq!(
            wire(&send_direct(to, "hi", None)),
            json!({"type": "message.send", "recipient_id": to, "content": "hi"})
        );
        let c = ConversationId::new();
        assert_eq!(
            wire(&ack_through(c, 7)),
            json!({"type": "messages.ack", "conversation_id": c, "seq": 7})
        );
        assert_eq!(
            wire(&typing(c, true)),
            json!({"type": "typing", "conversation_id": c, "is_typing": true})
        );
        assert_eq!(wire(&ping()), json!({"type": "ping"}));
        assert_eq!(
            wire(&send_group(c, "yo", Some("k-1"))),
            json!({"type": "message.group.send", "group_id": c, "content": "yo", "client_msg_id": "k-1"})
        );
    }
}
