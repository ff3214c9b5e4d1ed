//! [`RedisPresence`]: who is connected, across instances.

use std::sync::Arc;

use async_trait::async_trait;
use chat_core::memory::MemoryPresence;
use chat_core::realtime::{Presence, PresenceStatus};
use chat_core::{ConnectionId, Result, Timestamp, UserId};
use redis::Script;

use crate::error::to_chat_error;
use crate::link::Link;

/// Records a connection, drops the user's expired ones, refreshes
/// `online:`; returns 1 when the user had no other live connection.
/// KEYS: connections hash, online. ARGV: connection, `instance|deadline`,
/// now (ms), ttl (ms).
const CONNECT: &str = r#"
local now = tonumber(ARGV[3])
local live = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local deadline = tonumber(string.match(all[i + 1], '|(%d+)$'))
  if deadline == nil or deadline <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    live = live + 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
if live == 0 then return 1 else return 0 end
"#;

/// Forgets a connection; when no live one is left, deletes `online:` and
/// records `last_seen`, and returns 1. KEYS: connections hash, online,
/// last_seen. ARGV: connection, now (ms), last_seen ttl (ms).
const DISCONNECT: &str = r#"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local now = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local deadline = tonumber(string.match(all[i + 1], '|(%d+)$'))
  if deadline ~= nil and deadline > now then return 0 end
  redis.call('HDEL', KEYS[1], all[i])
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1
"#;

/// Presence in two keys per user: `online:{user_id}` (a STRING with the
/// presence TTL, refreshed by heartbeats) and the user's `ws_connections`
/// hash (connection → `instance|deadline`), so a user is online while any
/// connection on any instance lives, and the connections of an instance
/// that died without saying so expire with their deadline.
///
/// A local mirror of this instance's connections answers while Redis is
/// out of reach (it knows only local users then) and re-registers them
/// when it returns.
#[derive(Debug, Clone)]
pub struct RedisPresence {
    link: Arc<Link>,
    local: Arc<MemoryPresence>,
    connect: Arc<Script>,
    disconnect: Arc<Script>,
}

/// How long `last_seen` is kept.
const LAST_SEEN_TTL_MS: u64 = 90 * 24 * 3600 * 1000;

