//! [`LocalHub`]: this instance's live connections and their outgoing
//! queues.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Notify, mpsc};

use super::bus::Subscription;
use super::event::Event;
use crate::ids::{ConnectionId, UserId};

/// Default number of events a connection's outgoing queue holds.
pub const OUTBOX_CAPACITY: usize = 256;

/// Shards of the connection map, so publishers to different users rarely
/// contend for one lock.
const SHARDS: usize = 32;

type Shard = Mutex<HashMap<UserId, Vec<Arc<Outbox>>>>;

/// The connections of this instance, by user, each with a bounded
/// outgoing queue.
///
/// Delivery never waits: an event is offered to each connection's queue
/// with `try_send`. A slow consumer therefore cannot slow the sender or
/// anyone else. When a queue is more than half full, ephemeral events
/// (typing, presence) are dropped, since the next one supersedes them;
/// when it is full, a durable event (message, receipt) cannot be dropped
/// silently, so the connection is marked overflowed and closed by its
/// session (code 1013). The client then reconnects and catches up from its
/// delivery cursor, so nothing is lost.
#[derive(Debug)]
pub struct LocalHub {
    shards: Box<[Shard]>,
    capacity: usize,
    dropped_ephemeral: AtomicU64,
    overflows: AtomicU64,
}

/// One connection's end of the hub.
#[derive(Debug)]
pub(super) struct Outbox {
    pub(super) user: UserId,
    pub(super) connection: ConnectionId,
    tx: mpsc::Sender<Event>,
    overflow: AtomicBool,
    notify: Notify,
    hub: Weak<LocalHub>,
}

impl Default for LocalHub {
    fn default() -> Self {
        Self::with_capacity(OUTBOX_CAPACITY)
    }
}

impl LocalHub {
    /// A hub whose connections each queue up to `capacity` events
    /// (at least 2).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            capacity: capacity.max(2),
            dropped_ephemeral: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
        }
    }

    fn shard(&self, user: UserId) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Arc<Outbox>>>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        user.hash(&mut h);
        let i = (h.finish() as usize) % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection; also returns whether it is the user's first
    /// on this instance (a cross-instance bus subscribes to the user then).
    pub fn register(
        self: &Arc<Self>,
        user: UserId,
        connection: ConnectionId,
    ) -> (Subscription, bool) {
        let (tx, rx) = mpsc::channel(self.capacity);
        let outbox = Arc::new(Outbox {
            user,
            connection,
            tx,
            overflow: AtomicBool::new(false),
            notify: Notify::new(),
            hub: Arc::downgrade(self),
        });
        let mut shard = self.shard(user);
        let entry = shard.entry(user).or_default();
        let first = entry.is_empty();
        entry.push(outbox.clone());
        drop(shard);
        let sub = Subscription {
            rx,
            outbox,
            on_drop: None,
        };
        (sub, first)
    }

    /// Offers `event` to every connection of every user in `to`; returns
    /// how many connections took it.
    pub fn deliver(&self, to: &[UserId], event: &Event) -> usize {
        let mut delivered = 0;
        for user in to {
            let shard = self.shard(*user);
            if let Some(outboxes) = shard.get(user) {
                for outbox in outboxes {
                    if self.offer(outbox, event) {
                        delivered += 1;
                    }
                }
            }
        }
        delivered
    }

    /// Offers `event` to every connection of this instance; returns how
    /// many took it.
    pub fn deliver_to_everyone(&self, event: &Event) -> usize {
        let users = self.connected_users();
        self.deliver(&users, event)
    }

    fn offer(&self, outbox: &Outbox, event: &Event) -> bool {
        if outbox.is_overflowed() {
            return false;
        }
        let ephemeral = event.is_ephemeral();
        if ephemeral && outbox.tx.capacity() < self.capacity / 2 {
            self.dropped_ephemeral.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match outbox.tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) if ephemeral => {
                self.dropped_ephemeral.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflows.fetch_add(1, Ordering::Relaxed);
                outbox.overflow.store(true, Ordering::Release);
                outbox.notify.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// True when `user` has a connection on this instance.
    pub fn is_connected(&self, user: UserId) -> bool {
        self.shard(user).get(&user).is_some_and(|v| !v.is_empty())
    }

    /// Users with at least one connection on this instance.
    pub fn connected_users(&self) -> Vec<UserId> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .keys()
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Number of connections on this instance.
    pub fn connection_count(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .map(Vec::len)
                    .sum::<usize>()
            })
            .sum()
    }

    /// Ephemeral events dropped so far because a queue was half full.
    pub fn dropped_ephemeral(&self) -> u64 {
        self.dropped_ephemeral.load(Ordering::Relaxed)
    }

    /// Connections cut off so far because their queue was full.
    pub fn overflows(&self) -> u64 {
        self.overflows.load(Ordering::Relaxed)
    }

    /// Appends the hub's counters to a Prometheus text exposition.
    pub fn render_metrics(&self, out: &mut String) {
        crate::metrics::write_single(
            out,
            "chat_events_dropped_total",
            "counter",
            "Typing, presence and receipt events dropped because a connection's queue was half full.",
            self.dropped_ephemeral(),
        );
        crate::metrics::write_single(
            out,
            "chat_connection_overflows_total",
            "counter",
            "Connections cut off (closed with 1013) because their queue was full.",
            self.overflows(),
        );
    }

    /// Removes a connection; true when it was the user's last here.
    fn remove(&self, user: UserId, connection: ConnectionId) -> bool {
        let mut shard = self.shard(user);
        let Some(outboxes) = shard.get_mut(&user) else {
            return false;
        };
        outboxes.retain(|o| o.connection != connection);
        if outboxes.is_empty() {
            shard.remove(&user);
            true
        } else {
            false
        }
    }
}

