use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::GroupName;
use crate::ids::{ConversationId, UserId};
use crate::model::{Message, MessageView, UserSummary};
use crate::time::Timestamp;

/// What kind of conversation this is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// Exactly two members; at most one per pair of users.
    Direct,
    /// A named group with roles.
    Group,
}

impl ConversationKind {
    /// The stored and serialized form (`"direct"`, `"group"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
}

impl FromStr for ConversationKind {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "direct" => Ok(Self::Direct),
            "group" => Ok(Self::Group),
            _ => Err(UnknownVariant(s.to_owned())),
        }
    }
}

/// A member's role in a group. Direct conversations have two `Member`s.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Adds and removes anyone but themself; one per group.
    Owner,
    /// Adds members and removes plain members.
    Admin,
    /// Reads and writes; may leave.
    Member,
}

impl MemberRole {
    /// The stored and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// True for roles that manage membership.
    pub fn manages_members(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

impl FromStr for MemberRole {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err(UnknownVariant(s.to_owned())),
        }
    }
}

/// Who may post in a group. Direct conversations are always `Everyone`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostingPolicy {
    /// Every member sends messages (the default).
    #[default]
    Everyone,
    /// Only the owner and admins send messages; the other members read
    /// and react (an announcement channel).
    Admins,
}

impl PostingPolicy {
    /// The stored and serialized form (`"everyone"`, `"admins"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Admins => "admins",
        }
    }

    /// True when a member with `role` may send messages under this policy.
    pub fn allows(self, role: MemberRole) -> bool {
        match self {
            Self::Everyone => true,
            Self::Admins => role.manages_members(),
        }
    }
}

impl FromStr for PostingPolicy {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "everyone" => Ok(Self::Everyone),
            "admins" => Ok(Self::Admins),
            _ => Err(UnknownVariant(s.to_owned())),
        }
    }
}

/// A stored enum value this build does not know (a corrupt or newer row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownVariant(pub String);

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Conversation id (the `group_id` of a group).
    pub id: ConversationId,
    /// Direct or group.
    pub kind: ConversationKind,
    /// Group name; `None` for direct conversations.
    pub name: Option<String>,
    /// Who created the group; `None` for direct conversations.
    pub creator_id: Option<UserId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// The seq of the newest log entry (message or change), 0 before the
    /// first. Seqs run 1, 2, 3 ... with no gaps.
    pub last_seq: u64,
    /// How many messages the log holds (tombstones of deleted messages
    /// included, changes not): unread counts are message arithmetic.
    pub message_count: u64,
    /// Time of the newest message, or creation time before the first;
    /// conversation lists sort by it.
    pub last_activity_at: Timestamp,
    /// Who may post (always `Everyone` for direct conversations).
    pub posting: PostingPolicy,
}

/// One member's row: role and cursors.
///
/// Cursors are seqs: everything up to `read_seq` is read, up to
/// `delivered_seq` delivered to at least one device. They never move
/// backwards, and reading implies delivery (`delivered_seq >= read_seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member.
    pub user_id: UserId,
    /// Role (always `Member` in direct conversations).
    pub role: MemberRole,
    /// When the user joined (or last rejoined).
    pub joined_at: Timestamp,
    /// The conversation's `last_seq` when the user joined: earlier messages
    /// are not unread for them and their receipts do not list them.
    pub joined_seq: u64,
    /// Read cursor: everything up to this seq has been read.
    pub read_seq: u64,
    /// How many messages lie at or below `read_seq` (the conversation's
    /// `message_count` when the cursor was there).
    pub read_message_count: u64,
    /// When `read_seq` last moved because the member read something.
    pub read_at: Option<Timestamp>,
    /// Delivery cursor.
    pub delivered_seq: u64,
    /// When `delivered_seq` last moved.
    pub delivered_at: Option<Timestamp>,
    /// How many of the member's own messages lie after `read_seq`, so the
    /// unread count can leave them out without scanning history.
    pub own_unread: u64,
    /// The member muted the conversation: unread counts go on, but it
    /// notifies them of nothing (the list marks it muted).
    pub muted: bool,
}

