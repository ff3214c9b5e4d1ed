//! The [`EventBus`] trait.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::event::Event;
use super::hub::{LocalHub, Outbox};
use super::notice::{Notice, NoticeHandler};
use crate::error::Result;
use crate::ids::{ConnectionId, UserId};

/// Carries events to the live connections of users, wherever they are
/// connected.
///
/// The in-process bus delivers straight into [`LocalHub`](super::LocalHub);
/// a cross-instance bus (Redis Pub/Sub) ships the event to the instances
/// that hold the users' connections and delivers there into theirs.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Delivers `event` to every live connection of every user in `to`.
    /// Users with no connection are skipped; delivery to a connection never
    /// waits for it (see [`LocalHub`](super::LocalHub) for a full queue).
    async fn publish(&self, to: &[UserId], event: Event) -> Result<()>;

    /// Registers a live connection of `user`; its events arrive on the
    /// returned subscription until it is dropped.
    async fn subscribe(&self, user: UserId, connection: ConnectionId) -> Result<Subscription>;

    /// Tells every instance, this one included, about `notice`. This
    /// instance's handlers have run when it returns, even if it fails to
    /// reach the others.
    async fn announce(&self, notice: Notice) -> Result<()>;

    /// Registers `handler` for the notices this instance receives (its own
    /// and the other instances').
    fn on_notice(&self, handler: NoticeHandler);

    /// True when `user` has a live connection on this instance. A user
    /// connected here is online without asking a shared presence backend.
    fn is_connected_here(&self, user: UserId) -> bool;

    /// Whether this instance hears the others: events and notices
    /// (revocations above all) published elsewhere reach it. A bus that
    /// lives in one process is always linked; a shared one is not while
    /// its server is out of reach, until it resyncs.
    fn is_linked(&self) -> bool {
        true
    }

    /// This instance's hub of live connections, for its counters (events
    /// dropped, queues overflowed) in `/metrics`; `None` for a bus without
    /// one.
    fn local_hub(&self) -> Option<std::sync::Arc<LocalHub>> {
        None
    }
}

/// The receiving end of one connection's events. Dropping it unregisters
/// the connection.
pub struct Subscription {
    pub(super) rx: mpsc::Receiver<Event>,
    pub(super) outbox: std::sync::Arc<Outbox>,
    pub(super) on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("user", &self.outbox.user)
            .field("connection", &self.outbox.connection)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next event, or `None` once the connection has overflowed (it
    /// could not keep up and must be closed with 1013) or the bus is gone.
    pub async fn recv(&mut self) -> Option<Event> {
        tokio::select! {
            biased;
            () = self.outbox.overflowed() => None,
            event = self.rx.recv() => event,
        }
    }

    /// The next event if one is ready, without waiting (to write several
    /// frames before one flush).
    pub fn try_recv(&mut self) -> Option<Event> {
        if self.outbox.is_overflowed() {
            return None;
        }
        self.rx.try_recv().ok()
    }

    /// True when events were refused because the queue was full: the
    /// connection has lost a durable event and must be closed.
    pub fn has_overflowed(&self) -> bool {
        self.outbox.is_overflowed()
    }

    /// Runs `f` when the subscription is dropped, after the connection has
    /// left the hub (a cross-instance bus unsubscribes there).
    pub fn on_drop(mut self, f: impl FnOnce() + Send + Sync + 'static) -> Self {
        self.on_drop = Some(Box::new(f));
        self
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.outbox.unregister();
        if let Some(f) = self.on_drop.take() {
            f();
        }
    }
}
