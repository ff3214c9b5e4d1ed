//! [`CursorBatch`]: many cursor moves planned over the rows a store read
//! for them all at once, so a store moves a batch of cursors with a fixed
//! number of statements (one read, one write) instead of a read and a
//! write per move.
//!
//! The rules are [`Member::plan_advance`] and [`Member::apply_advance`];
//! this only keeps each member's row current between the moves of one
//! batch (two moves of one member see each other) and remembers which
//! rows changed, so the store writes those and no others.

use std::collections::HashMap;

use crate::ids::{ConversationId, UserId};
use crate::model::{Conversation, Cursor, DeliveryMove, Member, Membership, NewlyRead};
use crate::time::Timestamp;

/// Seqs `(from, to]` of a conversation that a move makes read for a
/// member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadRange {
    /// The conversation.
    pub conversation: ConversationId,
    /// The member.
    pub user: UserId,
    /// The read cursor before the move.
    pub from: u64,
    /// The read cursor after it.
    pub to: u64,
}

/// The member rows and conversations of a batch of cursor moves, as they
/// stand after the moves applied so far.
#[derive(Debug, Default)]
pub struct CursorBatch {
    /// Each member row, and whether a move changed it.
    members: HashMap<(ConversationId, UserId), (Member, bool)>,
    conversations: HashMap<ConversationId, Conversation>,
}

impl CursorBatch {
    /// The distinct `(conversation, user)` rows `moves` touch, sorted: the
    /// rows a store reads (and, with row locks, locks in this order, so
    /// two writers cannot deadlock).
    pub fn keys(moves: &[DeliveryMove]) -> Vec<(ConversationId, UserId)> {
        let mut keys: Vec<_> = moves.iter().map(|m| (m.conversation, m.user)).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Adds a member row read for the batch.
    pub fn add_member(&mut self, conversation: ConversationId, member: Member) {
        self.members
            .insert((conversation, member.user_id), (member, false));
    }

    /// Adds a conversation read for the batch.
    pub fn add_conversation(&mut self, conversation: Conversation) {
        self.conversations.insert(conversation.id, conversation);
    }

    /// Adds a member row with its conversation, read together.
    pub fn add_membership(&mut self, membership: Membership) {
        let Membership {
            conversation,
            member,
        } = membership;
        self.add_member(conversation.id, member);
        self.conversations
            .entry(conversation.id)
            .or_insert(conversation);
    }

    /// The conversations of the member rows read, sorted, each once: those
    /// a store reads when it reads them apart from the members.
    pub fn member_conversations(&self) -> Vec<ConversationId> {
        let mut ids: Vec<_> = self.members.keys().map(|(c, _)| *c).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The ranges of seqs that `moves` of `cursor` make read, in order:
    /// the store counts the messages in each ([`NewlyRead`]) before
    /// [`apply`](Self::apply). None for delivery cursors.
    pub fn ranges_read(&self, moves: &[DeliveryMove], cursor: Cursor) -> Vec<ReadRange> {
        if cursor != Cursor::Read {
            return Vec::new();
        }
        // Later moves of a member start where earlier ones left its read
        // cursor: play the seqs forward on a copy (counts do not matter).
        let mut members = self.members.clone();
        let mut ranges = Vec::new();
        for m in moves {
            let key = (m.conversation, m.user);
            let (Some((member, _)), Some(conversation)) = (
                members.get_mut(&key),
                self.conversations.get(&m.conversation),
            ) else {
                continue;
            };
            if let Some(plan) = member.plan_advance(cursor, m.seq, conversation.last_seq) {
                if let Some((from, to)) = plan.newly_read {
                    ranges.push(ReadRange {
                        conversation: m.conversation,
                        user: m.user,
                        from,
                        to,
                    });
                }
                member.apply_advance(plan, NewlyRead::default(), Timestamp::from_millis(0));
            }
        }
        ranges
    }

    /// Applies `moves` of `cursor` in order at `at`, with `counts` for the
    /// ranges [`ranges_read`](Self::ranges_read) named; returns, per move,
    /// the membership after it (`None` for someone who is not a member).
    pub fn apply(
        &mut self,
        moves: &[DeliveryMove],
        cursor: Cursor,
        at: Timestamp,
        counts: &HashMap<ReadRange, NewlyRead>,
    ) -> Vec<Option<Membership>> {
        moves
            .iter()
            .map(|m| {
                let (member, dirty) = self.members.get_mut(&(m.conversation, m.user))?;
                let conversation = self.conversations.get(&m.conversation)?;
                if let Some(plan) = member.plan_advance(cursor, m.seq, conversation.last_seq) {
                    let newly_read =
                        plan.newly_read
                            .map_or_else(NewlyRead::default, |(from, to)| {
                                let range = ReadRange {
                                    conversation: m.conversation,
                                    user: m.user,
                                    from,
                                    to,
                                };
                                counts.get(&range).copied().unwrap_or_default()
                            });
                    member.apply_advance(plan, newly_read, at);
                    *dirty = true;
                }
                Some(Membership {
                    conversation: conversation.clone(),
                    member: member.clone(),
                })
            })
            .collect()
    }

    /// The member rows the moves changed, each once, with their
    /// conversation: what the store writes back.
    pub fn moved(&self) -> Vec<(ConversationId, &Member)> {
        self.members
            .iter()
            .filter(|(_, (_, dirty))| *dirty)
            .map(|((conversation, _), (member, _))| (*conversation, member))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationKind, MemberRole, PostingPolicy};

    fn conversation(last_seq: u64) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            kind: ConversationKind::Group,
            name: None,
            creator_id: None,
            created_at: Timestamp::from_millis(0),
            last_seq,
            message_count: last_seq,
            last_activity_at: Timestamp::from_millis(0),
            posting: PostingPolicy::Everyone,
        }
    }