impl RedisPresence {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self {
            link,
            local: Arc::new(MemoryPresence::new()),
            connect: Arc::new(Script::new(CONNECT)),
            disconnect: Arc::new(Script::new(DISCONNECT)),
        }
    }

    fn ttl_ms(&self) -> u64 {
        self.link.config.presence_ttl.as_millis() as u64
    }

    fn entry(&self, now: Timestamp) -> String {
        let deadline = now.as_millis() as u64 + self.ttl_ms();
        format!("{}|{deadline}", self.link.config.instance_id)
    }

    /// Writes this instance's live connections back to Redis (after an
    /// outage or a flush lost them).
    pub(crate) async fn restore(&self, now: Timestamp) -> Result<()> {
        for (user, connection) in self.local.connections() {
            self.register(user, connection, now).await?;
        }
        Ok(())
    }

    async fn register(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<bool> {
        let keys = &self.link.keys;
        let (hash, online) = (keys.connections(user), keys.online(user));
        let instance_set = keys.instance_connections(&self.link.config.instance_id);
        let script = self.connect.clone();
        let entry = self.entry(now);
        let ttl = self.ttl_ms();
        let first: i64 = self
            .link
            .run(|mut c| async move {
                let first = script
                    .key(hash)
                    .key(online)
                    .arg(connection.to_string())
                    .arg(entry)
                    .arg(now.as_millis())
                    .arg(ttl)
                    .invoke_async(&mut c)
                    .await?;
                redis::pipe()
                    .sadd(&instance_set, format!("{user}|{connection}"))
                    .ignore()
                    .pexpire(&instance_set, ttl as i64 * 2)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await?;
                Ok(first)
            })
            .await
            .map_err(to_chat_error)?;
        Ok(first == 1)
    }

    /// The answer of Redis (all instances), or `here` (this instance's
    /// mirror) while Redis is out of reach.
    async fn shared_or(
        &self,
        here: bool,
        shared: impl std::future::Future<Output = Result<bool>>,
    ) -> Result<bool> {
        if !self.link.is_up() {
            return Ok(here);
        }
        match shared.await {
            Ok(answer) => Ok(answer),
            Err(e) => {
                tracing::debug!(error = %e, "presence falls back to this instance");
                Ok(here)
            }
        }
    }

    /// Clears what an earlier run of this instance (same id) left behind.
    pub(crate) async fn clear_instance(&self, now: Timestamp) -> Result<usize> {
        let set = self
            .link
            .keys
            .instance_connections(&self.link.config.instance_id);
        let members: Vec<String> = self
            .link
            .run(|mut c| {
                let set = set.clone();
                async move { redis::cmd("SMEMBERS").arg(set).query_async(&mut c).await }
            })
            .await
            .map_err(to_chat_error)?;
        let mut cleared = 0;
        for member in &members {
            let Some((user, connection)) = member.split_once('|') else {
                continue;
            };
            let (Ok(user), Ok(connection)) = (user.parse(), connection.parse()) else {
                continue;
            };
            if self.unregister(user, connection, now).await.is_ok() {
                cleared += 1;
            }
        }
        self.link
            .run(|mut c| async move { redis::cmd("DEL").arg(set).query_async::<()>(&mut c).await })
            .await
            .map_err(to_chat_error)?;
        Ok(cleared)
    }

    async fn unregister(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<bool> {
        let keys = &self.link.keys;
        let (hash, online, last_seen) = (
            keys.connections(user),
            keys.online(user),
            keys.last_seen(user),
        );
        let instance_set = keys.instance_connections(&self.link.config.instance_id);
        let script = self.disconnect.clone();
        let last: i64 = self
            .link
            .run(|mut c| async move {
                let last = script
                    .key(hash)
                    .key(online)
                    .key(last_seen)
                    .arg(connection.to_string())
                    .arg(now.as_millis())
                    .arg(LAST_SEEN_TTL_MS)
                    .invoke_async(&mut c)
                    .await?;
                redis::cmd("SREM")
                    .arg(instance_set)
                    .arg(format!("{user}|{connection}"))
                    .query_async::<()>(&mut c)
                    .await?;
                Ok(last)
            })
            .await
            .map_err(to_chat_error)?;
        Ok(last == 1)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connect(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<bool> {
        let first_here = self.local.connect(user, connection, now).await?;
        self.shared_or(first_here, self.register(user, connection, now))
            .await
    }

    async fn heartbeat(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<()> {
        if !self.link.is_up() {
            return Ok(());
        }
        // Re-registering refreshes the deadline and `online:`, and puts
        // the connection back if Redis lost it (a flush).
        self.register(user, connection, now).await.map(drop)
    }

    async fn disconnect(
        &self,
        user: UserId,
        connection: ConnectionId,
        now: Timestamp,
    ) -> Result<bool> {
        let last_here = self.local.disconnect(user, connection, now).await?;
        self.shared_or(last_here, self.unregister(user, connection, now))
            .await
    }

    async fn statuses(&self, users: &[UserId]) -> Result<Vec<PresenceStatus>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        if !self.link.is_up() {
            return self.local.statuses(users).await;
        }
        let keys = &self.link.keys;
        let replies: redis::RedisResult<Vec<(bool, Option<i64>)>> = self
            .link
            .per_user(users, |pipe, user| {
                pipe.exists(keys.online(user)).get(keys.last_seen(user));
            })
            .await
            .and_then(|flat| {
                // Two replies per user; a missing second one (a short
                // reply) reads as no last-seen time, not a panic.
                let mut values = flat.iter();
                let mut pairs = Vec::with_capacity(flat.len() / 2);
                while let Some(online) = values.next() {
                    let seen = values.next().unwrap_or(&redis::Value::Nil);
                    let online: bool = redis::from_redis_value_ref(online)?;
                    let seen: Option<i64> = redis::from_redis_value_ref(seen)?;
                    pairs.push((online, seen));
                }
                Ok(pairs)
            });
        match replies {
            Ok(replies) => Ok(replies
                .into_iter()
                .map(|(online, seen)| PresenceStatus {
                    online,
                    last_seen: if online {
                        None
                    } else {
                        seen.map(Timestamp::from_millis)
                    },
                })
                .collect()),
            Err(e) => {
                tracing::debug!(error = %e, "presence statuses fall back to this instance");
                self.local.statuses(users).await
            }
        }
    }
}
