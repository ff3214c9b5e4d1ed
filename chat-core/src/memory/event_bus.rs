//! [`EventBus`] within one process.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ConnectionId, UserId};
use crate::realtime::{
    Event, EventBus, LocalHub, Notice, NoticeHandler, NoticeHandlers, Subscription,
};

/// Delivers events straight into this process's [`LocalHub`]: the bus of a
/// single instance. Notices reach this process's handlers only.
#[derive(Debug, Clone, Default)]
pub struct MemoryEventBus {
    hub: Arc<LocalHub>,
    handlers: NoticeHandlers,
}

impl MemoryEventBus {
    /// A bus over a new hub with the default queue size.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus over `hub`.
    pub fn with_hub(hub: Arc<LocalHub>) -> Self {
        Self {
            hub,
            handlers: NoticeHandlers::default(),
        }
    }

    /// The hub (connection counts, drop counters).
    pub fn hub(&self) -> &Arc<LocalHub> {
        &self.hub
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self, to: &[UserId], event: Event) -> Result<()> {
        self.hub.deliver(to, &event);
        Ok(())
    }

    async fn subscribe(&self, user: UserId, connection: ConnectionId) -> Result<Subscription> {
        Ok(self.hub.register(user, connection).0)
    }

    async fn announce(&self, notice: Notice) -> Result<()> {
        self.handlers.dispatch(&notice);
        Ok(())
    }

    fn on_notice(&self, handler: NoticeHandler) {
        self.handlers.add(handler);
    }

    fn is_connected_here(&self, user: UserId) -> bool {
        self.hub.is_connected(user)
    }

    fn local_hub(&self) -> Option<Arc<LocalHub>> {
        Some(self.hub.clone())
    }
}
