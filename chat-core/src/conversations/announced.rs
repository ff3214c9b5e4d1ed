//! [`Announced`]: how far each member's delivery receipts have been sent,
//! so a group receipt reads only the messages it newly covers.
//!
//! A group member's `message.delivered` goes to the senders of the
//! messages its acknowledgement covers. Without knowing where the last
//! receipt stopped, each one would read the newest
//! `RECEIPT_SENDERS_WINDOW` messages to find them: in a 1,000-member group
//! that is a hundred rows per member per acknowledgement. This instance
//! remembers the seq of each member's last receipt; a member it has not
//! seen (another instance announced before, or the entry was evicted)
//! falls back to the full window, which is what the receipt would have
//! read anyway.

use super::bounded_map::BoundedMap;
use crate::ids::{ConversationId, UserId};

/// Last announced delivery seq per (conversation, member), bounded.
#[derive(Debug)]
pub(super) struct Announced(BoundedMap<(ConversationId, UserId), u64>);

impl Announced {
    /// Remembers about `max_entries` members in all.
    pub(super) fn new(max_entries: usize) -> Self {
        Self(BoundedMap::new(max_entries))
    }

    /// Records that receipts of `user` in `conversation` now go up to
    /// `seq`; returns where they stood before, if known. A `seq` at or
    /// below the known one changes nothing.
    pub(super) fn advance(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
    ) -> Option<u64> {
        self.0.update((conversation, user), |before| {
            before.map_or(seq, |b| b.max(seq))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_seq_is_returned_and_never_moves_back() {
        let a = Announced::new(100);
        let (c, u) = (ConversationId::new(), UserId::new());
        assert_eq!(a.advance(c, u, 5), None);
        assert_eq!(a.advance(c, u, 9), Some(5));
        assert_eq!(a.advance(c, u, 7), Some(9));
        assert_eq!(a.advance(c, u, 12), Some(9));
        assert_eq!(a.advance(c, UserId::new(), 3), None, "members are apart");
    }
}
