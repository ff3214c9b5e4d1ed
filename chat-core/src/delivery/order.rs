//! [`MessageOrder`]: each connection gets every message once, in seq order,
//! however the senders are spread over instances.

use std::collections::HashMap;

use crate::ids::ConversationId;
use crate::model::ConversationOverview;

/// What one connection has been sent, per conversation, so that live
/// message events become an exactly-once, in-order stream.
///
/// Live events can arrive out of order (two senders on two instances
/// commit seq 5 and 6, and 6 is published first) or twice (a catch-up or a
/// gap fill already sent them). A seq is committed only after every smaller
/// seq of its conversation (the store assigns seqs under the conversation's
/// row lock), so when seq 6 arrives before 5, 5 is already in the store:
/// the connection fetches it and sends it first, and skips the live 5 when
/// it comes.
///
/// Per conversation, `last` is the highest seq sent or accounted for, and
/// `floor` the highest seq the connection cannot vouch for: messages at or
/// below it that arrive live were never sent here (they were committed
/// before the connection's snapshot, or before the first event of a
/// conversation it learned about later), so they are passed on as they come.
#[derive(Debug, Default)]
pub struct MessageOrder {
    positions: HashMap<ConversationId, Position>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    floor: u64,
    last: u64,
}

/// What to do with a live message event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it.
    Send,
    /// Already sent (or about to be, by the catch-up): skip it.
    Skip,
    /// Send the messages with seqs strictly between `after` and `before`
    /// from the store first, then this one.
    FillGap {
        /// The last seq sent.
        after: u64,
        /// This event's seq.
        before: u64,
    },
}

impl MessageOrder {
    /// The positions at a connection's snapshot: for each conversation,
    /// everything up to `through` is accounted for (the catch-up sends what
    /// lies past the delivery cursor), and what is at or below the delivery
    /// cursor was delivered to some device before.
    pub(super) fn from_snapshot(overviews: &[ConversationOverview]) -> Self {
        let positions = overviews
            .iter()
            .map(|o| {
                let last = o.membership.conversation.last_seq;
                let floor = o.membership.member.delivered_seq.min(last);
                (o.membership.conversation.id, Position { floor, last })
            })
            .collect();
        Self { positions }
    }

    /// Decides about the live event of `seq` in `conversation`, and records
    /// it as sent unless the answer is [`Admission::Skip`].
    pub fn admit(&mut self, conversation: ConversationId, seq: u64) -> Admission {
        let admission = self.peek(conversation, seq);
        let p = self.positions.entry(conversation).or_insert(Position {
            // The first event of a conversation joined since the snapshot.
            floor: seq.saturating_sub(1),
            last: seq,
        });
        p.last = p.last.max(seq);
        admission
    }

    /// What [`admit`](Self::admit) would answer, without recording anything.
    pub fn peek(&self, conversation: ConversationId, seq: u64) -> Admission {
        match self.positions.get(&conversation) {
            None => Admission::Send,
            Some(p) if seq <= p.floor => Admission::Send,
            Some(p) if seq <= p.last => Admission::Skip,
            Some(p) if seq == p.last + 1 => Admission::Send,
            Some(p) => Admission::FillGap {
                after: p.last,
                before: seq,
            },
        }
    }

    /// The last seq sent or accounted for in `conversation`.
    pub fn last(&self, conversation: ConversationId) -> Option<u64> {
        self.positions.get(&conversation).map(|p| p.last)
    }

    /// Records that everything up to `seq` of `conversation` is sent.
    pub fn advance(&mut self, conversation: ConversationId, seq: u64) {
        let p = self.positions.entry(conversation).or_insert(Position {
            floor: seq,
            last: seq,
        });
        p.last = p.last.max(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_with(conversation: ConversationId, floor: u64, last: u64) -> MessageOrder {
        let mut order = MessageOrder::default();
        order
            .positions
            .insert(conversation, Position { floor, last });
        order
    }

    #[test]
    fn peek_answers_as_admit_would_and_records_nothing() {
        let c = ConversationId::new();
        let mut order = order_with(c, 2, 2);
        assert_eq!(
            order.peek(c, 5),
            Admission::FillGap {
                after: 2,
                before: 5
            }
        );
        assert_eq!(order.last(c), Some(2), "nothing recorded");
        assert_eq!(order.peek(c, 3), Admission::Send);
        assert_eq!(order.admit(c, 3), Admission::Send);
        assert_eq!(order.peek(c, 3), Admission::Skip);
        assert_eq!(order.peek(ConversationId::new(), 9), Admission::Send);
    }

    #[test]
    fn the_next_seq_is_sent_and_a_repeat_is_skipped() {
        let c = ConversationId::new();
        let mut order = order_with(c, 3, 3);
        assert_eq!(order.admit(c, 4), Admission::Send);
        assert_eq!(order.admit(c, 4), Admission::Skip);
        assert_eq!(order.last(c), Some(4));
    }

    #[test]
    fn a_jump_asks_for_the_gap_and_the_late_event_is_skipped() {
        let c = ConversationId::new();
        let mut order = order_with(c, 2, 2);
        assert_eq!(
            order.admit(c, 5),
            Admission::FillGap {
                after: 2,
                before: 5
            }
        );
        assert_eq!(order.admit(c, 3), Admission::Skip);
        assert_eq!(order.admit(c, 4), Admission::Skip);
        assert_eq!(order.admit(c, 6), Admission::Send);
    }

    #[test]
    fn what_the_catch_up_sends_is_skipped_but_older_messages_pass() {
        let c = ConversationId::new();
        // Delivered through 2 before the connection; catch-up sends 3..=7.
        let mut order = order_with(c, 2, 7);
        assert_eq!(order.admit(c, 7), Admission::Skip);
        assert_eq!(order.admit(c, 2), Admission::Send);
        assert_eq!(order.admit(c, 8), Admission::Send);
    }

    #[test]
    fn a_new_conversation_starts_at_its_first_event_and_never_drops_earlier_ones() {
        let c = ConversationId::new();
        let mut order = MessageOrder::default();
        assert_eq!(order.admit(c, 2), Admission::Send);
        assert_eq!(order.admit(c, 1), Admission::Send, "late, but never sent");
        assert_eq!(order.admit(c, 2), Admission::Skip);
        assert_eq!(
            order.admit(c, 4),
            Admission::FillGap {
                after: 2,
                before: 4
            }
        );
    }

    #[test]
    fn advance_moves_last_forward_only() {
        let c = ConversationId::new();
        let mut order = order_with(c, 0, 5);
        order.advance(c, 3);
        assert_eq!(order.last(c), Some(5));
        order.advance(c, 9);
        assert_eq!(order.last(c), Some(9));
        assert_eq!(order.admit(c, 9), Admission::Skip);
    }
}
