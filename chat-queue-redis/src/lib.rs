//! Redis backends for the chat engine: the offline queue, presence, the
//! cross-instance event bus and shared rate limits, so that several
//! `chat-server` instances behave as one service.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use chat_queue_redis::{RedisBackend, RedisConfig};
//!
//! let redis = RedisBackend::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
//! let engine = chat_core::ChatEngine::builder()
//!     .bus(redis.bus())
//!     .queue(redis.queue())
//!     .presence(redis.presence())
//!     .due_work(redis.due_work())
//!     .rate_limiter(redis.rate_limiter())
//!     .build()?;
//! # drop(engine); Ok(()) }
//! ```
//!
//! Every key and channel starts with a configurable prefix, and a user's
//! keys share one hash tag (`{user_id}`). When Redis is out of reach the
//! backends fall back to this instance (local delivery, local presence and
//! limits) instead of failing requests, and a monitor task resyncs every
//! connection once Redis answers again.
//!
//! # Layout
//!
//! - `config.rs`: [`RedisConfig`] (URL or cluster seeds, prefix, instance id,
//!   lifetimes) and the names of every key and channel.
//! - `conn.rs`: one connection type over a single server or a cluster.
//! - `link.rs`: the breaker every call goes through, and per-user pipelines.
//! - `bus.rs`: the cross-instance event bus (publish, subscriptions,
//!   notices, resubscription after an outage).
//! - `queue.rs`: the offline queue; `presence.rs`: presence with a local
//!   mirror; `rate_limiter.rs`: shared rate limits with a local fallback;
//!   `due_work.rs`: background work claimed by one instance at a time.
//! - `wire.rs`: the encoding of events between instances.
//! - `error.rs`: [`RedisBackendError`] with stable codes, and how Redis
//!   failures become chat errors.
//! - this file: [`RedisBackend`], which connects everything and runs the
//!   monitor, and [`RedisHealth`].
//! - `testkit.rs` (feature `testkit`): test prefixes, and throwaway Redis
//!   servers and clusters that tests can stop and restart.

mod bus;
mod config;
mod conn;
mod due_work;
mod error;
mod link;
mod presence;
mod queue;
mod rate_limiter;
#[cfg(feature = "testkit")]
pub mod testkit;
mod wire;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chat_core::rate_limit::RateLimiter;
use chat_core::realtime::{DueWork, EventBus, LocalHub, NoticeHandlers, OfflineQueue, Presence};
use chat_core::time::{Clock, SystemClock};

pub use bus::RedisEventBus;
pub use config::RedisConfig;
pub use due_work::RedisDueWork;
pub use error::{RedisBackendError, to_chat_error};
pub use presence::RedisPresence;
pub use queue::RedisOfflineQueue;
pub use rate_limiter::RedisRateLimiter;

use bus::Inbox;
use link::Link;

/// The four Redis backends over one link, and the tasks that keep it
/// healthy. Keep it (or the engine built from it) alive: the monitor stops
/// when the bus is dropped.
#[derive(Debug, Clone)]
pub struct RedisBackend {
    link: Arc<Link>,
    bus: RedisEventBus,
    queue: RedisOfflineQueue,
    due: RedisDueWork,
    presence: RedisPresence,
    limiter: RedisRateLimiter,
}

/// What `/readyz` reports about Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisHealth {
    /// This instance's id.
    pub instance_id: String,
    /// True while Redis answers; false while the instance serves from its
    /// local fallbacks.
    pub available: bool,
}

