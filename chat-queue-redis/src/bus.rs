//! [`RedisEventBus`]: cross-instance fan-out over Redis Pub/Sub.
//!
//! Channel layout: one channel per user (`{prefix}:user:{user_id}`). An
//! instance subscribes to a user's channel while the user has a connection
//! on it, so Redis sends each instance only the events of users it serves,
//! and a publisher needs no lookup to find them: it publishes once per
//! recipient and Redis routes. Instance-wide notices go on one channel
//! every instance subscribes to. See `docs/architecture.md` for the
//! alternatives weighed.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::realtime::{
    Event, EventBus, LocalHub, Notice, NoticeHandler, NoticeHandlers, Subscription,
};
use chat_core::{ConnectionId, Result, UserId};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{Mutex, mpsc};

use crate::config::Keys;
use crate::error::{is_unavailable, to_chat_error};
use crate::link::Link;
use crate::wire;

/// Delivers events to users' connections on every instance: straight into
/// this instance's [`LocalHub`], and through Redis to the others.
///
/// Local delivery never depends on Redis: while it is down, connections on
/// this instance keep getting their events, and what could not cross
/// instances is replayed from the store by a resync when it returns.
#[derive(Clone)]
pub struct RedisEventBus {
    inner: Arc<BusInner>,
}

impl std::fmt::Debug for RedisEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEventBus")
            .field("link", &self.inner.link)
            .finish_non_exhaustive()
    }
}

pub(crate) struct BusInner {
    link: Arc<Link>,
    inbox: Arc<Inbox>,
    /// Users whose channel this instance is subscribed to; changed only
    /// under this lock, after checking the hub, so a quick disconnect and
    /// reconnect can never leave a connected user unsubscribed.
    subscribed: Mutex<HashSet<UserId>>,
    unsubscribe: mpsc::UnboundedSender<UserId>,
    /// Notices announced while Redis was out of reach, sent on restore so
    /// the other instances still learn of a revocation or member change.
    unsent_notices: std::sync::Mutex<Vec<Notice>>,
}

/// What the subscriber connection receives, handled on the connection's
/// own task: it only decodes and offers events to local queues, which
/// never blocks.
pub(crate) struct Inbox {
    pub(crate) hub: Arc<LocalHub>,
    pub(crate) handlers: NoticeHandlers,
    pub(crate) keys: Keys,
    pub(crate) instance_id: String,
    pub(crate) lost_link: std::sync::atomic::AtomicBool,
}

impl Inbox {
    pub(crate) fn receive(&self, push: PushInfo) {
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let [channel, payload] = match <[Value; 2]>::try_from(push.data) {
                    Ok(parts) => parts,
                    Err(_) => return,
                };
                let (Value::BulkString(channel), Value::BulkString(payload)) = (channel, payload)
                else {
                    return;
                };
                self.on_message(&channel, &payload);
            }
            PushKind::Disconnection => {
                // Events may be lost until the subscriptions are back: the
                // monitor resyncs once Redis answers again.
                self.lost_link
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            _ => {}
        }
    }

    fn on_message(&self, channel: &[u8], payload: &[u8]) {
        if let Some(user) = self.keys.channel_user(channel) {
            match wire::decode_event(payload) {
                // This instance delivered its own events locally already.
                Some((from, _)) if from == self.instance_id => {}
                Some((_, event)) => {
                    self.hub.deliver(&[user], &event);
                }
                None => tracing::warn!("ignoring an unreadable event from Redis"),
            }
        } else if channel == self.keys.notice_channel().as_bytes() {
            match wire::decode_notice(payload) {
                Some((from, _)) if from == self.instance_id => {}
                Some((_, notice)) => self.handlers.dispatch(&notice),
                None => tracing::warn!("ignoring an unreadable notice from Redis"),
            }
        }
    }
}

impl RedisEventBus {
    /// A bus over `link`, delivering locally through `inbox.hub`; returns
    /// it and the receiver its unsubscribe worker reads.
    pub(crate) fn new(
        link: Arc<Link>,
        inbox: Arc<Inbox>,
    ) -> (Self, mpsc::UnboundedReceiver<UserId>) {
        let (unsubscribe, rx) = mpsc::unbounded_channel();
        let bus = Self {
            inner: Arc::new(BusInner {
                link,
                inbox,
                subscribed: Mutex::new(HashSet::new()),
                unsubscribe,
                unsent_notices: std::sync::Mutex::new(Vec::new()),
            }),
        };
        (bus, rx)
    }

    /// The hub of this instance's connections.
    pub fn hub(&self) -> &Arc<LocalHub> {
        &self.inner.inbox.hub
    }

    /// Unsubscribes from the channels of users who left while they are
    /// still gone; runs until the bus is dropped.
    pub(crate) async fn run_unsubscriber(
        bus: std::sync::Weak<BusInner>,
        mut left: mpsc::UnboundedReceiver<UserId>,
    ) {
        while let Some(user) = left.recv().await {
            let Some(inner) = bus.upgrade() else { return };
            let mut subscribed = inner.subscribed.lock().await;
            if inner.inbox.hub.is_connected(user) || !subscribed.contains(&user) {
                continue;
            }
            subscribed.remove(&user);
            if !inner.link.is_up() {
                continue; // the subscription died with the link
            }
            let mut sub = inner.link.subscriber.clone();
            if let Err(e) = sub
                .unsubscribe_user(&inner.link.keys.user_channel(user))
                .await
            {
                tracing::debug!(error = %e, %user, "could not unsubscribe from a user's channel");
            }
        }
    }

