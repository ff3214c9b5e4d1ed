//! The notifier: claims users with new offline queue entries and sends
//! their devices one notification per conversation.

use std::collections::{BTreeMap, HashMap};

use tokio::task::JoinHandle;

use super::preview::{name_of, preview};
use super::{PushOutcome, PushRequest, PushService, Urgency};
use crate::error::Result;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::log_throttle::cause;
use crate::model::{
    ConversationKind, ConversationOverview, Message, PushLevel, PushNotification, PushSubscription,
    UserSummary,
};
use crate::realtime::due_worker::{self, Claims};
use crate::realtime::{QueuedMessage, WorkKind};

/// The most entries of one user read per round: a user with more waiting
/// hears of the newest.
const ENTRIES_PER_USER: usize = 200;

impl PushService {
    /// One round of the notifier: claims up to `batch` users with new
    /// offline queue entries that have settled, and handles them
    /// concurrently (each device of each gets one notification per
    /// conversation with news), waiting for all. Returns how many users
    /// it claimed. A user whose handling failed (the store is down) is
    /// claimed again a second later.
    ///
    /// # Errors
    /// The queue's errors when claiming.
    pub async fn notify_due(&self) -> Result<usize> {
        due_worker::round(&self.deps.realtime.due, self.claims(), |key| {
            let service = self.clone();
            async move { service.notify_user(&key).await }
        })
        .await
    }

    /// Handles due users until the runtime stops, up to `batch` at once,
    /// each as soon as it is claimed (a push service that hangs holds up
    /// only its own user). Every instance runs one; the claims keep them
    /// from notifying twice.
    pub fn spawn_notifier(&self) -> JoinHandle<()> {
        let service = self.clone();
        due_worker::spawn_loop(
            self.deps.realtime.due.clone(),
            self.claims(),
            self.config.poll,
            move |key| {
                let service = service.clone();
                async move { service.notify_user(&key).await }
            },
        )
    }

    /// How the notifier claims users.
    fn claims(&self) -> Claims {
        Claims {
            kind: WorkKind::Push,
            settle: self.config.settle,
            lease: self.config.lease,
            batch: self.config.batch,
        }
    }

    /// Handles one claimed user, marks every entry read as handled
    /// (notified or not: muted, read meanwhile, online again), and lets go
    /// of the user. A failure keeps the claim until its lease runs out, so
    /// the user is handled again then.
    async fn notify_user(&self, key: &str) -> Result<()> {
        let d = &self.deps;
        let Ok(user) = key.parse::<UserId>() else {
            tracing::warn!(%key, "dropping a due push key that is not a user id");
            return d.realtime.due.release(WorkKind::Push, key).await;
        };
        let queue = &d.realtime.queue;
        let entries = queue.unhandled(user, ENTRIES_PER_USER).await?;
        if !entries.is_empty() && !self.is_online(user).await? {
            self.notify_devices(user, &entries).await?;
        }
        queue.mark_handled(user, &marks_of(&entries)).await?;
        d.realtime.due.release(WorkKind::Push, key).await
    }

