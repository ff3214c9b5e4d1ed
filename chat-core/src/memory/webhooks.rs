//! [`WebhookStore`] for [`MemoryStore`].

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::Result;
use crate::ids::{ConversationId, DeadLetterId, WebhookId};
use crate::model::{DeadLetter, NewWebhook, Webhook, WebhookCursorMove};
use crate::store::WebhookStore;

/// The webhooks of a [`MemoryStore`], by id (UUIDv7: registration order),
/// with their cursors and dead letters.
#[derive(Debug, Default)]
pub(super) struct WebhookState {
    hooks: BTreeMap<WebhookId, Webhook>,
    cursors: HashMap<(WebhookId, ConversationId), u64>,
    dead_letters: BTreeMap<DeadLetterId, DeadLetter>,
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(&self, hook: NewWebhook) -> Result<()> {
        self.state().webhooks.hooks.insert(hook.id, hook);
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let state = self.state();
        let mut hooks: Vec<Webhook> = state.webhooks.hooks.values().cloned().collect();
        hooks.sort_by_key(|h| (h.created_at, h.id));
        Ok(hooks)
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        let mut state = self.state();
        let w = &mut state.webhooks;
        let found = w.hooks.remove(&id).is_some();
        w.cursors.retain(|(hook, _), _| *hook != id);
        w.dead_letters.retain(|_, letter| letter.webhook_id != id);
        Ok(found)
    }

    async fn webhook_cursor(
        &self,
        id: WebhookId,
        conversation: ConversationId,
    ) -> Result<Option<u64>> {
        Ok(self
            .state()
            .webhooks
            .cursors
            .get(&(id, conversation))
            .copied())
    }

    async fn advance_webhook_cursors(&self, moves: &[WebhookCursorMove]) -> Result<()> {
        let mut state = self.state();
        let w = &mut state.webhooks;
        for m in moves {
            if w.hooks.contains_key(&m.webhook) {
                let cursor = w.cursors.entry((m.webhook, m.conversation)).or_default();
                *cursor = (*cursor).max(m.seq);
            }
        }
        Ok(())
    }

    async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()> {
        let mut state = self.state();
        let w = &mut state.webhooks;
        if w.hooks.contains_key(&letter.webhook_id) {
            w.dead_letters.insert(letter.id, letter);
        }
        Ok(())
    }

    async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>> {
        let state = self.state();
        let mut letters: Vec<DeadLetter> = state
            .webhooks
            .dead_letters
            .values()
            .filter(|l| l.webhook_id == id)
            .cloned()
            .collect();
        letters.sort_by_key(|l| (l.failed_at, l.id));
        letters.truncate(limit as usize);
        Ok(letters)
    }

    async fn dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<Option<DeadLetter>> {
        let state = self.state();
        Ok(state
            .webhooks
            .dead_letters
            .get(&letter)
            .filter(|l| l.webhook_id == id)
            .cloned())
    }

    async fn delete_dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<bool> {
        let mut state = self.state();
        let letters = &mut state.webhooks.dead_letters;
        let owned = letters.get(&letter).is_some_and(|l| l.webhook_id == id);
        if owned {
            letters.remove(&letter);
        }
        Ok(owned)
    }
}
