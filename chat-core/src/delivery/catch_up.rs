//! [`CatchUp`]: what a connecting device missed, in batches.

use std::collections::VecDeque;

use crate::ids::{ConversationId, UserId};
use crate::model::{ConversationKind, ConversationOverview};

/// The messages past a user's delivery cursors when a device connected,
/// read from the store (the source of truth) and sent in
/// `messages.offline` batches by [`DeliveryService::next_offline_batch`].
///
/// Within a conversation messages come in seq order; conversations come in
/// the order of their newest activity, oldest first. The snapshot is taken
/// after the connection subscribed, so a message is either in it or
/// arrives live; the connection's [`MessageOrder`](super::MessageOrder)
/// skips live events the catch-up accounts for. The same plan, from the
/// connection's own positions, fills what it missed after a resync.
///
/// [`DeliveryService::next_offline_batch`]: super::DeliveryService::next_offline_batch
#[derive(Debug)]
pub struct CatchUp {
    /// Whose catch-up it is (reactions are shown with `me` for them).
    pub(super) reader: UserId,
    pub(super) ranges: VecDeque<PendingRange>,
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
    /// The plan for `user` from their conversations: in each, what lies
    /// past the seq `sent_through` returns (nothing when it returns `None`).
    pub(super) fn plan(
        user: UserId,
        overviews: &[ConversationOverview],
        sent_through: impl Fn(&ConversationOverview) -> Option<u64>,
    ) -> Self {
        let mut pending: Vec<(&ConversationOverview, u64)> = overviews
            .iter()
            .filter_map(|o| {
                let from = sent_through(o)?;
                (from < o.membership.conversation.last_seq).then_some((o, from))
            })
            .collect();
        pending.sort_by_key(|(o, _)| o.membership.conversation.last_activity_at);
        let ranges = pending
            .into_iter()
            .map(|(o, from)| {
                let c = &o.membership.conversation;
                let mut users = vec![user];
                users.extend(o.peer.as_ref().map(|p| p.member.user_id));
                PendingRange {
                    conversation: c.id,
                    kind: c.kind,
                    users,
                    next: from + 1,
                    last: c.last_seq,
                }
            })
            .collect();
        Self {
            reader: user,
            ranges,
        }
    }

    /// True when nothing is left to send.
    pub fn is_done(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Log entries still to send (an upper bound).
    pub fn remaining(&self) -> u64 {
        self.ranges.iter().map(|r| r.last + 1 - r.next).sum()
    }
}