/// One delivery cursor to move: `user`'s in `conversation`, up to `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryMove {
    /// The conversation.
    pub conversation: ConversationId,
    /// The member.
    pub user: UserId,
    /// Everything up to this seq is delivered.
    pub seq: u64,
}

/// Which of a member's cursors a move concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// `read_seq` (which drags `delivered_seq` along).
    Read,
    /// `delivered_seq` alone.
    Delivered,
}

/// A planned forward move of a member's cursors, worked out by
/// [`Member::plan_advance`] so every store moves cursors by the same rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorAdvance {
    /// The seq the moved cursors land on.
    pub target: u64,
    /// The range `(from, to]` of seqs that become read, when the read
    /// cursor moves: the store counts the messages in it, and the member's
    /// own among them, and passes both to [`Member::apply_advance`].
    pub newly_read: Option<(u64, u64)>,
    /// True when the delivery cursor moves.
    pub moves_delivered: bool,
}

impl Member {
    /// How moving `cursor` to `seq` (capped at `last_seq`) changes this
    /// member; `None` when nothing would move (cursors never go back).
    pub fn plan_advance(&self, cursor: Cursor, seq: u64, last_seq: u64) -> Option<CursorAdvance> {
        let target = seq.min(last_seq);
        let newly_read =
            (cursor == Cursor::Read && target > self.read_seq).then_some((self.read_seq, target));
        let moves_delivered = target > self.delivered_seq;
        (newly_read.is_some() || moves_delivered).then_some(CursorAdvance {
            target,
            newly_read,
            moves_delivered,
        })
    }

    /// Applies a planned move at time `at`. `newly_read` counts the
    /// messages in `plan.newly_read`.
    pub fn apply_advance(&mut self, plan: CursorAdvance, newly_read: NewlyRead, at: Timestamp) {
        if plan.newly_read.is_some() {
            self.read_seq = plan.target;
            self.read_at = Some(at);
            self.read_message_count += newly_read.messages;
            self.own_unread = self.own_unread.saturating_sub(newly_read.own);
        }
        if plan.moves_delivered {
            self.delivered_seq = plan.target;
            self.delivered_at = Some(at);
        }
    }
}

/// The messages in a range of seqs that becomes read, counted by the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewlyRead {
    /// Messages in the range (changes are not counted).
    pub messages: u64,
    /// The member's own messages among them.
    pub own: u64,
}

/// What kind of log entry a member wrote (see [`SenderCursors`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A message.
    Message,
    /// A change to a message (edit, deletion, reaction).
    Change,
}

/// A sender's cursors, as storing their own message moves them.
///
/// [`after_own_message`](Self::after_own_message) is the one statement of
/// the rule; every store applies it in the message's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderCursors {
    /// [`Member::read_seq`].
    pub read_seq: u64,
    /// [`Member::read_message_count`].
    pub read_message_count: u64,
    /// [`Member::delivered_seq`].
    pub delivered_seq: u64,
    /// [`Member::own_unread`].
    pub own_unread: u64,
}

impl SenderCursors {
    /// Moves the cursors for the sender's own message `seq`: a sender who
    /// had read (received) everything before it has read (received) it
    /// too; otherwise it is one more of their own messages after their
    /// read cursor, which the unread count leaves out.
    pub fn after_own_message(&mut self, seq: u64) {
        self.after_own_entry(seq, EntryKind::Message);
    }

    /// Moves the cursors for the member's own log entry `seq` of `kind`.
    /// For a message, as [`after_own_message`](Self::after_own_message)
    /// says; a change (an edit, a deletion, a reaction) moves the cursors
    /// of a member who was caught up but is never unread, so it counts
    /// neither as read nor as their own unread message.
    pub fn after_own_entry(&mut self, seq: u64, kind: EntryKind) {
        let message = kind == EntryKind::Message;
        if self.read_seq + 1 == seq {
            self.read_seq = seq;
            self.read_message_count += u64::from(message);
        } else if message {
            self.own_unread += 1;
        }
        if self.delivered_seq + 1 == seq {
            self.delivered_seq = seq;
        }
    }
}

