//! [`Members`]: who is in each conversation, cached, for the services that
//! need it on every message (routing a send, fan-out, typing, receipts).
//!
//! The cache answers routing questions without a query. It never decides
//! who may do something on its own: a cached "member" is confirmed by the
//! store in the transaction that stores the message, and a cached "not a
//! member" is checked against the store before anything is refused (see
//! [`Members::require`]). Every membership change, on any instance, drops
//! the conversation's entry through a [`Notice::MembersChanged`].

mod cache;

use std::sync::Arc;

use cache::MemberCache;

use crate::error::{ChatError, Result};
use crate::ids::{ConversationId, UserId};
use crate::model::{ConversationKind, PostingPolicy};
use crate::realtime::{EventBus, Notice};
use crate::store::ConversationStore;

/// A conversation's kind and current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberSet {
    pub(crate) kind: ConversationKind,
    pub(crate) users: Vec<UserId>,
    /// Who may post, when not everyone may (a group whose posting policy
    /// is `admins`: its owner and admins). Role and policy changes drop
    /// the entry like membership changes do.
    pub(crate) posters: Option<Vec<UserId>>,
}

impl MemberSet {
    pub(crate) fn contains(&self, user: UserId) -> bool {
        self.users.contains(&user)
    }

    /// Whether `user` (a member) may send messages here.
    pub(crate) fn may_post(&self, user: UserId) -> bool {
        self.posters.as_ref().is_none_or(|p| p.contains(&user))
    }

    /// Everyone but `user`.
    pub(crate) fn others(&self, user: UserId) -> Vec<UserId> {
        self.users.iter().copied().filter(|u| *u != user).collect()
    }
}

/// Conversations whose members are cached.
const MEMBER_CACHE_ENTRIES: usize = 100_000;

/// The member lists of conversations and the direct conversation of each
/// pair, read through a cache. One per engine, shared by its services.
pub(crate) struct Members {
    store: Arc<dyn ConversationStore>,
    bus: Arc<dyn EventBus>,
    cache: MemberCache,
}

impl Members {
    pub(crate) fn new(store: Arc<dyn ConversationStore>, bus: Arc<dyn EventBus>) -> Self {
        Self {
            store,
            bus,
            cache: MemberCache::new(MEMBER_CACHE_ENTRIES),
        }
    }

    /// The members of a conversation, from the cache or the store (an
    /// unknown conversation has none).
    pub(crate) async fn of(&self, conversation: ConversationId) -> Result<Arc<MemberSet>> {
        if let Some(set) = self.cache.get(conversation) {
            return Ok(set);
        }
        self.load(conversation).await
    }

    async fn load(&self, conversation: ConversationId) -> Result<Arc<MemberSet>> {
        let entries = self.store.members(conversation).await?;
        let Some(first) = entries.first() else {
            return Ok(Arc::new(MemberSet {
                kind: ConversationKind::Group,
                users: Vec::new(),
                posters: None,
            }));
        };
        let (kind, posting) = self
            .store
            .membership(conversation, first.member.user_id)
            .await?
            .map_or((ConversationKind::Group, PostingPolicy::Everyone), |m| {
                (m.conversation.kind, m.conversation.posting)
            });
        let posters = (posting != PostingPolicy::Everyone).then(|| {
            entries
                .iter()
                .filter(|e| posting.allows(e.member.role))
                .map(|e| e.member.user_id)
                .collect()
        });
        let set = Arc::new(MemberSet {
            kind,
            users: entries.iter().map(|e| e.member.user_id).collect(),
            posters,
        });
        if !set.users.is_empty() {
            self.cache.insert(conversation, set.clone());
        }
        Ok(set)
    }

    /// The members of a conversation `user` belongs to (of `kind`, when
    /// given); `CONVERSATION_NOT_FOUND` otherwise.
    ///
    /// A cached list that does not name `user` may be stale (they joined
    /// on another instance a moment ago): the store decides, and a stale
    /// entry is reloaded. A cached list that names them is trusted for
    /// routing only; callers that write (a send) have the store confirm
    /// membership in the same transaction.
    pub(crate) async fn require(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Arc<MemberSet>> {
        let mut set = self.of(conversation).await?;
        if !set.contains(user) {
            if self.store.membership(conversation, user).await?.is_none() {
                return Err(ChatError::ConversationNotFound);
            }
            self.cache.invalidate(conversation);
            set = self.load(conversation).await?;
        }
        if kind.is_some_and(|k| k != set.kind) {
            return Err(ChatError::ConversationNotFound);
        }
        Ok(set)
    }

    /// The direct conversation of two users, from the cache or the store
    /// (`None` when they have none yet).
    pub(crate) async fn direct_between(
        &self,
        a: UserId,
        b: UserId,
    ) -> Result<Option<ConversationId>> {
        if let Some(id) = self.cache.direct(a, b) {
            return Ok(Some(id));
        }
        let found = self.store.direct_between(a, b).await?;
        if let Some(id) = found {
            self.remember_direct(id, a, b);
        }
        Ok(found)
    }

    /// Remembers a direct conversation and its two members (they never
    /// change).
    pub(crate) fn remember_direct(&self, conversation: ConversationId, a: UserId, b: UserId) {
        self.cache.insert_direct(a, b, conversation);
        let set = MemberSet {
            kind: ConversationKind::Direct,
            users: vec![a, b],
            posters: None,
        };
        self.cache.insert(conversation, Arc::new(set));
    }

    /// A conversation's members, their roles or its posting policy
    /// changed: forgets its list here and tells
    /// every other instance to forget theirs.
    pub(crate) async fn changed(&self, conversation: ConversationId) {
        // The bus runs this instance's handlers (`on_notice`) before it
        // returns, even when the others cannot be reached.
        let notice = Notice::MembersChanged {
            conversation_id: conversation,
        };
        if let Err(e) = self.bus.announce(notice).await {
            // The other instances drop their caches when the bus comes
            // back (a resync); until then `require` asks the store before
            // refusing anyone, and the store confirms every send.
            tracing::warn!(error = %e, %conversation, "could not announce a membership change");
        }
    }

    /// Acts on an instance-wide notice.
    pub(crate) fn on_notice(&self, notice: &Notice) {
        match notice {
            Notice::MembersChanged { conversation_id } => self.cache.invalidate(*conversation_id),
            Notice::Resync => self.cache.clear(),
            Notice::SessionRevoked { .. }
            | Notice::BlocksChanged { .. }
            | Notice::WebhooksChanged => {}
        }
    }
}