impl RedisBackend {
    /// Connects with the system clock.
    ///
    /// # Errors
    /// See [`RedisBackendError`].
    pub async fn connect(config: RedisConfig) -> Result<Self, RedisBackendError> {
        Self::connect_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Connects, reading presence times from `clock` (the engine's).
    ///
    /// # Errors
    /// See [`RedisBackendError`].
    pub async fn connect_with_clock(
        config: RedisConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RedisBackendError> {
        config.validate()?;
        let inbox = Arc::new(Inbox {
            hub: Arc::new(LocalHub::default()),
            handlers: NoticeHandlers::default(),
            keys: config::Keys::new(&config.prefix),
            instance_id: config.instance_id.clone(),
            lost_link: AtomicBool::new(false),
        });
        let receiver = inbox.clone();
        let on_push = move |push| -> Result<(), std::convert::Infallible> {
            receiver.receive(push);
            Ok(())
        };
        let link =
            Arc::new(Link::connect(config, Arc::new(AtomicBool::new(false)), on_push).await?);
        let (bus, left) = RedisEventBus::new(link.clone(), inbox);
        bus.subscribe_notices()
            .await
            .map_err(RedisBackendError::Connect)?;
        let backend = Self {
            queue: RedisOfflineQueue::new(link.clone()),
            due: RedisDueWork::new(link.clone()),
            presence: RedisPresence::new(link.clone()),
            limiter: RedisRateLimiter::new(link.clone()),
            bus,
            link,
        };
        match backend.presence.clear_instance(clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                connections = n,
                "cleared connections an earlier run of this instance left in Redis"
            ),
            Err(e) => tracing::warn!(error = %e, "could not clear an earlier run's connections"),
        }
        tokio::spawn(RedisEventBus::run_unsubscriber(
            backend.bus.downgrade(),
            left,
        ));
        tokio::spawn(monitor(backend.clone_for_monitor(), clock));
        tracing::info!(instance_id = %backend.link.config.instance_id, prefix = %backend.link.config.prefix, "connected to Redis");
        Ok(backend)
    }

    fn clone_for_monitor(&self) -> Monitored {
        Monitored {
            link: self.link.clone(),
            bus: self.bus.downgrade(),
            presence: self.presence.clone(),
        }
    }

    /// The event bus.
    pub fn bus(&self) -> Arc<dyn EventBus> {
        Arc::new(self.bus.clone())
    }

    /// The offline queue.
    pub fn queue(&self) -> Arc<dyn OfflineQueue> {
        Arc::new(self.queue.clone())
    }

    /// Due background work (push notifications, webhook deliveries),
    /// shared by every instance.
    pub fn due_work(&self) -> Arc<dyn DueWork> {
        Arc::new(self.due.clone())
    }

    /// Presence.
    pub fn presence(&self) -> Arc<dyn Presence> {
        Arc::new(self.presence.clone())
    }

    /// The shared rate limiter.
    pub fn rate_limiter(&self) -> Arc<dyn RateLimiter> {
        Arc::new(self.limiter.clone())
    }

    /// The hub of this instance's connections.
    pub fn hub(&self) -> &Arc<LocalHub> {
        self.bus.hub()
    }

    /// Whether Redis answers, and this instance's id.
    pub fn health(&self) -> RedisHealth {
        RedisHealth {
            instance_id: self.link.config.instance_id.clone(),
            available: self.link.is_up(),
        }
    }
}

struct Monitored {
    link: Arc<Link>,
    bus: std::sync::Weak<bus::BusInner>,
    presence: RedisPresence,
}

/// Probes Redis every `probe_interval`; opens the breaker when it stops
/// answering, and when it answers again (or the subscriber connection
/// dropped in between) restores presence and subscriptions and resyncs.
async fn monitor(m: Monitored, clock: Arc<dyn Clock>) {
    let interval = m.link.config.probe_interval;
    let timeout = m.link.config.response_timeout;
    let instance_id = m.link.config.instance_id.clone();
    loop {
        tokio::time::sleep(interval).await;
        let Some(bus) = m.bus.upgrade().map(RedisEventBus::from_inner) else {
            return;
        };
        let answered = matches!(
            tokio::time::timeout(timeout, m.link.probe()).await,
            Ok(Ok(()))
        );
        if !answered {
            if m.link.mark_down() {
                tracing::warn!(%instance_id, "Redis is unavailable; serving from local fallbacks");
            }
            continue;
        }
        let was_down = m.link.mark_up();
        if !(was_down | bus.take_lost_link()) {
            continue;
        }
        let restored = async {
            m.presence.restore(clock.now()).await?;
            bus.restore().await
        };
        match restored.await {
            Ok(()) => tracing::info!(%instance_id, "Redis is back; connections resynced"),
            Err(e) => {
                tracing::warn!(error = %e, %instance_id, "Redis answered but the restore failed; retrying");
                m.link.mark_down();
            }
        }
    }
}