    fn member(user: UserId) -> Member {
        Member {
            user_id: user,
            role: MemberRole::Member,
            joined_at: Timestamp::from_millis(0),
            joined_seq: 0,
            read_seq: 0,
            read_message_count: 0,
            read_at: None,
            delivered_seq: 2,
            delivered_at: None,
            own_unread: 0,
            muted: false,
        }
    }

    fn mv(conversation: &Conversation, user: UserId, seq: u64) -> DeliveryMove {
        DeliveryMove {
            conversation: conversation.id,
            user,
            seq,
        }
    }

    #[test]
    fn moves_of_one_member_see_each_other_and_only_moved_rows_are_written() {
        let c = conversation(10);
        let (a, b, stranger) = (UserId::new(), UserId::new(), UserId::new());
        let mut batch = CursorBatch::default();
        batch.add_member(c.id, member(a));
        batch.add_membership(Membership {
            conversation: c.clone(),
            member: member(b),
        });
        let moves = [
            mv(&c, a, 7),
            // Behind the first move of the batch: nothing moves back.
            mv(&c, a, 4),
            // Capped at the conversation's last seq.
            mv(&c, a, 99),
            // At or behind the cursor: not moved, so not written.
            mv(&c, b, 1),
            mv(&c, stranger, 3),
        ];
        assert!(batch.ranges_read(&moves, Cursor::Delivered).is_empty());
        let at = Timestamp::from_millis(5);
        let after = batch.apply(&moves, Cursor::Delivered, at, &HashMap::new());
        let seqs: Vec<_> = after
            .iter()
            .map(|m| m.as_ref().map(|m| m.member.delivered_seq))
            .collect();
        assert_eq!(seqs, [Some(7), Some(7), Some(10), Some(2), None]);
        let moved = batch.moved();
        assert_eq!(moved.len(), 1);
        assert_eq!((moved[0].0, moved[0].1.user_id), (c.id, a));
        assert_eq!(moved[0].1.delivered_at, Some(at));
    }

    #[test]
    fn read_moves_name_each_range_from_where_the_last_left_off() {
        let c = conversation(10);
        let a = UserId::new();
        let mut batch = CursorBatch::default();
        batch.add_membership(Membership {
            conversation: c.clone(),
            member: member(a),
        });
        let moves = [mv(&c, a, 3), mv(&c, a, 2), mv(&c, a, 8)];
        let ranges = batch.ranges_read(&moves, Cursor::Read);
        let bounds: Vec<_> = ranges.iter().map(|r| (r.from, r.to)).collect();
        assert_eq!(bounds, [(0, 3), (3, 8)]);
        let counts = HashMap::from([
            (
                ranges[0],
                NewlyRead {
                    messages: 3,
                    own: 1,
                },
            ),
            (
                ranges[1],
                NewlyRead {
                    messages: 4,
                    own: 0,
                },
            ),
        ]);
        let after = batch.apply(&moves, Cursor::Read, Timestamp::from_millis(1), &counts);
        let last = after[2].as_ref().map(|m| &m.member);
        assert_eq!(
            last.map(|m| (m.read_seq, m.read_message_count)),
            Some((8, 7))
        );
        assert_eq!(last.map(|m| m.delivered_seq), Some(8), "reading delivers");
    }

    #[test]
    fn keys_are_sorted_and_distinct() {
        let c = conversation(1);
        let u = UserId::new();
        assert_eq!(
            CursorBatch::keys(&[mv(&c, u, 1), mv(&c, u, 1)]),
            vec![(c.id, u)]
        );
    }
}
