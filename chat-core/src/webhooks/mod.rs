//! Outgoing webhooks (docs/api.md, "Webhooks"): an operator or embedder
//! registers a URL and the events it wants; every entry of a conversation
//! log it wants is posted there, signed, in seq order per conversation,
//! retried with backoff, and kept as a dead letter when it cannot be
//! delivered.
//!
//! Delivery never slows the message path: after a message or change is
//! stored, the fan-out marks the conversation due for each webhook
//! watching it ([`DueWork`], one mark per conversation and webhook until
//! it is handled); the dispatcher on some instance claims the pair, reads
//! the log from the webhook's cursor, posts what it wants and moves the
//! cursor. A pair is handled by one instance at a time, so each webhook
//! gets a conversation's entries in order, once, and a webhook waiting
//! out a receiver's retries holds up no other.
//!
//! [`DueWork`]: crate::realtime::DueWork

mod cursors;
mod dispatcher;
mod registry;
mod sender;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

pub use sender::{Delivery, DeliveryOutcome, WebhookSender};

#[cfg(any(test, feature = "mock"))]
pub use sender::MockWebhookSender;

pub(crate) use registry::WebhookRegistry;

use cursors::CursorWrites;

use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{ConversationId, DeadLetterId, UserId, WebhookId};
use crate::metrics::Metrics;
use crate::model::{DeadLetter, NewWebhook, Webhook, WebhookEvent};
use crate::realtime::{DueWork, EventBus, Notice};
use crate::store::{ConversationStore, MessageStore, WebhookStore};
use crate::time::Clock;

/// The longest webhook URL taken.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;

/// The shortest secret an operator may choose (a generated one is 43
/// characters).
pub const MIN_SECRET_LEN: usize = 16;

/// Settings of webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How long after a conversation's first undelivered entry the
    /// dispatcher waits (default 250 ms), so a busy conversation's entries
    /// go out a batch at a time, with one cursor write per batch rather
    /// than per entry.
    pub settle: Duration,
    /// How long a claim on a (conversation, webhook) pair lasts unless
    /// renewed (default 120 s): the dispatcher renews it every third of
    /// that while it works on the pair, so an instance that dies loses its
    /// pairs within a lease.
    pub lease: Duration,
    /// (Conversation, webhook) pairs handled at once (default 32); the
    /// dispatcher takes the next due one as soon as one is done.
    pub batch: usize,
    /// How often an idle dispatcher looks for due pairs (default 100 ms).
    pub poll: Duration,
    /// Waits between attempts of a delivery that may succeed later
    /// (default 1 s, 5 s, 25 s: four attempts in all). A receiver's
    /// `Retry-After` may stretch each to twice as long.
    pub retry_delays: Vec<Duration>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            settle: Duration::from_millis(250),
            lease: Duration::from_secs(120),
            batch: 32,
            poll: Duration::from_millis(100),
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(25),
            ],
        }
    }
}

/// A webhook to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// Where to post (`https`, a public address).
    pub url: String,
    /// The events it wants (at least one).
    pub events: Vec<WebhookEvent>,
    /// Only this conversation's events; `None` for all.
    pub conversation_id: Option<ConversationId>,
    /// The signing secret (at least 16 characters); `None` to have one
    /// generated.
    pub secret: Option<String>,
}

/// Webhook registrations, dead letters and the dispatcher. Cheap to
/// clone; clones share everything.
#[derive(Clone)]
pub struct WebhookService {
    deps: Arc<WebhookDeps>,
    config: Arc<WebhookConfig>,
    /// The dispatcher's cursor moves, written together.
    cursors: Arc<CursorWrites>,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What [`WebhookService`] works with.
pub(crate) struct WebhookDeps {
    pub(crate) store: Arc<dyn WebhookStore>,
    pub(crate) conversations: Arc<dyn ConversationStore>,
    pub(crate) messages: Arc<dyn MessageStore>,
    pub(crate) registry: Arc<WebhookRegistry>,
    pub(crate) due: Arc<dyn DueWork>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) sender: Arc<dyn WebhookSender>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Metrics,
}

impl WebhookService {
    pub(crate) fn new(deps: WebhookDeps, config: WebhookConfig) -> Self {
        Self {
            cursors: Arc::new(CursorWrites::new(deps.store.clone())),
            deps: Arc::new(deps),
            config: Arc::new(config),
        }
    }

