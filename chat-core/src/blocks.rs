//! [`Blocks`]: who blocks whom, cached, for the paths that ask on every
//! direct message, typing event and presence change.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::{ChatError, Result};
use crate::ids::UserId;
use crate::realtime::{EventBus, Notice};
use crate::store::ModerationStore;

/// Users whose blockers are cached (a set each, usually empty).
const BLOCK_CACHE_ENTRIES: usize = 100_000;

/// The users who block each user, read through a cache. One per engine,
/// shared by its services.
///
/// Every block and unblock, on any instance, drops the blocked user's
/// entry through a [`Notice::BlocksChanged`]. While the bus is cut off, an
/// instance may act on a stale entry until the resync clears its cache:
/// a block takes effect everywhere within that window, not in the
/// blocking transaction (docs/security.md says so).
pub(crate) struct Blocks {
    store: Arc<dyn ModerationStore>,
    bus: Arc<dyn EventBus>,
    blockers: RwLock<HashMap<UserId, Arc<HashSet<UserId>>>>,
    /// Counts invalidations, so a read that raced one is not cached.
    generation: AtomicU64,
}

impl Blocks {
    pub(crate) fn new(store: Arc<dyn ModerationStore>, bus: Arc<dyn EventBus>) -> Self {
        Self {
            store,
            bus,
            blockers: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The users who block `user`.
    pub(crate) async fn blockers_of(&self, user: UserId) -> Result<Arc<HashSet<UserId>>> {
        if let Some(set) = self
            .blockers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user)
        {
            return Ok(set.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let set: Arc<HashSet<UserId>> =
            Arc::new(self.store.blockers_of(user).await?.into_iter().collect());
        let mut cache = self.blockers.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            // A block changed while we read: the answer may predate it.
            // Use it this once, but let the next caller read again.
            return Ok(set);
        }
        if cache.len() >= BLOCK_CACHE_ENTRIES {
            // Bounded the crude way, as the member cache is: most users
            // block nobody and cost one small query to come back.
            cache.clear();
        }
        cache.insert(user, set.clone());
        Ok(set)
    }

    /// Refuses a direct conversation or message from `sender` to
    /// `recipient` when a block stands between them: `USER_BLOCKED` when
    /// the sender placed it (they know), `RECIPIENT_UNAVAILABLE` when the
    /// recipient did (saying no more).
    pub(crate) async fn check_direct(&self, sender: UserId, recipient: UserId) -> Result<()> {
        if self.blockers_of(recipient).await?.contains(&sender) {
            return Err(ChatError::UserBlocked);
        }
        if self.blockers_of(sender).await?.contains(&recipient) {
            return Err(ChatError::RecipientUnavailable);
        }
        Ok(())
    }

    /// `to` without the users who block `user`: who may see `user`'s
    /// typing and presence. When the blocks cannot be read, nobody: an
    /// ephemeral event is better lost than shown to someone who blocked
    /// its author.
    pub(crate) async fn audience(&self, user: UserId, mut to: Vec<UserId>) -> Vec<UserId> {
        match self.blockers_of(user).await {
            Ok(blockers) if blockers.is_empty() => to,
            Ok(blockers) => {
                to.retain(|u| !blockers.contains(u));
                to
            }
            Err(e) => {
                tracing::warn!(error = %e, %user, "could not read blocks; event not sent");
                Vec::new()
            }
        }
    }

    /// Someone blocked or unblocked `blocked`: forgets who blocks them
    /// here and tells every other instance to forget it too.
    pub(crate) async fn changed(&self, blocked: UserId) {
        let notice = Notice::BlocksChanged { user_id: blocked };
        if let Err(e) = self.bus.announce(notice).await {
            // The bus ran this instance's handler before failing to reach
            // the others; they clear their caches at the resync.
            tracing::warn!(error = %e, %blocked, "could not announce a block change");
        }
    }

    /// Acts on an instance-wide notice.
    pub(crate) fn on_notice(&self, notice: &Notice) {
        let mut cache = self.blockers.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        match notice {
            Notice::BlocksChanged { user_id } => {
                cache.remove(user_id);
            }
            Notice::Resync => cache.clear(),
            Notice::MembersChanged { .. }
            | Notice::SessionRevoked { .. }
            | Notice::WebhooksChanged => {}
        }
    }
}
