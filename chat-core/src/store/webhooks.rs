use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ConversationId, DeadLetterId, WebhookId};
use crate::model::{DeadLetter, NewWebhook, Webhook, WebhookCursorMove};

/// Outgoing webhooks: their registrations, how far each has been told of
/// each conversation's log, and the deliveries that failed for good.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Registers a webhook.
    async fn create_webhook(&self, hook: NewWebhook) -> Result<()>;

    /// Every webhook, oldest first.
    async fn webhooks(&self) -> Result<Vec<Webhook>>;

    /// Deletes a webhook with its cursors and dead letters. True when one
    /// was deleted.
    async fn delete_webhook(&self, id: WebhookId) -> Result<bool>;

    /// The seq through which webhook `id` was told of `conversation`'s
    /// log; `None` before its first delivery there.
    async fn webhook_cursor(
        &self,
        id: WebhookId,
        conversation: ConversationId,
    ) -> Result<Option<u64>>;

    /// Moves each cursor of `moves` to its seq, never backwards, all in
    /// one transaction: the dispatcher gathers the moves of every
    /// conversation it finished meanwhile into one call, so webhooks cost
    /// the store few commits however many conversations they follow.
    /// Nothing happens for a webhook that was deleted.
    async fn advance_webhook_cursors(&self, moves: &[WebhookCursorMove]) -> Result<()>;

    /// Keeps a delivery that failed for good. Nothing happens for a
    /// webhook that was deleted.
    async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()>;

    /// Up to `limit` of webhook `id`'s dead letters, oldest first.
    async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>>;

    /// One of webhook `id`'s dead letters.
    async fn dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<Option<DeadLetter>>;

    /// Deletes one of webhook `id`'s dead letters (it was replayed or
    /// dismissed). True when one was deleted.
    async fn delete_dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<bool>;
}
