//! The [`Presence`] trait: who is connected.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{ConnectionId, UserId};
use crate::time::Timestamp;

/// Whether a user is online, and when they were last seen if not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceStatus {
    /// True while the user has at least one live connection.
    pub online: bool,
    /// When their last connection closed; `None` while online or if never
    /// seen since the presence backend started.
    pub last_seen: Option<Timestamp>,
}

/// Tracks users' live connections, across every instance serving them.
///
/// A user is online while any of their connections lives. Connections are
/// kept alive by heartbeats, so a backend shared by several instances can
/// expire the connections of an instance that died without saying so.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Presence: Send + Sync {
    /// Records a new connection of `user`; true when the user had none
    /// (they just came online).
    async fn connect(&self, user: UserId, connection: ConnectionId, now: Timestamp)
    -> Result<bool>;

    /// Keeps a connection alive (called on every heartbeat).
    async fn heartbeat(&self, user: UserId, connection: ConnectionId, now: Timestamp)
    -> Result<()>;

    /// Forgets a connection; true when it was the user's last (they just
    /// went offline, and `now` becomes their `last_seen`).
    async fn disconnect(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<bool>;

    /// The status of each user in `users`, in the same order.
    async fn statuses(&self, users: &[UserId]) -> Result<Vec<PresenceStatus>>;
}
