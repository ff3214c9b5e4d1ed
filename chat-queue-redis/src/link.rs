//! [`Link`]: the connections to Redis and whether they work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::aio::AsyncPushSender;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, RedisResult};

use crate::config::{Keys, RedisConfig};
use crate::error::{RedisBackendError, is_unavailable};

/// Two self-reconnecting connections to Redis: one for commands, one that
/// holds this instance's Pub/Sub subscriptions (RESP3, so replies and
/// pushes share it), and a breaker that says whether Redis is usable.
///
/// While the link is down, every backend answers from its local fallback
/// at once instead of waiting for a timeout on each call; a monitor task
/// probes Redis and closes the breaker when it answers again.
pub(crate) struct Link {
    pub(crate) commands: ConnectionManager,
    pub(crate) subscriber: ConnectionManager,
    pub(crate) keys: Keys,
    pub(crate) config: RedisConfig,
    up: Arc<AtomicBool>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("instance_id", &self.config.instance_id)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Connects both connections; `on_push` receives what the subscriber
    /// connection is sent (messages, and a disconnection notice).
    pub(crate) async fn connect(
        config: RedisConfig,
        up: Arc<AtomicBool>,
        on_push: impl AsyncPushSender,
    ) -> Result<Self, RedisBackendError> {
        config.validate()?;
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(RedisBackendError::InvalidUrl)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))
            .map_err(RedisBackendError::InvalidUrl)?;
        let base = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(std::time::Duration::from_millis(50))
            .set_max_delay(std::time::Duration::from_millis(200))
            .set_connection_timeout(Some(config.response_timeout))
            .set_response_timeout(Some(config.response_timeout));
        let commands = ConnectionManager::new_with_config(client.clone(), base.clone())
            .await
            .map_err(RedisBackendError::Connect)?;
        let subscriber = ConnectionManager::new_with_config(
            client,
            base.set_push_sender(on_push).set_automatic_resubscription(),
        )
        .await
        .map_err(RedisBackendError::Connect)?;
        up.store(true, Ordering::Release);
        Ok(Self {
            commands,
            subscriber,
            keys: Keys::new(&config.prefix),
            config,
            up,
        })
    }

    /// True while Redis answers.
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Opens the breaker after a failure that means Redis is out of reach;
    /// true when this call did it (the caller logs the transition).
    pub(crate) fn note_failure(&self, e: &redis::RedisError) -> bool {
        is_unavailable(e) && self.up.swap(false, Ordering::AcqRel)
    }

    /// Opens the breaker; true when it was closed.
    pub(crate) fn mark_down(&self) -> bool {
        self.up.swap(false, Ordering::AcqRel)
    }

    /// Closes the breaker; true when it was open.
    pub(crate) fn mark_up(&self) -> bool {
        !self.up.swap(true, Ordering::AcqRel)
    }

    /// A clone of the command connection (cheap; clones share it).
    pub(crate) fn cmd(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// Runs `f` on the command connection, opening the breaker if Redis is
    /// out of reach.
    pub(crate) async fn run<T, F, Fut>(&self, f: F) -> RedisResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        let result = f(self.cmd()).await;
        if let Err(e) = &result
            && self.note_failure(e)
        {
            tracing::warn!(error = %e, instance_id = %self.config.instance_id, "Redis is unavailable; serving from local fallbacks");
        }
        result
    }

    /// Pings both connections.
    pub(crate) async fn probe(&self) -> RedisResult<()> {
        let mut c = self.cmd();
        redis::cmd("PING").query_async::<()>(&mut c).await?;
        let mut s = self.subscriber.clone();
        redis::cmd("PING").query_async::<()>(&mut s).await
    }
}
