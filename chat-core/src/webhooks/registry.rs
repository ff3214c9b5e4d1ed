//! [`WebhookRegistry`]: this instance's copy of the registered webhooks,
//! so the message path knows without a store read whether a conversation
//! has anyone to tell.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::ids::ConversationId;
use crate::log_throttle::{Throttle, WARN_INTERVAL, cause};
use crate::model::Webhook;
use crate::realtime::{DueWork, Notice, WorkKind};
use crate::store::WebhookStore;

/// How long a copy of the webhooks is used before it is read again. A
/// webhook registered on another instance is announced
/// ([`Notice::WebhooksChanged`]); this is for a notice that was lost.
pub(crate) const REFRESH: Duration = Duration::from_secs(5);

/// The webhooks, as last read, and when.
pub(crate) struct WebhookRegistry {
    store: Arc<dyn WebhookStore>,
    due: Arc<dyn DueWork>,
    /// `None` until first read: every conversation counts as watched.
    copy: RwLock<Option<(Arc<Vec<Webhook>>, Instant)>>,
    refreshing: AtomicBool,
}

impl WebhookRegistry {
    pub(crate) fn new(store: Arc<dyn WebhookStore>, due: Arc<dyn DueWork>) -> Self {
        Self {
            store,
            due,
            copy: RwLock::new(None),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Reads the webhooks from the store and keeps them.
    pub(crate) async fn reload(&self) -> Result<Arc<Vec<Webhook>>> {
        let hooks = Arc::new(self.store.webhooks().await?);
        *self.copy.write().unwrap_or_else(|e| e.into_inner()) =
            Some((hooks.clone(), Instant::now()));
        Ok(hooks)
    }

    /// The webhooks, read again when the copy is older than [`REFRESH`].
    pub(crate) async fn current(&self) -> Result<Arc<Vec<Webhook>>> {
        match self.fresh_copy() {
            Some(hooks) => Ok(hooks),
            None => self.reload().await,
        }
    }

    fn fresh_copy(&self) -> Option<Arc<Vec<Webhook>>> {
        let copy = self.copy.read().unwrap_or_else(|e| e.into_inner());
        copy.as_ref()
            .filter(|(_, at)| at.elapsed() < REFRESH)
            .map(|(hooks, _)| hooks.clone())
    }

    /// After a new entry in `conversation`'s log: marks the conversation
    /// due for the dispatcher when a webhook may want it. Costs nothing
    /// (no store read, no mark) while no webhook watches it; a stale copy
    /// is refreshed in the background.
    pub(crate) async fn note(self: &Arc<Self>, conversation: ConversationId) {
        let watched = {
            let copy = self.copy.read().unwrap_or_else(|e| e.into_inner());
            match copy.as_ref() {
                None => {
                    self.refresh_in_background();
                    true
                }
                Some((hooks, at)) => {
                    if at.elapsed() >= REFRESH {
                        self.refresh_in_background();
                    }
                    hooks
                        .iter()
                        .any(|h| h.conversation_id.is_none_or(|c| c == conversation))
                }
            }
        };
        if !watched {
            return;
        }
        let key = [conversation.to_string()];
        if let Err(e) = self.due.mark_due(WorkKind::Webhooks, &key).await {
            static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
            if let Some(held_back) = THROTTLE.check() {
                tracing::warn!(error = %cause(&e), %conversation, held_back, "could not mark a conversation for its webhooks (its entries go out with the conversation's next one)");
            }
        }
    }

    /// Acts on an instance-wide notice: a webhook registered or deleted on
    /// any instance, or a resync, has the list read again (in the
    /// background: notice handlers must not block).
    pub(crate) fn on_notice(self: &Arc<Self>, notice: &Notice) {
        match notice {
            Notice::WebhooksChanged | Notice::Resync => {
                if tokio::runtime::Handle::try_current().is_ok() {
                    self.refresh_in_background();
                }
            }
            Notice::MembersChanged { .. }
            | Notice::BlocksChanged { .. }
            | Notice::SessionRevoked { .. } => {}
        }
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let registry = self.clone();
        tokio::spawn(async move {
            if let Err(e) = registry.reload().await {
                tracing::warn!(error = %cause(&e), "could not read the webhooks");
            }
            registry.refreshing.store(false, Ordering::Release);
        });
    }
}
