//! [`Fanout`]: turns what happened into frames for every connection that
//! must see it, and queue entries for members who have none.
//!
//! The services decide what happened and to whom (with [`crate::members`]);
//! the fan-out only publishes, and marks work for the push notifier and
//! the webhook dispatcher. It reads nothing from the store.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::error::Result;
use crate::ids::{ConnectionId, ConversationId, UserId};
use crate::log_throttle::{Throttle, WARN_INTERVAL, cause};
use crate::members::MemberSet;
use crate::metrics::Metrics;
use crate::model::{
    ConversationKind, Message, MessageChange, MessageTarget, MessageView, ReplyQuote,
};
use crate::protocol::{DeliveryReceipt, PresenceEvent, ReadReceipt, ServerFrame, TypingEvent};
use crate::realtime::{
    Event, Frame, FrameClass, PresenceStatus, QueuedMessage, RealtimeDeps, WorkKind,
};
use crate::store::PublishTurn;
use crate::webhooks::WebhookRegistry;

/// Publishes the consequences of engine operations: messages, receipts,
/// typing and presence. Shared by the conversation service and the
/// delivery service.
///
/// Fan-out happens after the store has committed. Its failures are logged
/// and never undo or fail the operation: the store is the source of truth,
/// and a device that missed an event catches up from its cursor.
#[derive(Clone)]
pub(crate) struct Fanout {
    deps: RealtimeDeps,
    metrics: Metrics,
    webhooks: Arc<WebhookRegistry>,
}

impl Fanout {
    pub(crate) fn new(
        deps: RealtimeDeps,
        metrics: Metrics,
        webhooks: Arc<WebhookRegistry>,
    ) -> Self {
        Self {
            deps,
            metrics,
            webhooks,
        }
    }

    /// A new message: `message.new` or `message.group.new` to every
    /// connection of every member except the sending connection, and a
    /// queue entry for each member other than the sender with no live
    /// connection.
    ///
    /// With its `turn` (from the writer that committed it), the message
    /// is published only after this instance's earlier messages of the
    /// conversation, so connections get them in seq order and need not
    /// read any back from the store ([`PublishTurn`]); the send of an
    /// earlier message may run the publish, and this waits for it.
    pub(crate) async fn message(
        &self,
        message: &Message,
        reply: Option<ReplyQuote>,
        members: &Arc<MemberSet>,
        origin: Option<ConnectionId>,
        turn: Option<PublishTurn>,
    ) {
        let started = Instant::now();
        let mut view = live_view(message.clone(), members);
        view.reply = reply;
        let frame = live_frame(view, members.kind);
        let event = Event::frame(Frame {
            json: Bytes::from(frame.to_json()),
            class: FrameClass::Durable,
            message: Some((message.conversation_id, message.seq)),
            origin,
        });
        match turn {
            Some(turn) => {
                // The set is shared, not copied: a message to a group of
                // 1,000 would otherwise copy 1,000 ids to publish later.
                let (fanout, members) = (self.clone(), members.clone());
                let publication = async move { fanout.publish(&members.users, event).await };
                turn.publish(Box::pin(publication)).await;
            }
            None => self.publish(&members.users, event).await,
        }
        let others = members.others(message.sender_id);
        if let Err(e) = self.queue_for_offline(message, members.kind, &others).await {
            static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
            if let Some(held_back) = THROTTLE.check() {
                tracing::warn!(error = %cause(&e), message_id = %message.id, held_back, "could not queue a message for offline members (it is stored; they get it at their catch-up)");
            }
        }
        self.webhooks.note(message.conversation_id).await;
        self.metrics.fanout(started.elapsed());
    }

    async fn queue_for_offline(
        &self,
        message: &Message,
        kind: ConversationKind,
        users: &[UserId],
    ) -> Result<()> {
        let offline = self.deps.offline_among(users).await?;
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
        // The push notifier reads the queue of each user marked here.
        let keys: Vec<String> = offline.iter().map(UserId::to_string).collect();
        self.deps.due.mark_due(WorkKind::Push, &keys).await
    }

    /// A change to a message (`message.changed`) to every connection of
    /// every member, the actor's included (it is their confirmation, and
    /// their other devices need it). It is durable and carries its seq, so
    /// each connection gets it in order with messages; members with no
    /// connection get it from their catch-up.
    pub(crate) async fn change(&self, change: &MessageChange, members: &MemberSet) {
        let frame = ServerFrame::MessageChanged(change.clone());
        let event = Event::frame(Frame {
            json: Bytes::from(frame.to_json()),
            class: FrameClass::Durable,
            message: Some((change.conversation_id, change.seq)),
            origin: None,
        });
        self.publish(&members.users, event).await;
        self.webhooks.note(change.conversation_id).await;
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

    /// `typing` to `to` (the other members who may see it), except the
    /// typing connection.
    pub(crate) async fn typing(
        &self,
        user: UserId,
        conversation_id: ConversationId,
        is_typing: bool,
        to: &[UserId],
        origin: ConnectionId,
    ) {
        let frame = ServerFrame::Typing(TypingEvent {
            user_id: user,
            conversation_id,
            is_typing,
        });
        let event = ephemeral(&frame, Some(origin));
        self.publish(to, event).await;
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
    MessageView {
        message,
        target,
        reply: None,
        reactions: Vec::new(),
    }
}

/// The live frame of a message view: `message.new` in a direct
/// conversation, `message.group.new` in a group.
pub(crate) fn live_frame(view: MessageView, kind: ConversationKind) -> ServerFrame {
    match kind {
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
