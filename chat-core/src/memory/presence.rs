//! [`Presence`] in process memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ConnectionId, UserId};
use crate::realtime::{Presence, PresenceStatus};
use crate::time::Timestamp;

/// Connections of this process by user. Connections cannot outlive the
/// process here, so heartbeats have nothing to refresh.
#[derive(Debug, Default)]
pub struct MemoryPresence {
    users: Mutex<HashMap<UserId, Entry>>,
}

#[derive(Debug, Default)]
struct Entry {
    connections: Vec<ConnectionId>,
    last_seen: Option<Timestamp>,
}

impl MemoryPresence {
    /// Nobody online.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every connection it knows, by user (a cross-instance backend that
    /// keeps this as its local mirror re-registers them after an outage).
    pub fn connections(&self) -> Vec<(UserId, ConnectionId)> {
        self.users()
            .iter()
            .flat_map(|(u, e)| e.connections.iter().map(move |c| (*u, *c)))
            .collect()
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Entry>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn connect(
        &self,
        user: UserId,
        connection: ConnectionId,
        _now: Timestamp,
    ) -> Result<bool> {
        let mut users = self.users();
        let entry = users.entry(user).or_default();
        let first = entry.connections.is_empty();
        if !entry.connections.contains(&connection) {
            entry.connections.push(connection);
        }
        Ok(first)
    }

    async fn heartbeat(
        &self,
        _user: UserId,
        _connection: ConnectionId,
        _now: Timestamp,
    ) -> Result<()> {
        Ok(())
    }

    async fn disconnect(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<bool> {
        let mut users = self.users();
        let Some(entry) = users.get_mut(&user) else {
            return Ok(false);
        };
        let before = entry.connections.len();
        entry.connections.retain(|c| *c != connection);
        let went_offline = before > 0 && entry.connections.is_empty();
        if went_offline {
            entry.last_seen = Some(now);
        }
        Ok(went_offline)
    }

    async fn statuses(&self, users: &[UserId]) -> Result<Vec<PresenceStatus>> {
        let map = self.users();
        Ok(users
            .iter()
            .map(|u| match map.get(u) {
                Some(e) if !e.connections.is_empty() => PresenceStatus {
                    online: true,
                    last_seen: None,
                },
                Some(e) => PresenceStatus {
                    online: false,
                    last_seen: e.last_seen,
                },
                None => PresenceStatus {
                    online: false,
                    last_seen: None,
                },
            })
            .collect())
    }
}
