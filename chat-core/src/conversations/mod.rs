//! [`ConversationService`]: direct conversations, groups, messages, history,
//! read cursors and receipts.
//!
//! One model serves all of the API: a conversation is `direct` (two members)
//! or `group` (named, with roles); every message has a per-conversation
//! `seq`; each member has read and delivery cursors. See
//! `docs/architecture.md` for how the original design's tables map onto it.
//!
//! Every operation checks membership first. A conversation the caller is
//! not in answers exactly as one that does not exist
//! (`CONVERSATION_NOT_FOUND`), so membership does not leak.

mod announced;
mod bounded_map;
mod changes;
mod direct;
mod groups;
mod mentions;
mod messages;
mod page;
mod recent;
mod search;
mod settings;
mod word_counts;

use std::sync::Arc;
use std::time::Duration;

pub use changes::ChangedMessage;
pub use groups::GroupInfo;
pub use messages::{
    HistoryPage, MessageReceipts, OutgoingMessage, QueuedSend, ReadState, SentMessage,
    UnreadMessages,
};
pub use page::PageRequest;
pub(crate) use page::sync_limit;
pub use search::{
    SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT, SEARCH_MAX_OFFSET, SearchResult, SearchResults,
};

use crate::blocks::Blocks;
use crate::error::{ChatError, Result};
use crate::fanout::Fanout;
use crate::ids::{ConversationId, UserId};
use crate::members::Members;
use crate::message_hook::HookGate;
use crate::metrics::Metrics;
use crate::model::{ConversationKind, Membership};
use crate::rate_limit::{RateLimit, RateLimiter};
use crate::realtime::OfflineQueue;
use crate::store::{AttachmentStore, BatchedWrites, ConversationStore, MessageStore, UserStore};
use crate::time::Clock;

/// Settings of the conversation service.
#[derive(Debug, Clone)]
pub struct ConversationConfig {
    /// Most members a group may have (default 1,000).
    pub max_group_members: u32,
    /// Messages one user may send (default 100 per minute).
    pub message_limit: RateLimit,
    /// Groups with more members than this get no live receipts from
    /// others (default 100): no `message.delivered` to senders and no
    /// `message.read` to the other members. In a
    /// 1,000-member group every member's acknowledgement would otherwise
    /// make a receipt for each sender it covers, more frames than the
    /// messages themselves. The cursors are stored all the same, and
    /// `GET /groups/{id}` lists them.
    pub receipts_max_group_members: u32,
    /// How long after sending a message its sender may edit it (default:
    /// always). Deleting has no window.
    pub edit_window: Option<Duration>,
    /// Words held by more messages than this (of every conversation) are
    /// too common to rank (default 20,000): a search whose every word is
    /// one finds latest first within one conversation, and is refused
    /// across all (`SEARCH_TOO_BROAD`). Ranking reads every match, and
    /// for such words that is most of the index (docs/benchmarks.md,
    /// "Message search").
    pub search_common_word_messages: u64,
    /// Searches one user may run (default 30 per minute): each reads as
    /// many messages as it finds (docs/benchmarks.md, "Message search").
    pub search_limit: RateLimit,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            max_group_members: 1_000,
            message_limit: RateLimit::new(100, Duration::from_secs(60)),
            receipts_max_group_members: 100,
            edit_window: None,
            search_common_word_messages: 20_000,
            search_limit: RateLimit::new(30, Duration::from_secs(60)),
        }
    }
}

/// Which conversation a call is about, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationRef {
    /// The direct conversation with this user (for the
    /// `/messages/...` endpoints).
    Direct(UserId),
    /// A group by id; a direct conversation's id is not found.
    Group(ConversationId),
    /// Any conversation by id (for the `/conversations/...` endpoints).
    Id(ConversationId),
}

