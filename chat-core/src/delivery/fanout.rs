//! [`Fanout`]: turns what happened into frames for every connection that
//! must see it, and queue entries for members who have none.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::members::{MemberCache, MemberSet};
use crate::error::Result;
use crate::ids::{ConnectionId, ConversationId, UserId};
use crate::log_throttle::{Throttle, WARN_INTERVAL, cause};
use crate::metrics::Metrics;
use crate::model::{ConversationKind, Message, MessageTarget, MessageView};
use crate::protocol::{DeliveryReceipt, PresenceEvent, ReadReceipt, ServerFrame, TypingEvent};
use crate::realtime::{
    Event, EventBus, Frame, FrameClass, Notice, OfflineQueue, Presence, PresenceStatus,
    QueuedMessage,
};
use crate::store::ConversationStore;

/// The backends real-time delivery uses.
#[derive(Clone)]
pub struct RealtimeDeps {
    /// Carries events to connections.
    pub bus: Arc<dyn EventBus>,
    /// Records what waits for users with no connection.
    pub queue: Arc<dyn OfflineQueue>,
    /// Who is connected.
    pub presence: Arc<dyn Presence>,
}

/// Publishes the consequences of engine operations. Shared by the
/// conversation service (messages, receipts, membership) and the delivery
/// service (typing, presence).
///
/// Fan-out happens after the store has committed. Its failures are logged
/// and never undo or fail the operation: the store is the source of truth,
/// and a device that missed an event catches up from its cursor.
#[derive(Clone)]
pub(crate) struct Fanout {
    pub(crate) deps: RealtimeDeps,
    conversations: Arc<dyn ConversationStore>,
    members: Arc<MemberCache>,
    metrics: Metrics,
}

/// Conversations whose members are cached.
const MEMBER_CACHE_ENTRIES: usize = 100_000;

impl Fanout {
    pub(crate) fn new(
        deps: RealtimeDeps,
        conversations: Arc<dyn ConversationStore>,
        metrics: Metrics,
    ) -> Self {
        Self {
            deps,
            conversations,
            members: Arc::new(MemberCache::new(MEMBER_CACHE_ENTRIES)),
            metrics,
        }
    }

