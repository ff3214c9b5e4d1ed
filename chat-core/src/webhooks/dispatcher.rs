//! The dispatcher: claims the webhooks of conversations with new log
//! entries, one (conversation, webhook) pair at a time, and posts each
//! webhook what it wants of them, in seq order.

use serde_json::json;
use tokio::task::JoinHandle;

use super::registry::{DueKey, due_keys};
use super::{DeliveryOutcome, WebhookService};
use crate::error::Result;
use crate::ids::{ConversationId, DeadLetterId};
use crate::model::{DeadLetter, LogEntry, Webhook, WebhookCursorMove, WebhookEvent};
use crate::realtime::WorkKind;
use crate::realtime::due_worker::{self, Claims};
use crate::time::Timestamp;

/// Log entries read at once (the store's page).
const PAGE: u64 = 100;

impl WebhookService {
    /// One round of the dispatcher: claims up to `batch` due
    /// (conversation, webhook) pairs and delivers them concurrently
    /// (within each, entries in seq order), waiting for all. Returns how
    /// many keys it claimed. A pair whose delivery failed (the store is
    /// down) is claimed again a second later.
    ///
    /// # Errors
    /// The due work backend's errors when claiming.
    pub async fn deliver_due(&self) -> Result<usize> {
        due_worker::round(&self.deps.due, self.claims(), |key| {
            let service = self.clone();
            async move { service.deliver_key(&key).await }
        })
        .await
    }

    /// Delivers due (conversation, webhook) pairs until the runtime stops,
    /// up to `batch` at once, each as soon as it is claimed: a receiver
    /// being retried holds up only its own deliveries. Every instance runs
    /// one.
    pub fn spawn_dispatcher(&self) -> JoinHandle<()> {
        let service = self.clone();
        due_worker::spawn_loop(
            self.deps.due.clone(),
            self.claims(),
            self.config.poll,
            move |key| {
                let service = service.clone();
                async move { service.deliver_key(&key).await }
            },
        )
    }

    /// How the dispatcher claims its keys.
    fn claims(&self) -> Claims {
        Claims {
            kind: WorkKind::Webhooks,
            settle: self.config.settle,
            lease: self.config.lease,
            batch: self.config.batch,
        }
    }

    /// Delivers what one claimed key asks for ([`DueKey`]), then lets go
    /// of it.
    async fn deliver_key(&self, key: &str) -> Result<()> {
        let d = &self.deps;
        match DueKey::parse(key) {
            Some(DueKey::Hook(conversation, hook)) => {
                // A webhook deleted meanwhile has nothing left to deliver.
                if let Some(hook) = d.registry.find(hook).await? {
                    self.deliver_log(&hook, conversation).await?;
                }
            }
            Some(DueKey::Conversation(conversation)) => {
                let hooks = d.registry.current().await?;
                d.due
                    .mark_due(WorkKind::Webhooks, &due_keys(&hooks, conversation))
                    .await?;
            }
            None => {
                tracing::warn!(%key, "dropping a due webhook key that is neither a conversation nor a conversation and webhook");
            }
        }
        d.due.release(WorkKind::Webhooks, key).await
    }

    /// Posts the entries of `conversation`'s log past `hook`'s cursor that
    /// it wants, in seq order, moving the cursor page by page.
    async fn deliver_log(&self, hook: &Webhook, conversation: ConversationId) -> Result<()> {
        let d = &self.deps;
        let mut next = match d.store.webhook_cursor(hook.id, conversation).await? {
            Some(seq) => seq + 1,
            None => match self.first_seq(hook, conversation).await? {
                Some(seq) => seq,
                None => return Ok(()),
            },
        };
        loop {
            let entries = d
                .messages
                .log_between(conversation, next, next + PAGE - 1)
                .await?;
            let Some(last) = entries.last().map(LogEntry::seq) else {
                return Ok(());
            };
            for entry in &entries {
                let (event, at) = event_of(entry);
                // Entries from before the webhook existed are not its.
                if at < hook.created_at || !hook.events.contains(&event) {
                    continue;
                }
                self.deliver_entry(hook, conversation, entry, event).await?;
            }
            self.cursors
                .advance(WebhookCursorMove {
                    webhook: hook.id,
                    conversation,
                    seq: last,
                })
                .await?;
            // The log has no gaps: a short page is its end.
            if entries.len() < PAGE as usize {
                return Ok(());
            }
            next = last + 1;
        }
    }

