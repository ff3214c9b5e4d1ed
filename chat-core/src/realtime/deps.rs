//! [`RealtimeDeps`]: the real-time backends, passed around together.

use std::sync::Arc;

use super::{DueWork, EventBus, OfflineQueue, Presence};

/// The backends real-time delivery uses.
#[derive(Clone)]
pub struct RealtimeDeps {
    /// Carries events to connections.
    pub bus: Arc<dyn EventBus>,
    /// Records what waits for users with no connection.
    pub queue: Arc<dyn OfflineQueue>,
    /// Who is connected.
    pub presence: Arc<dyn Presence>,
    /// Background work waiting for a worker.
    pub due: Arc<dyn DueWork>,
}
