//! [`CatchUp`]: what a connecting device missed, in batches.

use std::collections::{HashMap, VecDeque};

use crate::ids::{ConversationId, UserId};
use crate::model::{ConversationKind, ConversationOverview};

/// The messages past a user's delivery cursors when a device connected,
/// read from the store (the source of truth) and sent in
/// `messages.offline` batches by [`DeliveryService::next_offline_batch`].
///
/// Within a conversation messages come in seq order; conversations come in
/// the order of their newest activity, oldest first. The snapshot is taken
/// after the connection subscribed, so a message is either in it or
/// arrives live; [`CatchUp::covers`] tells the connection which live
/// message events the catch-up already accounts for.
///
/// [`DeliveryService::next_offline_batch`]: super::DeliveryService::next_offline_batch
#[derive(Debug, Default)]
pub struct CatchUp {
    pub(super) ranges: VecDeque<PendingRange>,
    /// The last seq of each pending conversation at the snapshot.
    through: HashMap<ConversationId, u64>,
}

#[derive(Debug)]
pub(super) struct PendingRange {
    pub(super) conversation: ConversationId,
    pub(super) kind: ConversationKind,
    /// Both members of a direct conversation: the user and the peer.
    pub(super) users: Vec<UserId>,
    /// The next seq to send.
    pub(super) next: u64,
    /// The last seq to send.
    pub(super) last: u64,
}

impl CatchUp {
    /// The plan for `user` from their conversations.
    pub(super) fn plan(user: UserId, mut overviews: Vec<ConversationOverview>) -> Self {
        overviews
            .retain(|o| o.membership.member.delivered_seq < o.membership.conversation.last_seq);
        overviews.sort_by_key(|o| o.membership.conversation.last_activity_at);
        let mut through = HashMap::with_capacity(overviews.len());
        let ranges = overviews
            .into_iter()
            .map(|o| {
                let c = &o.membership.conversation;
                through.insert(c.id, c.last_seq);
                let mut users = vec![user];
                users.extend(o.peer.as_ref().map(|p| p.member.user_id));
                PendingRange {
                    conversation: c.id,
                    kind: c.kind,
                    users,
                    next: o.membership.member.delivered_seq + 1,
                    last: c.last_seq,
                }
            })
            .collect();
        Self { ranges, through }
    }

    /// True when nothing is left to send.
    pub fn is_done(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True when the catch-up accounts for the message at `seq` of
    /// `conversation` (so a live event for it must not be sent again).
    pub fn covers(&self, conversation: ConversationId, seq: u64) -> bool {
        self.through
            .get(&conversation)
            .is_some_and(|last| seq <= *last)
    }

    /// Messages still to send (an upper bound).
    pub fn remaining(&self) -> u64 {
        self.ranges.iter().map(|r| r.last + 1 - r.next).sum()
    }
}
