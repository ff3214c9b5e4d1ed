//! [`NewestMessages`]: the newest message of each busy conversation, so a
//! receipt for it needs no read.
//!
//! `message.delivered` and `message.read` name the message a cursor moved
//! onto, and a group's delivery receipt goes to its sender. A cursor
//! usually moves onto the newest message, which this instance has just
//! stored: without this map, every acknowledgement of a direct message
//! read that message back (seen as one `messages_before` per message in
//! `/metrics`, the store's busiest read under load). Seqs and ids never
//! change once stored, so a held entry is always right; a miss (a message
//! stored by another instance, an evicted entry, an older seq) reads the
//! store as before.

use super::bounded_map::BoundedMap;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::Message;

/// A stored message, as much as a receipt needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Newest {
    pub(super) seq: u64,
    pub(super) id: MessageId,
    pub(super) sender: UserId,
}

/// The newest message stored through this instance, per conversation.
#[derive(Debug)]
pub(super) struct NewestMessages(BoundedMap<ConversationId, Newest>);

impl NewestMessages {
    /// Remembers about `max_entries` conversations in all.
    pub(super) fn new(max_entries: usize) -> Self {
        Self(BoundedMap::new(max_entries))
    }

    /// Records a stored message, unless a newer one is already held.
    pub(super) fn stored(&self, message: &Message) {
        let newest = Newest {
            seq: message.seq,
            id: message.id,
            sender: message.sender_id,
        };
        self.0.update(message.conversation_id, |held| match held {
            Some(h) if h.seq >= newest.seq => h,
            _ => newest,
        });
    }

    /// The message at `seq` of `conversation`, if it is the one held.
    pub(super) fn at(&self, conversation: ConversationId, seq: u64) -> Option<Newest> {
        self.0.get(&conversation).filter(|n| n.seq == seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn message(conversation: ConversationId, seq: u64) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: conversation,
            seq,
            sender_id: UserId::new(),
            content: "hi".to_owned(),
            message_type: "text".to_owned(),
            client_msg_id: None,
            created_at: Timestamp::now(),
            reply_to: None,
            mentions: Vec::new(),
            attachments: Vec::new(),
            edited_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn only_the_newest_seq_is_answered() {
        let newest = NewestMessages::new(100);
        let c = ConversationId::new();
        let (m1, m2) = (message(c, 1), message(c, 2));
        newest.stored(&m2);
        newest.stored(&m1);
        assert_eq!(
            newest.at(c, 2).map(|n| n.id),
            Some(m2.id),
            "an older store does not win"
        );
        assert_eq!(newest.at(c, 1), None, "older seqs are read from the store");
        assert_eq!(newest.at(ConversationId::new(), 2), None);
    }
}