impl Member {
    /// This member's cursors as a sender.
    pub fn sender_cursors(&self) -> SenderCursors {
        SenderCursors {
            read_seq: self.read_seq,
            read_message_count: self.read_message_count,
            delivered_seq: self.delivered_seq,
            own_unread: self.own_unread,
        }
    }

    /// Applies [`SenderCursors::after_own_entry`] to this member.
    pub fn record_own_entry(&mut self, seq: u64, kind: EntryKind) {
        let mut cursors = self.sender_cursors();
        cursors.after_own_entry(seq, kind);
        self.read_seq = cursors.read_seq;
        self.read_message_count = cursors.read_message_count;
        self.delivered_seq = cursors.delivered_seq;
        self.own_unread = cursors.own_unread;
    }
}

/// A user's membership: the conversation and the user's member row, read
/// together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The conversation.
    pub conversation: Conversation,
    /// The user's row in it.
    pub member: Member,
}

impl Membership {
    /// Messages after the read cursor that others sent:
    /// `message_count - read_message_count - own_unread`, with no scan of
    /// history. Changes (edits, reactions) are never unread.
    pub fn unread_count(&self) -> u64 {
        self.conversation
            .message_count
            .saturating_sub(self.member.read_message_count)
            .saturating_sub(self.member.own_unread)
    }
}

/// A member with their public profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    /// The member row.
    pub member: Member,
    /// Username and display name.
    pub profile: UserSummary,
}

/// One entry of a user's conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationOverview {
    /// The conversation and the user's member row.
    pub membership: Membership,
    /// The other member of a direct conversation, with their cursors.
    pub peer: Option<MemberEntry>,
    /// The newest message, if any.
    pub last_message: Option<Message>,
    /// Messages after the member's read cursor that mention them.
    pub mention_count: u64,
}

impl ConversationOverview {
    /// The last message as the member sees it.
    pub fn last_message_view(&self) -> Option<MessageView> {
        let message = self.last_message.clone()?;
        Some(MessageView::for_reader(
            message,
            self.membership.conversation.kind,
            &self.membership.member,
            self.peer.as_ref().map(|p| &p.member),
        ))
    }
}

/// A direct conversation to create if the pair has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDirectConversation {
    /// Id to use if it is created.
    pub id: ConversationId,
    /// One member.
    pub user_a: UserId,
    /// The other member (never `user_a`).
    pub user_b: UserId,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A group to create with its first members.
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// Group id.
    pub id: ConversationId,
    /// Validated name.
    pub name: GroupName,
    /// Creator, who is its owner.
    pub creator_id: UserId,
    /// Creation time, also every first member's `joined_at`.
    pub created_at: Timestamp,
    /// The first members, the creator included, without duplicates.
    pub members: Vec<NewMember>,
}

/// A member to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewMember {
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: MemberRole,
}

/// What removing a member changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRemoval {
    /// The role the removed member had.
    pub role: MemberRole,
    /// Who became owner because the owner left, if anyone.
    pub new_owner: Option<UserId>,
}