    /// Registers a webhook; it is told of log entries from now on.
    ///
    /// # Errors
    /// `INVALID_URL` / `URL_NOT_ALLOWED` (field `url`), `INVALID_EVENTS`
    /// (none, or repeated), `WEAK_SECRET` (under 16 characters),
    /// `CONVERSATION_NOT_FOUND`.
    pub async fn register(
        &self,
        created_by: Option<UserId>,
        request: WebhookRequest,
    ) -> Result<Webhook> {
        let d = &self.deps;
        if request.url.len() > MAX_WEBHOOK_URL_LEN {
            return Err(ValidationError::new(
                "url",
                "INVALID_URL",
                "url may be at most 2048 characters",
            )
            .into());
        }
        let mut events = request.events.clone();
        events.sort();
        events.dedup();
        if events.is_empty() || events.len() != request.events.len() {
            return Err(ValidationError::new(
                "events",
                "INVALID_EVENTS",
                "events must name at least one event, each once",
            )
            .into());
        }
        let secret = match request.secret {
            Some(s) if s.chars().count() < MIN_SECRET_LEN => {
                return Err(ValidationError::new(
                    "secret",
                    "WEAK_SECRET",
                    "a webhook secret has at least 16 characters",
                )
                .into());
            }
            Some(s) => s,
            None => crate::auth::secrets::generate()?,
        };
        if let Some(c) = request.conversation_id
            && d.conversations.members(c).await?.is_empty()
        {
            return Err(ChatError::ConversationNotFound);
        }
        d.sender.check(&request.url).await?;
        let hook = NewWebhook {
            id: WebhookId::new(),
            url: request.url,
            events: request.events,
            conversation_id: request.conversation_id,
            secret,
            created_by,
            created_at: d.clock.now(),
        };
        d.store.create_webhook(hook.clone()).await?;
        self.announce_change().await?;
        Ok(hook)
    }

    /// Every webhook, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.deps.store.webhooks().await
    }

    /// Deletes a webhook, its cursors and its dead letters.
    ///
    /// # Errors
    /// `WEBHOOK_NOT_FOUND`.
    pub async fn delete(&self, id: WebhookId) -> Result<()> {
        let d = &self.deps;
        if !d.store.delete_webhook(id).await? {
            return Err(ChatError::WebhookNotFound);
        }
        self.announce_change().await
    }

    /// Reads the webhooks again here, and tells the other instances to.
    /// A failure to reach them is only logged: they read the list again
    /// within a few seconds anyway.
    async fn announce_change(&self) -> Result<()> {
        let d = &self.deps;
        d.registry.reload().await?;
        if let Err(e) = d.bus.announce(Notice::WebhooksChanged).await {
            tracing::warn!(error = %e, "could not tell the other instances of a webhook change; they see it within seconds");
        }
        Ok(())
    }

    /// Acts on an instance-wide notice (the engine registers it).
    pub(crate) fn on_notice(&self, notice: &Notice) {
        self.deps.registry.on_notice(notice);
    }

    /// Up to `limit` (1 to 100) of a webhook's dead letters, oldest
    /// first.
    ///
    /// # Errors
    /// `WEBHOOK_NOT_FOUND`, `INVALID_PAGINATION`.
    pub async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>> {
        if !(1..=100).contains(&limit) {
            return Err(ChatError::InvalidPagination(ValidationError::new(
                "limit",
                "INVALID_PAGINATION",
                "limit must be between 1 and 100",
            )));
        }
        self.require(id).await?;
        self.deps.store.dead_letters(id, limit).await
    }

    /// Posts a dead letter's body again, freshly signed; delivered, the
    /// letter is deleted. Returns what the receiver said.
    ///
    /// # Errors
    /// `WEBHOOK_NOT_FOUND`, `DEAD_LETTER_NOT_FOUND`.
    pub async fn replay(&self, id: WebhookId, letter: DeadLetterId) -> Result<DeliveryOutcome> {
        let d = &self.deps;
        let hook = self.require(id).await?;
        let found = d
            .store
            .dead_letter(id, letter)
            .await?
            .ok_or(ChatError::DeadLetterNotFound)?;
        let delivery = self.sign(
            &hook,
            &found.conversation_id,
            found.seq,
            found.event,
            found.body.into_bytes(),
        );
        let outcome = d.sender.post(&hook.url, &delivery).await;
        if outcome == DeliveryOutcome::Delivered {
            d.store.delete_dead_letter(id, letter).await?;
        }
        Ok(outcome)
    }

    async fn require(&self, id: WebhookId) -> Result<Webhook> {
        self.deps
            .store
            .webhooks()
            .await?
            .into_iter()
            .find(|h| h.id == id)
            .ok_or(ChatError::WebhookNotFound)
    }

    /// A delivery of `body` for `hook`, signed now.
    fn sign(
        &self,
        hook: &Webhook,
        conversation: &ConversationId,
        seq: u64,
        event: WebhookEvent,
        body: Vec<u8>,
    ) -> Delivery {
        let now = u64::try_from(self.deps.clock.now().as_millis() / 1000).unwrap_or(0);
        Delivery {
            id: format!("{conversation}:{seq}"),
            event: event.as_str(),
            signature: signature::sign(&hook.secret, now, &body),
            body,
        }
    }
}