    /// Sends each of the user's devices the notifications `entries` make.
    async fn notify_devices(&self, user: UserId, entries: &[QueuedMessage]) -> Result<()> {
        let d = &self.deps;
        let subscriptions = d.subscriptions.push_subscriptions(user).await?;
        if subscriptions.is_empty() {
            return Ok(());
        }
        let news = self.news_for(user, entries).await?;
        for subscription in &subscriptions {
            for notification in news.iter().filter(|n| wants(subscription, n)) {
                if !self.deliver(subscription, notification).await {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Whether the user has a live connection anywhere (they see their
    /// messages there).
    async fn is_online(&self, user: UserId) -> Result<bool> {
        Ok(self.deps.realtime.offline_among(&[user]).await?.is_empty())
    }

    /// One notification per conversation with unread, live messages among
    /// `entries`, skipping muted conversations and those the user left.
    async fn news_for(
        &self,
        user: UserId,
        entries: &[QueuedMessage],
    ) -> Result<Vec<PushNotification>> {
        let d = &self.deps;
        let overviews = d.conversations.overviews(user, None).await?;
        let badge: u64 = overviews.iter().map(|o| o.membership.unread_count()).sum();
        let by_id: HashMap<ConversationId, &ConversationOverview> = overviews
            .iter()
            .map(|o| (o.membership.conversation.id, o))
            .collect();
        let mut per_conversation: BTreeMap<ConversationId, Vec<MessageId>> = BTreeMap::new();
        for e in entries {
            let Some(o) = by_id.get(&e.conversation_id) else {
                continue;
            };
            let member = &o.membership.member;
            if member.muted || e.seq <= member.read_seq {
                continue;
            }
            per_conversation
                .entry(e.conversation_id)
                .or_default()
                .push(e.message_id);
        }
        let ids: Vec<MessageId> = per_conversation.values().flatten().copied().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let messages: HashMap<MessageId, Message> = d
            .messages
            .messages_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|m| m.deleted_at.is_none())
            .map(|m| (m.id, m))
            .collect();
        let mut senders: Vec<UserId> = messages.values().map(|m| m.sender_id).collect();
        senders.sort();
        senders.dedup();
        let names: HashMap<UserId, UserSummary> = d
            .users
            .user_summaries(&senders)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut news = Vec::new();
        for (conversation, ids) in per_conversation {
            let live: Vec<&Message> = ids.iter().filter_map(|id| messages.get(id)).collect();
            let Some(newest) = live.iter().max_by_key(|m| m.seq) else {
                continue;
            };
            let Some(o) = by_id.get(&conversation) else {
                continue;
            };
            let c = &o.membership.conversation;
            let sender = name_of(names.get(&newest.sender_id));
            let (title, body) = match c.kind {
                ConversationKind::Direct => (sender, preview(newest)),
                ConversationKind::Group => (
                    c.name.clone().unwrap_or_else(|| "Group".to_owned()),
                    format!("{sender}: {}", preview(newest)),
                ),
            };
            news.push(PushNotification {
                conversation_id: conversation,
                conversation_kind: c.kind,
                title,
                body,
                sender_id: newest.sender_id,
                message_id: newest.id,
                seq: newest.seq,
                count: u32::try_from(live.len()).unwrap_or(u32::MAX),
                mentioned: live.iter().any(|m| m.mentions.contains(&user)),
                badge,
                sent_at: newest.created_at,
            });
        }
        Ok(news)
    }

    /// Sends one notification to one device, retrying as the push service
    /// asks, up to the configured delays. False when the device is gone
    /// (its subscription was deleted) and nothing more should go to it.
    async fn deliver(
        &self,
        subscription: &PushSubscription,
        notification: &PushNotification,
    ) -> bool {
        let d = &self.deps;
        let urgent =
            notification.conversation_kind == ConversationKind::Direct || notification.mentioned;
        let request = PushRequest {
            payload: serde_json::to_vec(notification).unwrap_or_default(),
            topic: notification.conversation_id.as_uuid().simple().to_string(),
            ttl: self.config.ttl,
            urgency: if urgent {
                Urgency::High
            } else {
                Urgency::Normal
            },
        };
        let mut delays = self.config.retry_delays.iter();
        loop {
            let outcome = d.pusher.send(subscription, &request).await;
            d.metrics.push_outcome(outcome.label());
            match outcome {
                PushOutcome::Delivered => return true,
                PushOutcome::Gone => {
                    if let Err(e) = d
                        .subscriptions
                        .delete_push_subscription(subscription.id, None)
                        .await
                    {
                        tracing::warn!(error = %cause(&e), subscription = %subscription.id, "could not delete a push subscription its push service says is gone");
                    }
                    return false;
                }
                PushOutcome::Refused { reason } => {
                    tracing::warn!(subscription = %subscription.id, %reason, "push service refused a notification");
                    return true;
                }
                PushOutcome::Retry { after, reason } => {
                    let Some(delay) = delays.next() else {
                        tracing::warn!(subscription = %subscription.id, %reason, "giving up on a notification after its retries");
                        return true;
                    };
                    // The push service's own wait when it gave one, within
                    // twice ours, so every retry ends well inside the lease.
                    let wait = after.map_or(*delay, |a| a.clamp(*delay, *delay * 2));
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Whether a device with `subscription`'s level wants `news`: everything,
/// or direct messages and mentions only.
fn wants(subscription: &PushSubscription, news: &PushNotification) -> bool {
    match subscription.level {
        PushLevel::All => true,
        PushLevel::Mentions => news.conversation_kind == ConversationKind::Direct || news.mentioned,
    }
}

/// The highest seq per conversation among `entries`: what releasing the
/// user marks handled.
fn marks_of(entries: &[QueuedMessage]) -> Vec<(ConversationId, u64)> {
    let mut marks: BTreeMap<ConversationId, u64> = BTreeMap::new();
    for e in entries {
        let mark = marks.entry(e.conversation_id).or_default();
        *mark = (*mark).max(e.seq);
    }
    marks.into_iter().collect()
}