/// What [`ConversationService`] works with: the stores (as the engine
/// wraps them), who is in each conversation, and the fan-out.
#[derive(Clone)]
pub(crate) struct ConversationDeps {
    /// Accounts, to check members and recipients exist.
    pub(crate) users: Arc<dyn UserStore>,
    /// Conversations and members.
    pub(crate) conversations: Arc<dyn ConversationStore>,
    /// Messages and cursors.
    pub(crate) messages: Arc<dyn MessageStore>,
    /// Uploads, to check what a message sends.
    pub(crate) attachments: Arc<dyn AttachmentStore>,
    /// The batching writers under `messages`, for sends that queue their
    /// insert and wait for it apart ([`QueuedSend`]).
    pub(crate) writes: Arc<BatchedWrites>,
    /// Per-user send limits.
    pub(crate) limiter: Arc<dyn RateLimiter>,
    /// Server time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Member lists, cached.
    pub(crate) members: Arc<Members>,
    /// Who blocks whom, cached.
    pub(crate) blocks: Arc<Blocks>,
    /// Publishes what happened.
    pub(crate) fanout: Fanout,
    /// What waits for users with no connection (cleared as they acknowledge).
    pub(crate) queue: Arc<dyn OfflineQueue>,
    /// The moderation hook new messages and edits pass.
    pub(crate) hook: HookGate,
}

/// Group members whose last delivery receipt is remembered (about 40 bytes
/// each).
const ANNOUNCED_ENTRIES: usize = 200_000;

/// Recent messages remembered for receipts (about 100 bytes each).
const RECENT_ENTRIES: usize = 200_000;

/// Searched words whose count is remembered (about 80 bytes each).
const WORD_COUNT_ENTRIES: usize = 10_000;

/// Conversations, groups and messages.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ConversationService {
    deps: ConversationDeps,
    config: Arc<ConversationConfig>,
    /// Where each group member's delivery receipts stand.
    announced: Arc<announced::Announced>,
    /// The messages stored lately, for receipts.
    recent: Arc<recent::RecentMessages>,
    /// How many messages hold each recently searched word.
    word_counts: Arc<word_counts::WordCounts>,
    metrics: Metrics,
}

impl std::fmt::Debug for ConversationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ConversationService {
    /// A service over `deps`, counting into `metrics`.
    ///
    /// # Errors
    /// `INVALID_CONFIG` when the group member limit is below 1.
    pub(crate) fn new(
        deps: ConversationDeps,
        config: ConversationConfig,
        metrics: Metrics,
    ) -> Result<Self> {
        if config.max_group_members == 0 {
            return Err(ChatError::InvalidConfig(
                "max_group_members must be at least 1".to_owned(),
            ));
        }
        Ok(Self {
            deps,
            config: Arc::new(config),
            announced: Arc::new(announced::Announced::new(ANNOUNCED_ENTRIES)),
            recent: Arc::new(recent::RecentMessages::new(RECENT_ENTRIES)),
            word_counts: Arc::new(word_counts::WordCounts::new(WORD_COUNT_ENTRIES)),
            metrics,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ConversationConfig {
        &self.config
    }

    /// The caller's membership of a conversation given by id, optionally
    /// of one kind; `CONVERSATION_NOT_FOUND` otherwise.
    async fn require_member(
        &self,
        user: UserId,
        conversation: ConversationId,
        kind: Option<ConversationKind>,
    ) -> Result<Membership> {
        match self
            .deps
            .conversations
            .membership(conversation, user)
            .await?
        {
            Some(m) if kind.is_none_or(|k| m.conversation.kind == k) => Ok(m),
            _ => Err(ChatError::ConversationNotFound),
        }
    }

    /// Resolves a [`ConversationRef`] to the caller's membership. A direct
    /// conversation with an existing user that was never started is `None`.
    ///
    /// # Errors
    /// `USER_NOT_FOUND` for an unknown peer, `CONVERSATION_NOT_FOUND`.
    async fn resolve(&self, user: UserId, target: ConversationRef) -> Result<Option<Membership>> {
        let (id, kind) = match target {
            ConversationRef::Direct(peer) => {
                if self.deps.users.user_summaries(&[peer]).await?.is_empty() {
                    return Err(ChatError::UserNotFound);
                }
                match self.deps.conversations.direct_between(user, peer).await? {
                    Some(id) => (id, Some(ConversationKind::Direct)),
                    None => return Ok(None),
                }
            }
            ConversationRef::Group(id) => (id, Some(ConversationKind::Group)),
            ConversationRef::Id(id) => (id, None),
        };
        self.require_member(user, id, kind).await.map(Some)
    }
}
