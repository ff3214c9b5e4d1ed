use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ConversationId, UserId};
use crate::model::{
    ConversationKind, ConversationOverview, MemberEntry, MemberRemoval, MemberRole, Membership,
    NewDirectConversation, NewGroup, NewMember, PostingPolicy,
};
use crate::time::Timestamp;

/// Conversations and their members, direct and group alike (see
/// `docs/architecture.md` for how the original design's tables map onto them).
///
/// Membership checks and role rules live in the service; the store
/// guarantees what needs atomicity: one direct conversation per pair, the
/// member limit, and a new owner whenever the owner leaves.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Returns the direct conversation of the pair, creating it (with both
    /// users as members) if there is none. The flag is true when it was
    /// created by this call. Concurrent calls for one pair all return the
    /// same conversation.
    async fn create_direct(&self, new: NewDirectConversation) -> Result<(ConversationId, bool)>;

    /// The direct conversation of a pair, if any.
    async fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationId>>;

    /// Creates a group with its first members.
    async fn create_group(&self, group: NewGroup) -> Result<()>;

    /// The user's membership in a conversation; `None` when either does
    /// not exist or the user is not a member.
    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>>;

    /// All members with their profiles, longest-standing first (by
    /// `joined_at`, then user id).
    async fn members(&self, conversation: ConversationId) -> Result<Vec<MemberEntry>>;

    /// Adds users who are not members yet, with `joined_at = at` and
    /// every cursor at the conversation's current `last_seq`. Returns the
    /// users actually added; existing members are left unchanged.
    ///
    /// # Errors
    /// `GROUP_FULL` (adding nothing) when the conversation would then have
    /// more than `max_members` members.
    async fn add_members(
        &self,
        conversation: ConversationId,
        members: Vec<NewMember>,
        at: Timestamp,
        max_members: u32,
    ) -> Result<Vec<UserId>>;

    /// Removes a member. When the owner leaves, ownership passes in the
    /// same transaction to the longest-standing admin, else the
    /// longest-standing member. `None` when the user was not a member.
    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<MemberRemoval>>;

    /// Changes a member's role. Returns `false` when the user is not a member.
    async fn set_member_role(
        &self,
        conversation: ConversationId,
        user: UserId,
        role: MemberRole,
    ) -> Result<bool>;

    /// The user's conversations (optionally of one kind), most recent
    /// activity first (`last_activity_at`, then id, both descending), each
    /// with its `mention_count`: the messages after the user's read cursor
    /// whose current `mentions` name them.
    async fn overviews(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>>;

    /// One conversation as [`overviews`](Self::overviews) would list it;
    /// `None` when the user is not a member.
    async fn overview(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<ConversationOverview>>;

    /// Sets whether the member muted the conversation. Returns `false`
    /// when the user is not a member.
    async fn set_muted(
        &self,
        conversation: ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool>;

    /// Sets who may post in a group. Returns `false` when there is no such
    /// group (direct conversations are always `Everyone`).
    async fn set_posting(
        &self,
        conversation: ConversationId,
        posting: PostingPolicy,
    ) -> Result<bool>;
}
