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

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ids::{ConversationId, UserId};

/// Shards, so that acknowledgements of different members rarely contend.
const SHARDS: usize = 16;

/// Last announced delivery seq per (conversation, member), bounded.
#[derive(Debug)]
pub(super) struct Announced {
    shards: Vec<Mutex<HashMap<(ConversationId, UserId), u64>>>,
    per_shard: usize,
}

impl Announced {
    /// Remembers about `max_entries` members in all.
    pub(super) fn new(max_entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: (max_entries / SHARDS).max(1),
        }
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
        let key = (conversation, user);
        let shard = &self.shards[shard_of(conversation, user)];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = map.get_mut(&key) {
            let before = *last;
            *last = before.max(seq);
            return Some(before);
        }
        if map.len() >= self.per_shard {
            // Crude but bounded, as the member cache: a full shard starts
            // over, and the members it forgot fall back to the full window.
            map.clear();
        }
        map.insert(key, seq);
        None
    }
}

fn shard_of(conversation: ConversationId, user: UserId) -> usize {
    let mix = conversation.as_uuid().as_u128() ^ user.as_uuid().as_u128().rotate_left(17);
    (mix as usize ^ (mix >> 64) as usize) % SHARDS
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

    #[test]
    fn it_stays_bounded() {
        let a = Announced::new(SHARDS * 2);
        let c = ConversationId::new();
        for _ in 0..1_000 {
            a.advance(c, UserId::new(), 1);
        }
        let held: usize = a
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum();
        assert!(held <= SHARDS * 2, "{held}");
    }
}
