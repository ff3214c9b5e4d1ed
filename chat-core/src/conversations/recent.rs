//! [`RecentMessages`]: the messages this instance stored lately, by
//! conversation and seq, so a receipt for one of them needs no read.
//!
//! `message.delivered` and `message.read` name the message a cursor moved
//! onto, and a group's delivery receipt goes to its sender. A cursor
//! usually moves onto a message this instance has just stored: without
//! this map, every acknowledgement of a direct message read that message
//! back (seen as one `messages_before` per message in `/metrics`, the
//! store's busiest read under load). Holding only each conversation's
//! newest message was not enough past saturation: receivers then
//! acknowledge a message or a batch behind the newest, and each such
//! receipt read its message back (23,306 reads in a 10 s SQLite run,
//! beside the one writer; docs/benchmarks.md, "SQLite read every
//! idempotency key"). Seqs, ids and senders never change once stored, so
//! a held entry is always right; a miss (a message stored by another
//! instance, a forgotten entry) reads the store as before.

use super::bounded_map::BoundedMap;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::Message;

/// A stored message, as much as a receipt needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Recent {
    pub(super) id: MessageId,
    pub(super) sender: UserId,
}

/// Messages stored through this instance lately, by conversation and seq.
#[derive(Debug)]
pub(super) struct RecentMessages(BoundedMap<(ConversationId, u64), Recent>);

impl RecentMessages {
    /// Remembers about `max_entries` messages in all (a full part of the
    /// map starts over, so the oldest go first, a part at a time).
    pub(super) fn new(max_entries: usize) -> Self {
        Self(BoundedMap::new(max_entries))
    }

    /// Records a stored message.
    pub(super) fn stored(&self, message: &Message) {
        let recent = Recent {
            id: message.id,
            sender: message.sender_id,
        };
        self.0
            .update((message.conversation_id, message.seq), |_| recent);
    }

    /// The message at `seq` of `conversation`, if held.
    pub(super) fn at(&self, conversation: ConversationId, seq: u64) -> Option<Recent> {
        self.0.get(&(conversation, seq))
    }

    /// What `messages_before(conversation, seq, 0, count)` would answer
    /// for a receipt, if every seq of the `count` up to `seq` (from 1) is a
    /// held message: the id of the message at `seq` and the senders of
    /// them all, newest first. `None` when one is not held (a change
    /// entry holds a seq too, and then the store must say which messages
    /// come before it).
    pub(super) fn last(
        &self,
        conversation: ConversationId,
        seq: u64,
        count: u32,
    ) -> Option<(MessageId, Vec<UserId>)> {
        let first = seq.saturating_sub(u64::from(count.max(1)) - 1).max(1);
        let mut senders = Vec::with_capacity(count as usize);
        let mut newest = None;
        for s in (first..=seq).rev() {
            let held = self.at(conversation, s)?;
            newest.get_or_insert(held.id);
            senders.push(held.sender);
        }
        Some((newest?, senders))
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
    fn each_stored_seq_is_answered_and_nothing_else() {
        let recent = RecentMessages::new(100);
        let c = ConversationId::new();
        let (m1, m2) = (message(c, 1), message(c, 2));
        recent.stored(&m2);
        recent.stored(&m1);
        let held = |seq| recent.at(c, seq).map(|r| (r.id, r.sender));
        assert_eq!(held(2), Some((m2.id, m2.sender_id)));
        assert_eq!(held(1), Some((m1.id, m1.sender_id)), "an older seq too");
        assert_eq!(held(3), None, "not stored here: read from the store");
        assert_eq!(recent.at(ConversationId::new(), 2), None);
    }

    #[test]
    fn the_last_messages_are_answered_only_when_all_are_held() {
        let recent = RecentMessages::new(100);
        let c = ConversationId::new();
        let stored: Vec<Message> = (1..=5).map(|seq| message(c, seq)).collect();
        for m in &stored {
            recent.stored(m);
        }
        let senders = |range: std::ops::RangeInclusive<usize>| -> Vec<UserId> {
            range.rev().map(|i| stored[i].sender_id).collect()
        };
        assert_eq!(recent.last(c, 5, 3), Some((stored[4].id, senders(2..=4))));
        assert_eq!(recent.last(c, 5, 1), Some((stored[4].id, senders(4..=4))));
        assert_eq!(
            recent.last(c, 3, 100),
            Some((stored[2].id, senders(0..=2))),
            "a window past seq 1 stops there"
        );
        // Seq 7 is not a held message (a change, or stored elsewhere):
        // which messages precede it is the store's to say.
        recent.stored(&message(c, 8));
        assert_eq!(recent.last(c, 8, 2), None);
        assert_eq!(recent.last(c, 6, 1), None);
        assert_eq!(recent.last(c, 0, 1), None);
    }

    #[test]
    fn it_forgets_rather_than_grows() {
        let recent = RecentMessages::new(64);
        let c = ConversationId::new();
        for seq in 1..=1_000 {
            recent.stored(&message(c, seq));
        }
        let held = (1..=1_000)
            .filter(|seq| recent.at(c, *seq).is_some())
            .count();
        assert!(held <= 64, "{held} held");
        assert!(recent.at(c, 1_000).is_some(), "the newest is held");
    }
}
