//! The [`OfflineQueue`] trait: what waits for a user who has no live
//! connection.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::ConversationKind;
use crate::time::Timestamp;

/// One queue entry: `{message_id, type, timestamp}`, plus the
/// conversation and seq so an acknowledgement (which moves a per
/// conversation cursor) can clear entries without reading the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// The message.
    pub message_id: MessageId,
    /// `direct` or `group`.
    #[serde(rename = "type")]
    pub kind: ConversationKind,
    /// When the message was sent.
    pub timestamp: Timestamp,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its seq in the conversation.
    pub seq: u64,
}

/// How many of a user's newest entries [`OfflineQueue::unhandled`] looks
/// through: a consumer of a user with more waiting hears of the newest.
pub const UNHANDLED_SCAN: usize = 1000;

/// Per-user queues of messages sent while the user had no live connection.
///
/// The store stays the source of truth: delivery cursors say what each
/// user has, and a connecting device catches up from them even if queue
/// entries were lost or expired. The queue is the record of what is
/// waiting, one list per user, for operators and for consumers such as
/// push notifications; entries leave it once the user acknowledges them.
///
/// A consumer (the push notifier: docs/api.md, "Push notifications")
/// reads what it has not handled yet with [`unhandled`](Self::unhandled)
/// and records what it handled with
/// [`mark_handled`](Self::mark_handled); [`DueWork`](super::DueWork)
/// hands it the users with new entries, one consumer per user.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OfflineQueue: Send + Sync {
    /// Appends `entry` to the queue of each user in `users`, refreshing the
    /// queue's time to live (30 days by default).
    async fn push(&self, users: &[UserId], entry: &QueuedMessage) -> Result<()>;

    /// Up to `limit` entries of `user`'s queue, oldest first.
    async fn peek(&self, user: UserId, limit: usize) -> Result<Vec<QueuedMessage>>;

    /// Removes `user`'s entries of `conversation` with a seq at most
    /// `up_to_seq` (what the user has acknowledged).
    async fn remove_through(
        &self,
        user: UserId,
        conversation: ConversationId,
        up_to_seq: u64,
    ) -> Result<()>;

    /// Number of entries in `user`'s queue.
    async fn len(&self, user: UserId) -> Result<usize>;

    /// Empties `user`'s queue.
    async fn clear(&self, user: UserId) -> Result<()>;

    /// The newest `limit` of `user`'s entries past what a consumer has
    /// handled (see [`mark_handled`](Self::mark_handled)), among the newest
    /// [`UNHANDLED_SCAN`] entries, oldest first.
    async fn unhandled(&self, user: UserId, limit: usize) -> Result<Vec<QueuedMessage>>;

    /// Records that `user`'s entries through each `(conversation, seq)` of
    /// `handled` were handled (a seq never moves back).
    async fn mark_handled(&self, user: UserId, handled: &[(ConversationId, u64)]) -> Result<()>;
}
