//! [`RealtimeDeps`]: the real-time backends, passed around together.

use std::sync::Arc;

use super::{DueWork, EventBus, OfflineQueue, Presence};
use crate::error::Result;
use crate::ids::UserId;

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

impl RealtimeDeps {
    /// Those of `users` with no live connection anywhere. Users connected
    /// to this instance are online without asking: only the others cost a
    /// presence lookup (a Redis round trip with several instances).
    ///
    /// # Errors
    /// The presence backend's.
    pub async fn offline_among(&self, users: &[UserId]) -> Result<Vec<UserId>> {
        let elsewhere: Vec<UserId> = users
            .iter()
            .copied()
            .filter(|u| !self.bus.is_connected_here(*u))
            .collect();
        if elsewhere.is_empty() {
            return Ok(Vec::new());
        }
        let statuses = self.presence.statuses(&elsewhere).await?;
        Ok(elsewhere
            .into_iter()
            .zip(statuses)
            .filter(|(_, s)| !s.online)
            .map(|(u, _)| u)
            .collect())
    }
}