impl Outbox {
    pub(super) fn is_overflowed(&self) -> bool {
        self.overflow.load(Ordering::Acquire)
    }

    /// Completes once the connection has overflowed.
    pub(super) async fn overflowed(&self) {
        if self.is_overflowed() {
            return;
        }
        self.notify.notified().await;
    }

    pub(super) fn unregister(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.user, self.connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::{Event, Frame, FrameClass};

    fn frame(class: FrameClass) -> Event {
        Event::frame(Frame {
            json: bytes::Bytes::from_static(b"{}"),
            class,
            message: None,
            origin: None,
        })
    }

    #[tokio::test]
    async fn every_connection_of_a_user_gets_each_event_once() {
        let hub = Arc::new(LocalHub::default());
        let user = UserId::new();
        let (mut a, first_a) = hub.register(user, ConnectionId::new());
        let (mut b, first_b) = hub.register(user, ConnectionId::new());
        assert!(first_a && !first_b);
        assert_eq!(hub.deliver(&[user], &frame(FrameClass::Durable)), 2);
        assert!(a.recv().await.is_some());
        assert!(b.recv().await.is_some());
        assert!(a.rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn ephemeral_events_are_dropped_at_half_full_and_durable_ones_overflow() {
        let hub = Arc::new(LocalHub::with_capacity(4));
        let user = UserId::new();
        let (mut sub, _) = hub.register(user, ConnectionId::new());
        hub.deliver(&[user], &frame(FrameClass::Durable));
        hub.deliver(&[user], &frame(FrameClass::Durable));
        hub.deliver(&[user], &frame(FrameClass::Durable));
        assert_eq!(hub.deliver(&[user], &frame(FrameClass::Ephemeral)), 0);
        assert_eq!(hub.dropped_ephemeral(), 1);
        assert_eq!(hub.deliver(&[user], &frame(FrameClass::Durable)), 1);
        assert!(!sub.has_overflowed());
        assert_eq!(hub.deliver(&[user], &frame(FrameClass::Durable)), 0);
        assert!(sub.has_overflowed());
        assert!(sub.recv().await.is_none(), "an overflowed connection ends");
        let mut text = String::new();
        hub.render_metrics(&mut text);
        assert!(text.contains("\nchat_events_dropped_total 1\n"), "{text}");
        assert!(
            text.contains("\nchat_connection_overflows_total 1\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn dropping_a_subscription_unregisters_the_connection() {
        let hub = Arc::new(LocalHub::default());
        let user = UserId::new();
        let (a, _) = hub.register(user, ConnectionId::new());
        let (b, _) = hub.register(user, ConnectionId::new());
        drop(a);
        assert!(hub.is_connected(user));
        drop(b);
        assert!(!hub.is_connected(user));
        assert_eq!(hub.connection_count(), 0);
    }
}
