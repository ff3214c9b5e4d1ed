//! Real-time delivery backends: the [`EventBus`] that carries events to a
//! user's live connections, the [`OfflineQueue`] that records what waits
//! for a user with none, [`Presence`], which knows who is connected, and
//! [`DueWork`], which hands background work (push notifications, webhook
//! deliveries) to one worker across instances.
//!
//! Each trait has an in-process implementation in [`crate::memory`]; the
//! Redis crate implements them across instances. [`LocalHub`] is the
//! per-instance registry of connections that every bus delivers into: it
//! owns the bounded outgoing queue of each connection and the policy for a
//! slow consumer.

mod bus;
mod deps;
mod due_work;
pub(crate) mod due_worker;
mod event;
mod hub;
mod notice;
mod offline_queue;
mod presence;

pub use bus::{EventBus, Subscription};
pub use deps::RealtimeDeps;
pub use due_work::{DueWork, WorkKind};
pub use event::{Event, EventKind, Frame, FrameClass};
pub use hub::{LocalHub, OUTBOX_CAPACITY};
pub use notice::{Notice, NoticeHandler, NoticeHandlers};
pub use offline_queue::{OfflineQueue, QueuedMessage, UNHANDLED_SCAN};
pub use presence::{Presence, PresenceStatus};

#[cfg(any(test, feature = "mock"))]
pub use {
    bus::MockEventBus, due_work::MockDueWork, offline_queue::MockOfflineQueue,
    presence::MockPresence,
};