    /// Where a webhook's first delivery in a conversation starts: the page
    /// of its log holding the first entry made after the webhook was
    /// registered (older entries on that page are skipped by time). Found
    /// by reading the log backwards a page at a time from its newest entry,
    /// so a conversation older than the webhook costs one page, and none of
    /// a younger one's entries is missed however many came before the
    /// first delivery. `None` for a conversation with no members left.
    async fn first_seq(&self, hook: &Webhook, conversation: ConversationId) -> Result<Option<u64>> {
        let d = &self.deps;
        let Some(member) = d
            .conversations
            .members(conversation)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let Some(membership) = d
            .conversations
            .membership(conversation, member.member.user_id)
            .await?
        else {
            return Ok(None);
        };
        let mut to = membership.conversation.last_seq;
        while to > 1 {
            let from = to.saturating_sub(PAGE - 1).max(1);
            let page = d.messages.log_between(conversation, from, to).await?;
            if page
                .first()
                .is_none_or(|entry| event_of(entry).1 < hook.created_at)
            {
                return Ok(Some(from));
            }
            to = from - 1;
        }
        Ok(Some(1))
    }

    /// Posts one entry, retrying as the receiver allows; what cannot be
    /// delivered becomes a dead letter. Fails only when the store does
    /// (the entry is then delivered again with the next claim).
    async fn deliver_entry(
        &self,
        hook: &Webhook,
        conversation: ConversationId,
        entry: &LogEntry,
        event: WebhookEvent,
    ) -> Result<()> {
        let d = &self.deps;
        let seq = entry.seq();
        let data = match entry {
            LogEntry::Message(m) => json!({ "message": m }),
            LogEntry::Change(c) => json!({ "change": c }),
        };
        let body = json!({
            "id": format!("{conversation}:{seq}"),
            "event": event.as_str(),
            "webhook_id": hook.id,
            "conversation_id": conversation,
            "seq": seq,
            "data": data,
        })
        .to_string()
        .into_bytes();
        let mut delays = self.config.retry_delays.iter();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let delivery = self.sign(hook, &conversation, seq, event, body.clone());
            let outcome = d.sender.post(&hook.url, &delivery).await;
            d.metrics.webhook_outcome(outcome.label());
            let reason = match outcome {
                DeliveryOutcome::Delivered => return Ok(()),
                DeliveryOutcome::Failed { reason } => reason,
                DeliveryOutcome::Retry { after, reason } => match delays.next() {
                    Some(delay) => {
                        let wait = after.map_or(*delay, |a| a.clamp(*delay, *delay * 2));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    None => reason,
                },
            };
            tracing::warn!(webhook = %hook.id, %conversation, seq, %reason, attempts, "a webhook delivery failed for good; kept as a dead letter");
            return d
                .store
                .add_dead_letter(DeadLetter {
                    id: DeadLetterId::new(),
                    webhook_id: hook.id,
                    event,
                    conversation_id: conversation,
                    seq,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    attempts,
                    last_error: reason,
                    failed_at: d.clock.now(),
                })
                .await;
        }
    }
}

/// An entry's event, and when it happened.
fn event_of(entry: &LogEntry) -> (WebhookEvent, Timestamp) {
    match entry {
        LogEntry::Message(m) => (WebhookEvent::MessageCreated, m.created_at),
        LogEntry::Change(c) => (WebhookEvent::of_change(c.change), c.at),
    }
}