    /// The members of a conversation, from the cache or the store.
    pub(crate) async fn members(&self, conversation: ConversationId) -> Result<Arc<MemberSet>> {
        if let Some(set) = self.members.get(conversation) {
            return Ok(set);
        }
        let entries = self.conversations.members(conversation).await?;
        let Some(first) = entries.first() else {
            return Ok(Arc::new(MemberSet {
                kind: ConversationKind::Group,
                users: Vec::new(),
            }));
        };
        let kind = self
            .conversations
            .membership(conversation, first.member.user_id)
            .await?
            .map_or(ConversationKind::Group, |m| m.conversation.kind);
        let set = Arc::new(MemberSet {
            kind,
            users: entries.iter().map(|e| e.member.user_id).collect(),
        });
        if !set.users.is_empty() {
            self.members.insert(conversation, set.clone());
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
        if let Some(id) = self.members.direct(a, b) {
            return Ok(Some(id));
        }
        let found = self.conversations.direct_between(a, b).await?;
        if let Some(id) = found {
            self.remember_direct(id, a, b);
        }
        Ok(found)
    }

    /// Remembers a direct conversation and its two members.
    pub(crate) fn remember_direct(&self, conversation: ConversationId, a: UserId, b: UserId) {
        self.members.insert_direct(a, b, conversation);
        let set = MemberSet {
            kind: ConversationKind::Direct,
            users: vec![a, b],
        };
        self.members.insert(conversation, Arc::new(set));
    }

    /// Tells every instance that a conversation's members changed, so they
    /// forget their cached list (this instance's is gone when it returns).
    pub(crate) async fn members_changed(&self, conversation: ConversationId) {
        let notice = Notice::MembersChanged {
            conversation_id: conversation,
        };
        if let Err(e) = self.deps.bus.announce(notice).await {
            // The other instances drop their caches when the bus comes
            // back (a resync); the store rechecks membership on every send.
            tracing::warn!(error = %e, %conversation, "could not announce a membership change");
        }
    }

    /// Acts on an instance-wide notice about cached data.
    pub(crate) fn on_notice(&self, notice: &Notice) {
        match notice {
            Notice::MembersChanged { conversation_id } => self.members.invalidate(*conversation_id),
            Notice::Resync => self.members.clear(),
            Notice::SessionRevoked { .. } => {}
        }
    }

    /// A new message: `message.new` or `message.group.new` to every
    /// connection of every member except the sending connection, and a
    /// queue entry for each member other than the sender with no live
    /// connection.
    pub(crate) async fn message(
        &self,
        message: &Message,
        members: &MemberSet,
        origin: Option<ConnectionId>,
    ) {
        let started = Instant::now();
        let frame = live_frame(message.clone(), members);
        let event = Event::frame(Frame {
            json: Bytes::from(frame.to_json()),
            class: FrameClass::Durable,
            message: Some((message.conversation_id, message.seq)),
            origin,
        });
        self.publish(&members.users, event).await;
        let others = members.others(message.sender_id);
        if let Err(e) = self.queue_for_offline(message, members.kind, &others).await {
            static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
            if let Some(held_back) = THROTTLE.check() {
                tracing::warn!(error = %cause(&e), message_id = %message.id, held_back, "could not queue a message for offline members (it is stored; they get it at their catch-up)");
            }
        }
        self.metrics.fanout(started.elapsed());
    }

    async fn queue_for_offline(
        &self,
        message: &Message,
        kind: ConversationKind,
        users: &[UserId],
    ) -> Result<()> {
        // Users connected to this instance are online: only the others
        // cost a presence lookup (a Redis round trip with several
        // instances).
        let elsewhere: Vec<UserId> = users
            .iter()
            .copied()
            .filter(|u| !self.deps.bus.is_connected_here(*u))
            .collect();
        if elsewhere.is_empty() {
            return Ok(());
        }
        let statuses = self.deps.presence.statuses(&elsewhere).await?;
        let offline: Vec<UserId> = elsewhere
            .iter()
            .zip(statuses)
            .filter(|(_, s)| !s.online)
            .map(|(u, _)| *u)
            .collect();
        if offline.is_empty() {
            return Ok(());
        }
        let entry = QueuedMessage {
            message_id: message.id,
            kind,
            timestamp: message.created_at,
            conversation_id: message.conversation_id,
            seq: message.seq,
        };
        self.deps.queue.push(&offline, &entry).await?;
        self.metrics.offline_queued(offline.len());
        Ok(())
    }

    /// `message.read` to `to` (the other members). Receipts are ephemeral: a
    /// cursor's next move supersedes this one, and the store keeps the
    /// current cursors (message views, group members), so a connection
    /// that is behind drops them rather than being closed. In a large
    /// group every member's acknowledgement makes one, more than a
    /// sender's connection may take.
    pub(crate) async fn read(&self, receipt: ReadReceipt, to: &[UserId]) {
        let frame = ServerFrame::Read(receipt);
        self.publish(to, ephemeral(&frame, None)).await;
    }

    /// `message.delivered` to `to` (the senders of what was delivered);
    /// ephemeral, as [`read`](Self::read) says.
    pub(crate) async fn delivered(&self, receipt: DeliveryReceipt, to: &[UserId]) {
        let frame = ServerFrame::Delivered(receipt);
        self.publish(to, ephemeral(&frame, None)).await;
    }

    /// `typing` to the other members, except the typing connection.
    pub(crate) async fn typing(
        &self,
        user: UserId,
        conversation_id: ConversationId,
        is_typing: bool,
        members: &MemberSet,
        origin: ConnectionId,
    ) {
        let frame = ServerFrame::Typing(TypingEvent {
            user_id: user,
            conversation_id,
            is_typing,
        });
        let event = ephemeral(&frame, Some(origin));
        self.publish(&members.others(user), event).await;
    }

    /// `presence` to `peers`.
    pub(crate) async fn presence(&self, user: UserId, status: PresenceStatus, peers: &[UserId]) {
        let frame = ServerFrame::Presence(PresenceEvent {
            user_id: user,
            online: status.online,
            last_seen: status.last_seen,
        });
        self.publish(peers, ephemeral(&frame, None)).await;
    }

    async fn publish(&self, to: &[UserId], event: Event) {
        if to.is_empty() {
            return;
        }
        if let Err(e) = self.deps.bus.publish(to, event).await {
            static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
            if let Some(held_back) = THROTTLE.check() {
                tracing::warn!(error = %cause(&e), recipients = to.len(), held_back, "could not publish an event to other instances");
            }
        }
    }
}

/// A message as a live event shows it: a direct message names its
/// recipient and has no receipts yet.
pub(crate) fn live_view(message: Message, members: &MemberSet) -> MessageView {
    let target = match members.kind {
        ConversationKind::Direct => MessageTarget::Direct {
            recipient_id: members
                .users
                .iter()
                .copied()
                .find(|u| *u != message.sender_id)
                .unwrap_or(message.sender_id),
            delivered_at: None,
            read_at: None,
        },
        ConversationKind::Group => MessageTarget::Group {
            group_id: message.conversation_id,
        },
    };
    MessageView { message, target }
}

/// The live frame of a message: `message.new` in a direct conversation,
/// `message.group.new` in a group.
pub(crate) fn live_frame(message: Message, members: &MemberSet) -> ServerFrame {
    let view = live_view(message, members);
    match members.kind {
        ConversationKind::Direct => ServerFrame::MessageNew(view),
        ConversationKind::Group => ServerFrame::GroupMessageNew(view),
    }
}

fn ephemeral(frame: &ServerFrame, origin: Option<ConnectionId>) -> Event {
    Event::frame(Frame {
        json: Bytes::from(frame.to_json()),
        class: FrameClass::Ephemeral,
        message: None,
        origin,
    })
}
