//! [`RedisConfig`] and the key layout it implies.

use std::time::Duration;

use chat_core::UserId;
use chat_core::realtime::WorkKind;

use crate::error::RedisBackendError;

/// How to reach Redis and how to name things there.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// A `redis://` (or `rediss://`) URL; for a cluster, the URLs of some
    /// of its nodes, comma-separated.
    pub url: String,
    /// True for a Redis Cluster: keys are routed by slot, and user
    /// channels use sharded Pub/Sub.
    pub cluster: bool,
    /// Put before every key and channel (default `chat`), so several
    /// deployments or test runs share one Redis safely. Braces are refused:
    /// they would change the hash slots of the keys.
    pub prefix: String,
    /// This instance's name in logs, `/readyz` and the connection map.
    /// Give a stable one (`CHAT_INSTANCE_ID`) and a restarted instance
    /// clears the connections it left behind at once; otherwise they
    /// expire with their heartbeats.
    pub instance_id: String,
    /// How long a connection counts as live after its last heartbeat
    /// (default 5 minutes; also the TTL of the `online:` key).
    pub presence_ttl: Duration,
    /// How long an offline queue lives after its last push (default 30
    /// days).
    pub queue_ttl: Duration,
    /// Most entries kept per offline queue (default 10,000; the oldest go).
    pub queue_max_len: usize,
    /// How often the link to Redis is checked while it is down (and, while
    /// up, how soon a silent failure is noticed).
    pub probe_interval: Duration,
    /// Longest wait for one Redis reply before the link counts as down.
    pub response_timeout: Duration,
}

impl RedisConfig {
    /// A configuration with the defaults for `url` and a random instance id.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            prefix: "chat".to_owned(),
            instance_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            presence_ttl: Duration::from_secs(5 * 60),
            queue_ttl: Duration::from_secs(30 * 24 * 3600),
            queue_max_len: 10_000,
            probe_interval: Duration::from_millis(500),
            response_timeout: Duration::from_secs(2),
        }
    }

    /// The same with another key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The same for a Redis Cluster (`url` lists seed nodes).
    pub fn for_cluster(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// The same with another instance id.
    pub fn with_instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = id.into();
        self
    }

    pub(crate) fn validate(&self) -> Result<(), RedisBackendError> {
        let bad = |what: &str| RedisBackendError::InvalidConfig(what.to_owned());
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            return Err(bad(
                "the key prefix must be non-empty and contain no braces",
            ));
        }
        if self.instance_id.is_empty()
            || self.instance_id.len() > 64
            || self.instance_id.contains(['|', '\n', '{', '}'])
        {
            return Err(bad(
                "the instance id must be 1 to 64 characters without '|', braces or newlines",
            ));
        }
        if self.presence_ttl < Duration::from_secs(1) || self.queue_max_len == 0 {
            return Err(bad("presence TTL and queue length must be positive"));
        }
        Ok(())
    }
}

/// Key and channel names. A user's keys share the hash tag `{user_id}`,
/// so they live in one Redis Cluster slot and one script can touch them
/// all.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The user's `offline_queue:{user_id}` LIST.
    pub(crate) fn offline_queue(&self, user: UserId) -> String {
        format!("{}:offline_queue:{{{user}}}", self.prefix)
    }

    /// What a consumer of the user's offline queue handled: a HASH of
    /// conversation id → seq, in the queue's slot.
    pub(crate) fn queue_handled(&self, user: UserId) -> String {
        format!("{}:queue_handled:{{{user}}}", self.prefix)
    }

    /// Due keys of one kind of work: a ZSET scored by when each was first
    /// marked (milliseconds). It shares its slot with
    /// [`claimed`](Self::claimed), so one script moves keys between the
    /// two.
    pub(crate) fn due(&self, kind: WorkKind) -> String {
        format!("{}:due:{{work:{}}}", self.prefix, kind.as_str())
    }

    /// Claimed keys of one kind of work: a ZSET scored by when each claim
    /// runs out.
    pub(crate) fn claimed(&self, kind: WorkKind) -> String {
        format!("{}:claimed:{{work:{}}}", self.prefix, kind.as_str())
    }

    /// The user's `online:{user_id}` STRING.
    pub(crate) fn online(&self, user: UserId) -> String {
        format!("{}:online:{{{user}}}", self.prefix)
    }

    /// `ws_connections`, one HASH per user (connection id →
    /// `instance|deadline`), since a user has several devices and a hash
    /// per user keeps to the user's slot.
    pub(crate) fn connections(&self, user: UserId) -> String {
        format!("{}:ws_connections:{{{user}}}", self.prefix)
    }

    /// When the user's last connection closed (milliseconds).
    pub(crate) fn last_seen(&self, user: UserId) -> String {
        format!("{}:last_seen:{{{user}}}", self.prefix)
    }

    /// The connections an instance holds (`user|connection`), so a
    /// restarted instance can clear what it left behind.
    pub(crate) fn instance_connections(&self, instance: &str) -> String {
        format!("{}:instance:{{{instance}}}:connections", self.prefix)
    }

    /// A rate-limit counter.
    pub(crate) fn rate(&self, key: &str) -> String {
        format!("{}:rate:{{{key}}}", self.prefix)
    }

    /// The channel of one user's events.
    pub(crate) fn user_channel(&self, user: UserId) -> String {
        format!("{}:user:{{{user}}}", self.prefix)
    }

    /// The user a channel belongs to.
    pub(crate) fn channel_user(&self, channel: &[u8]) -> Option<UserId> {
        let rest = channel
            .strip_prefix(self.prefix.as_bytes())?
            .strip_prefix(b":user:{")?
            .strip_suffix(b"}")?;
        std::str::from_utf8(rest).ok()?.parse().ok()
    }

    /// The channel of instance-wide notices.
    pub(crate) fn notice_channel(&self) -> String {
        format!("{}:notices", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_keys_share_one_hash_tag_and_channels_map_back_to_users() {
        let keys = Keys::new("app");
        let user = UserId::new();
        let tag = format!("{{{user}}}");
        for key in [
            keys.offline_queue(user),
            keys.queue_handled(user),
            keys.online(user),
            keys.connections(user),
            keys.last_seen(user),
        ] {
            assert!(key.starts_with("app:") && key.ends_with(&tag), "{key}");
        }
        let channel = keys.user_channel(user);
        assert_eq!(keys.channel_user(channel.as_bytes()), Some(user));
        assert_eq!(keys.channel_user(b"other:user:{x}"), None);
        assert_eq!(
            (keys.due(WorkKind::Push), keys.claimed(WorkKind::Push)),
            (
                "app:due:{work:push}".to_owned(),
                "app:claimed:{work:push}".to_owned()
            ),
            "one slot, so one script moves keys between them"
        );
    }

    #[test]
    fn braces_in_the_prefix_are_refused() {
        let config = RedisConfig::new("redis://127.0.0.1").with_prefix("a{b}");
        assert!(config.validate().is_err());
        assert!(RedisConfig::new("redis://127.0.0.1").validate().is_ok());
    }
}