impl fmt::Display for ConversationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(read_seq: u64, delivered_seq: u64) -> Member {
        Member {
            user_id: UserId::new(),
            role: MemberRole::Member,
            joined_at: Timestamp::from_millis(0),
            joined_seq: 0,
            read_seq,
            read_message_count: read_seq,
            read_at: None,
            delivered_seq,
            delivered_at: None,
            own_unread: 2,
            muted: false,
        }
    }

    #[test]
    fn reading_moves_both_cursors_forward_only() {
        let at = Timestamp::from_millis(5_000);
        let mut m = member(2, 4);
        let plan = m.plan_advance(Cursor::Read, 9, 6).expect("moves");
        assert_eq!(plan.newly_read, Some((2, 6)), "capped at last_seq");
        m.apply_advance(
            plan,
            NewlyRead {
                messages: 3,
                own: 1,
            },
            at,
        );
        assert_eq!((m.read_seq, m.delivered_seq, m.own_unread), (6, 6, 1));
        assert_eq!(m.read_message_count, 5, "2 before, 3 newly read");
        assert_eq!((m.read_at, m.delivered_at), (Some(at), Some(at)));
        assert_eq!(m.plan_advance(Cursor::Read, 3, 6), None);
        assert_eq!(m.plan_advance(Cursor::Delivered, 6, 6), None);
    }

    #[test]
    fn delivery_moves_alone_and_reading_behind_it_leaves_it() {
        let mut m = member(1, 1);
        let plan = m.plan_advance(Cursor::Delivered, 5, 9).expect("moves");
        assert_eq!(plan.newly_read, None);
        m.apply_advance(plan, NewlyRead::default(), Timestamp::from_millis(1));
        assert_eq!((m.read_seq, m.delivered_seq), (1, 5));
        let plan = m.plan_advance(Cursor::Read, 3, 9).expect("moves");
        assert!(!plan.moves_delivered);
        m.apply_advance(plan, NewlyRead::default(), Timestamp::from_millis(2));
        assert_eq!((m.read_seq, m.delivered_seq), (3, 5));
        assert_eq!(m.delivered_at, Some(Timestamp::from_millis(1)));
    }

    #[test]
    fn kinds_and_roles_round_trip_through_their_names() {
        for k in [ConversationKind::Direct, ConversationKind::Group] {
            assert_eq!(k.as_str().parse::<ConversationKind>(), Ok(k));
        }
        for r in [MemberRole::Owner, MemberRole::Admin, MemberRole::Member] {
            assert_eq!(r.as_str().parse::<MemberRole>(), Ok(r));
        }
        assert!("root".parse::<MemberRole>().is_err());
    }

    #[test]
    fn a_sender_who_is_caught_up_reads_their_own_message() {
        let mut m = member(4, 4);
        m.record_own_entry(5, EntryKind::Message);
        assert_eq!(
            m.sender_cursors(),
            SenderCursors {
                read_seq: 5,
                read_message_count: 5,
                delivered_seq: 5,
                own_unread: 2
            }
        );
    }

    #[test]
    fn a_sender_who_is_behind_counts_their_message_as_own_unread() {
        let mut m = member(2, 4);
        m.record_own_entry(5, EntryKind::Message);
        assert_eq!(
            m.sender_cursors(),
            SenderCursors {
                read_seq: 2,
                read_message_count: 2,
                delivered_seq: 5,
                own_unread: 3
            }
        );
        m.record_own_entry(6, EntryKind::Message);
        assert_eq!(
            m.sender_cursors(),
            SenderCursors {
                read_seq: 2,
                read_message_count: 2,
                delivered_seq: 6,
                own_unread: 4
            }
        );
        let mut behind = member(4, 3);
        behind.record_own_entry(5, EntryKind::Message);
        assert_eq!(
            behind.sender_cursors(),
            SenderCursors {
                read_seq: 5,
                read_message_count: 5,
                delivered_seq: 3,
                own_unread: 2
            }
        );
    }

    #[test]
    fn a_change_moves_a_caught_up_actors_cursors_but_is_never_unread() {
        let mut m = member(4, 4);
        m.record_own_entry(5, EntryKind::Change);
        assert_eq!((m.read_seq, m.read_message_count, m.own_unread), (5, 4, 2));
        assert_eq!(m.delivered_seq, 5);
        let mut behind = member(2, 2);
        behind.record_own_entry(5, EntryKind::Change);
        assert_eq!(
            (
                behind.read_seq,
                behind.read_message_count,
                behind.own_unread
            ),
            (2, 2, 2),
            "not their own unread message either"
        );
    }
}