    pub(crate) fn from_inner(inner: Arc<BusInner>) -> Self {
        Self { inner }
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<BusInner> {
        Arc::downgrade(&self.inner)
    }

    /// After the link came back: subscribes again to the notice channel
    /// and the channels of every user connected here (whatever the
    /// connection manager restored), then resyncs: handlers drop what may
    /// be stale and every connection checks for what it missed.
    pub(crate) async fn restore(&self) -> Result<()> {
        let inner = &self.inner;
        let mut subscribed = inner.subscribed.lock().await;
        let users = inner.inbox.hub.connected_users();
        let mut sub = inner.link.subscriber.clone();
        sub.subscribe_broadcast(&inner.link.keys.notice_channel())
            .await
            .map_err(to_chat_error)?;
        // One at a time: on a cluster, the channels of one SSUBSCRIBE must
        // share a slot. A restore is rare, and each is one round trip.
        for user in &users {
            sub.subscribe_user(&inner.link.keys.user_channel(*user))
                .await
                .map_err(to_chat_error)?;
        }
        *subscribed = users.into_iter().collect();
        drop(subscribed);
        let unsent = std::mem::take(
            &mut *inner
                .unsent_notices
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for notice in unsent {
            self.send_notice(notice).await?;
        }
        inner.inbox.handlers.dispatch(&Notice::Resync);
        inner.inbox.hub.deliver_to_everyone(&Event::resync());
        Ok(())
    }

    /// Publishes a notice to the other instances, or keeps it for the
    /// restore while Redis is out of reach.
    async fn send_notice(&self, notice: Notice) -> Result<()> {
        let inner = &self.inner;
        let keep = |notice| {
            inner
                .unsent_notices
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(notice);
        };
        if !inner.link.is_up() {
            keep(notice);
            return Ok(());
        }
        let payload = wire::encode_notice(&inner.link.config.instance_id, &notice);
        let channel = inner.link.keys.notice_channel();
        let sent = inner
            .link
            .run(|mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        match sent {
            Ok(()) => Ok(()),
            Err(e) if is_unavailable(&e) => {
                keep(notice);
                Ok(())
            }
            Err(e) => Err(to_chat_error(e)),
        }
    }

    /// Subscribes to the notice channel (at start-up).
    pub(crate) async fn subscribe_notices(&self) -> redis::RedisResult<()> {
        let mut sub = self.inner.link.subscriber.clone();
        sub.subscribe_broadcast(&self.inner.link.keys.notice_channel())
            .await
    }

    /// True when the subscriber connection dropped since the last call.
    pub(crate) fn take_lost_link(&self) -> bool {
        self.inner
            .inbox
            .lost_link
            .swap(false, std::sync::atomic::Ordering::AcqRel)
    }
}

#[async_trait]
impl EventBus for RedisEventBus {
    async fn publish(&self, to: &[UserId], event: Event) -> Result<()> {
        let inner = &self.inner;
        inner.inbox.hub.deliver(to, &event);
        if to.is_empty() || !inner.link.is_up() {
            return Ok(());
        }
        let payload = wire::encode_event(&inner.link.config.instance_id, &event);
        let publish = inner.link.commands.publish_command();
        let keys = &inner.link.keys;
        let sent = inner
            .link
            .per_user(to, |pipe, user| {
                pipe.cmd(publish)
                    .arg(keys.user_channel(user))
                    .arg(&payload[..])
                    .ignore();
            })
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Local delivery is done; the rest is replayed by the resync.
            Err(e) if is_unavailable(&e) => Ok(()),
            Err(e) => Err(to_chat_error(e)),
        }
    }

    async fn subscribe(&self, user: UserId, connection: ConnectionId) -> Result<Subscription> {
        let inner = &self.inner;
        let (subscription, _) = inner.inbox.hub.register(user, connection);
        let left = inner.unsubscribe.clone();
        let subscription = subscription.on_drop(move || {
            let _ = left.send(user);
        });
        let mut subscribed = inner.subscribed.lock().await;
        if subscribed.contains(&user) || !inner.link.is_up() {
            // While the link is down, the restore subscribes everyone.
            return Ok(subscription);
        }
        let mut sub = inner.link.subscriber.clone();
        match sub
            .subscribe_user(&inner.link.keys.user_channel(user))
            .await
        {
            Ok(()) => {
                subscribed.insert(user);
            }
            // Out of reach: the restore subscribes everyone connected here.
            Err(e) if is_unavailable(&e) => {
                if inner.link.note_failure(&e) {
                    tracing::warn!(error = %e, "Redis is unavailable; serving from local fallbacks");
                }
            }
            // Anything else would leave the connection deaf to the other
            // instances: refuse it, and the client reconnects.
            Err(e) => return Err(to_chat_error(e)),
        }
        Ok(subscription)
    }

    async fn announce(&self, notice: Notice) -> Result<()> {
        self.inner.inbox.handlers.dispatch(&notice);
        self.send_notice(notice).await
    }

    fn on_notice(&self, handler: NoticeHandler) {
        self.inner.inbox.handlers.add(handler);
    }

    fn is_connected_here(&self, user: UserId) -> bool {
        self.inner.inbox.hub.is_connected(user)
    }

    fn is_linked(&self) -> bool {
        self.inner.link.is_up()
    }

    fn local_hub(&self) -> Option<Arc<LocalHub>> {
        Some(self.inner.inbox.hub.clone())
    }
}
