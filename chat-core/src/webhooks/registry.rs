//! [`WebhookRegistry`]: this instance's copy of the registered webhooks,
//! so the message path knows without a store read whether a conversation
//! has anyone to tell.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::ids::{ConversationId, WebhookId};
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

    /// After a new entry in `conversation`'s log: marks it due for each
    /// webhook watching the conversation ([`DueKey::Hook`]), in one call.
    /// Costs nothing (no store read, no mark) while no webhook watches it;
    /// a stale copy is refreshed in the background. Before the first read
    /// it marks the conversation as a whole ([`DueKey::Conversation`]).
    pub(crate) async fn note(self: &Arc<Self>, conversation: ConversationId) {
        let keys: Vec<String> = {
            let copy = self.copy.read().unwrap_or_else(|e| e.into_inner());
            match copy.as_ref() {
                None => {
                    self.refresh_in_background();
                    vec![DueKey::Conversation(conversation).to_string()]
                }
                Some((hooks, at)) => {
                    if at.elapsed() >= REFRESH {
                        self.refresh_in_background();
                    }
                    due_keys(hooks, conversation)
                }
            }
        };
        if keys.is_empty() {
            return;
        }
        if let Err(e) = self.due.mark_due(WorkKind::Webhooks, &keys).await {
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

    /// The webhook `id`, from the copy, or from the store when the copy
    /// does not know it (registered on another instance a moment ago).
    pub(crate) async fn find(&self, id: WebhookId) -> Result<Option<Webhook>> {
        let find = |hooks: &[Webhook]| hooks.iter().find(|h| h.id == id).cloned();
        if let Some(hook) = self.fresh_copy().as_deref().and_then(|h| find(h)) {
            return Ok(Some(hook));
        }
        Ok(find(&self.reload().await?))
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

/// What the dispatcher is asked to deliver: the key of a due mark.
///
/// Each webhook of a conversation is due on its own, so one waiting out a
/// receiver's retries holds up no other webhook of the same entries; one
/// instance at a time holds a key, so each webhook gets a conversation's
/// entries in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DueKey {
    /// `{conversation_id}/{webhook_id}`: one webhook's deliveries in one
    /// conversation.
    Hook(ConversationId, WebhookId),
    /// `{conversation_id}`: every webhook watching the conversation
    /// (marked before an instance has read the webhooks, or by a build
    /// before per-webhook keys); handled by marking a [`DueKey::Hook`]
    /// for each.
    Conversation(ConversationId),
}

impl DueKey {
    /// Reads a key; `None` for one that is neither form.
    pub(crate) fn parse(key: &str) -> Option<Self> {
        match key.split_once('/') {
            Some((conversation, hook)) => {
                Some(Self::Hook(conversation.parse().ok()?, hook.parse().ok()?))
            }
            None => Some(Self::Conversation(key.parse().ok()?)),
        }
    }
}

impl std::fmt::Display for DueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hook(conversation, hook) => write!(f, "{conversation}/{hook}"),
            Self::Conversation(conversation) => write!(f, "{conversation}"),
        }
    }
}

/// The keys to mark for a new entry in `conversation`: one per webhook
/// watching it.
pub(crate) fn due_keys(hooks: &[Webhook], conversation: ConversationId) -> Vec<String> {
    hooks
        .iter()
        .filter(|h| h.conversation_id.is_none_or(|c| c == conversation))
        .map(|h| DueKey::Hook(conversation, h.id).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_read_back_and_nonsense_is_refused() {
        let (conversation, hook) = (ConversationId::new(), WebhookId::new());
        for key in [
            DueKey::Hook(conversation, hook),
            DueKey::Conversation(conversation),
        ] {
            assert_eq!(DueKey::parse(&key.to_string()), Some(key));
        }
        for bad in [
            "",
            "x",
            "x/y",
            &format!("{conversation}/"),
            &format!("{conversation}/{hook}/1"),
        ] {
            assert_eq!(DueKey::parse(bad), None, "{bad}");
        }
    }
}
