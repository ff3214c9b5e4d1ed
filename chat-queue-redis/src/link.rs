//! [`Link`]: the connections to Redis and whether they work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chat_core::UserId;
use redis::aio::{AsyncPushSender, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{IntoConnectionInfo, Pipeline, ProtocolVersion, RedisResult, Value};

use crate::config::{Keys, RedisConfig};
use crate::conn::Conn;
use crate::error::{RedisBackendError, is_unavailable};

/// Two self-reconnecting connections to Redis (one server, or a cluster):
/// one for commands, one that holds this instance's Pub/Sub subscriptions
/// (RESP3, so replies and pushes share it), and a breaker that says whether
/// Redis is usable.
///
/// While the link is down, every backend answers from its local fallback
/// at once instead of waiting for a timeout on each call; a monitor task
/// probes Redis and closes the breaker when it answers again.
pub(crate) struct Link {
    pub(crate) commands: Conn,
    pub(crate) subscriber: Conn,
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
        on_push: impl AsyncPushSender + Clone,
    ) -> Result<Self, RedisBackendError> {
        config.validate()?;
        let (commands, subscriber) = if config.cluster {
            connect_cluster(&config, on_push).await?
        } else {
            connect_single(&config, on_push).await?
        };
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
    pub(crate) fn cmd(&self) -> Conn {
        self.commands.clone()
    }

    /// Runs `f` on the command connection, opening the breaker if Redis is
    /// out of reach.
    pub(crate) async fn run<T, F, Fut>(&self, f: F) -> RedisResult<T>
    where
        F: FnOnce(Conn) -> Fut,
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

    /// Runs the commands `add` builds for each user, in one pipeline on a
    /// single server, or one pipeline per user on a cluster (a pipeline
    /// may not cross slots there; the users' pipelines run at once).
    /// Returns the replies of the commands not marked `ignore`, in order.
    pub(crate) async fn per_user(
        &self,
        users: &[UserId],
        add: impl Fn(&mut Pipeline, UserId),
    ) -> RedisResult<Vec<Value>> {
        if !self.commands.is_cluster() {
            let mut pipe = redis::pipe();
            for user in users {
                add(&mut pipe, *user);
            }
            return self
                .run(|mut c| async move { pipe.query_async(&mut c).await })
                .await;
        }
        let pipes: Vec<Pipeline> = users
            .iter()
            .map(|user| {
                let mut pipe = redis::pipe();
                add(&mut pipe, *user);
                pipe
            })
            .collect();
        self.run(|c| async move {
            let replies = futures::future::try_join_all(pipes.iter().map(|pipe| {
                let mut c = c.clone();
                async move { pipe.query_async::<Vec<Value>>(&mut c).await }
            }))
            .await?;
            Ok(replies.into_iter().flatten().collect())
        })
        .await
    }

    /// Pings both connections.
    pub(crate) async fn probe(&self) -> RedisResult<()> {
        let mut c = self.cmd();
        redis::cmd("PING").query_async::<()>(&mut c).await?;
        let mut s = self.subscriber.clone();
        redis::cmd("PING").query_async::<()>(&mut s).await
    }
}

fn timeouts(config: &RedisConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200))
        .set_connection_timeout(Some(config.response_timeout))
        .set_response_timeout(Some(config.response_timeout))
}

fn resp3(url: &str) -> Result<redis::ConnectionInfo, RedisBackendError> {
    let info = url
        .trim()
        .into_connection_info()
        .map_err(RedisBackendError::InvalidUrl)?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    Ok(info.set_redis_settings(settings))
}

async fn connect_single(
    config: &RedisConfig,
    on_push: impl AsyncPushSender,
) -> Result<(Conn, Conn), RedisBackendError> {
    let client = redis::Client::open(resp3(&config.url)?).map_err(RedisBackendError::InvalidUrl)?;
    let commands = ConnectionManager::new_with_config(client.clone(), timeouts(config))
        .await
        .map_err(RedisBackendError::Connect)?;
    let subscriber = ConnectionManager::new_with_config(
        client,
        timeouts(config)
            .set_push_sender(on_push)
            .set_automatic_resubscription(),
    )
    .await
    .map_err(RedisBackendError::Connect)?;
    Ok((Conn::Single(commands), Conn::Single(subscriber)))
}

/// A cluster from its seed nodes (`url` is a comma-separated list). The
/// cluster connection resubscribes by itself after a reconnect or a slot
/// move.
async fn connect_cluster(
    config: &RedisConfig,
    on_push: impl AsyncPushSender + Clone,
) -> Result<(Conn, Conn), RedisBackendError> {
    let nodes = config
        .url
        .split(',')
        .map(resp3)
        .collect::<Result<Vec<_>, _>>()?;
    let builder = |nodes: Vec<redis::ConnectionInfo>| {
        ClusterClientBuilder::new(nodes)
            .use_protocol(ProtocolVersion::RESP3)
            .retries(1)
            .connection_timeout(config.response_timeout)
            .response_timeout(config.response_timeout)
    };
    let commands = builder(nodes.clone())
        .build()
        .map_err(RedisBackendError::InvalidUrl)?
        .get_async_connection()
        .await
        .map_err(RedisBackendError::Connect)?;
    let subscriber = builder(nodes)
        .push_sender(on_push)
        .build()
        .map_err(RedisBackendError::InvalidUrl)?
        .get_async_connection()
        .await
        .map_err(RedisBackendError::Connect)?;
    Ok((Conn::Cluster(commands), Conn::Cluster(subscriber)))
}
