//! Web Push notifications for people who are not looking
//! (docs/api.md, "Push notifications").
//!
//! Devices register subscriptions ([`PushService::subscribe`]). A message
//! to a user with no live connection joins their offline queue (the
//! fan-out puts it there); the notifier ([`PushService::notify_due`], run
//! in a loop by [`PushService::spawn_notifier`] on every instance) claims
//! users with new entries from the queue, once per burst and on exactly
//! one instance, and sends each of their devices one notification per
//! conversation through a [`Pusher`].

mod notifier;
mod preview;
mod pusher;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use pusher::{PushOutcome, PushRequest, Pusher, Urgency};

#[cfg(any(test, feature = "mock"))]
pub use pusher::MockPusher;

use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{PushSubscriptionId, UserId};
use crate::metrics::Metrics;
use crate::model::{
    MAX_PUSH_SUBSCRIPTIONS_PER_USER, NewPushSubscription, PushLevel, PushSubscription,
};
use crate::rate_limit::{RateDecision, RateLimit, RateLimiter};
use crate::realtime::RealtimeDeps;
use crate::store::{ConversationStore, MessageStore, PushStore, UserStore};
use crate::time::Clock;

/// The longest endpoint URL taken (browsers' are a few hundred bytes).
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Settings of push notifications.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// How long after a user's first unnotified message the notifier
    /// waits, so a burst becomes one notification per conversation
    /// (default 1.5 s).
    pub settle: Duration,
    /// How long a claim on a user lasts unless renewed (default 60 s):
    /// the notifier renews it every third of that while it works on the
    /// user, so an instance that dies loses its users within a lease.
    pub lease: Duration,
    /// Users claimed at once, and handled concurrently (default 32).
    pub batch: usize,
    /// How often an idle notifier looks for due users (default 250 ms).
    pub poll: Duration,
    /// Waits between attempts of a push the push service asked to retry
    /// (default 1 s, 4 s, 15 s: four attempts in all). A push service's
    /// `Retry-After` may stretch each to twice as long.
    pub retry_delays: Vec<Duration>,
    /// How long a push service keeps a notification for a device that is
    /// away (default 1 day).
    pub ttl: Duration,
    /// Subscriptions one user may register (default 30 an hour).
    pub subscribe_limit: RateLimit,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            settle: Duration::from_millis(1500),
            lease: Duration::from_secs(60),
            batch: 32,
            poll: Duration::from_millis(250),
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(4),
                Duration::from_secs(15),
            ],
            ttl: Duration::from_secs(24 * 3600),
            subscribe_limit: RateLimit::new(30, Duration::from_secs(3600)),
        }
    }
}

/// A subscription as a device sends it (`PushSubscription.toJSON()` of
/// the browser, with a level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The push service's URL for the device.
    pub endpoint: String,
    /// The device's public key (base64url).
    pub p256dh: String,
    /// The device's authentication secret (base64url).
    pub auth: String,
    /// Which messages notify the device (default all).
    pub level: PushLevel,
}

/// Push subscriptions and the notifier. Cheap to clone; clones share
/// everything.
#[derive(Clone)]
pub struct PushService {
    deps: Arc<PushDeps>,
    config: Arc<PushConfig>,
}

impl std::fmt::Debug for PushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What [`PushService`] works with.
pub(crate) struct PushDeps {
    pub(crate) subscriptions: Arc<dyn PushStore>,
    pub(crate) conversations: Arc<dyn ConversationStore>,
    pub(crate) messages: Arc<dyn MessageStore>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) realtime: RealtimeDeps,
    pub(crate) pusher: Arc<dyn Pusher>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Metrics,
}

impl PushService {
    pub(crate) fn new(deps: PushDeps, config: PushConfig) -> Self {
        Self {
            deps: Arc::new(deps),
            config: Arc::new(config),
        }
    }

    /// The key browsers subscribe with (`applicationServerKey`), or `None`
    /// when the pusher reaches no browser.
    pub fn public_key(&self) -> Option<String> {
        self.deps.pusher.public_key()
    }

    /// Registers a device's subscription for `user`. Registering an
    /// endpoint again updates it (and moves it to `user` if it was
    /// someone else's: the device signed in as them).
    ///
    /// # Errors
    /// `INVALID_PUSH_SUBSCRIPTION` for a malformed endpoint or keys,
    /// `URL_NOT_ALLOWED` for an endpoint at a private address,
    /// `TOO_MANY_PUSH_SUBSCRIPTIONS`, `RATE_LIMITED`.
    pub async fn subscribe(
        &self,
        user: UserId,
        request: SubscribeRequest,
    ) -> Result<PushSubscription> {
        let d = &self.deps;
        let key = format!("push_subscribe:{user}");
        if let RateDecision::Limited { retry_after } =
            d.limiter.hit(&key, self.config.subscribe_limit).await?
        {
            return Err(ChatError::RateLimited { retry_after });
        }
        let new = NewPushSubscription {
            id: PushSubscriptionId::new(),
            user_id: user,
            endpoint: request.endpoint,
            p256dh: request.p256dh,
            auth: request.auth,
            level: request.level,
            created_at: d.clock.now(),
        };
        check_subscription_shape(&new)?;
        let existing = d.subscriptions.push_subscriptions(user).await?;
        let renewal = existing.iter().any(|s| s.endpoint == new.endpoint);
        if !renewal && existing.len() >= MAX_PUSH_SUBSCRIPTIONS_PER_USER {
            return Err(ChatError::TooManyPushSubscriptions {
                max: MAX_PUSH_SUBSCRIPTIONS_PER_USER,
            });
        }
        d.pusher.check(&new).await?;
        d.subscriptions.save_push_subscription(new).await
    }

    /// The user's subscriptions, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>> {
        self.deps.subscriptions.push_subscriptions(user).await
    }

    /// Changes which messages notify one of the user's devices.
    ///
    /// # Errors
    /// `PUSH_SUBSCRIPTION_NOT_FOUND` when the user has no such
    /// subscription.
    pub async fn set_level(
        &self,
        user: UserId,
        id: PushSubscriptionId,
        level: PushLevel,
    ) -> Result<PushSubscription> {
        self.deps
            .subscriptions
            .set_push_level(user, id, level)
            .await?
            .ok_or(ChatError::PushSubscriptionNotFound)
    }

    /// Deletes one of the user's subscriptions (a device that signs out or
    /// turns notifications off).
    ///
    /// # Errors
    /// `PUSH_SUBSCRIPTION_NOT_FOUND` when the user has no such
    /// subscription.
    pub async fn unsubscribe(&self, user: UserId, id: PushSubscriptionId) -> Result<()> {
        if self
            .deps
            .subscriptions
            .delete_push_subscription(id, Some(user))
            .await?
        {
            Ok(())
        } else {
            Err(ChatError::PushSubscriptionNotFound)
        }
    }
}

/// What every pusher checks of a subscription before anything else: an
/// `http` or `https` endpoint of sane length (a pusher that talks to the
/// network takes only `https` from outside: see its own checks), a P-256 public key (65 bytes,
/// uncompressed) and a 16-byte secret, both base64url.
///
/// # Errors
/// `INVALID_PUSH_SUBSCRIPTION`, naming the field.
pub fn check_subscription_shape(sub: &NewPushSubscription) -> Result<()> {
    let invalid = |field, message: &str| -> ChatError {
        ValidationError::new(field, "INVALID_PUSH_SUBSCRIPTION", message).into()
    };
    let endpoint = &sub.endpoint;
    if endpoint.len() > MAX_ENDPOINT_LEN
        || !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        || endpoint
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "endpoint",
            "endpoint must be an https URL of at most 2048 characters",
        ));
    }
    let key = decode_base64url(&sub.p256dh);
    if !key.as_ref().is_some_and(|k| k.len() == 65 && k[0] == 4) {
        return Err(invalid(
            "keys.p256dh",
            "keys.p256dh must be an uncompressed P-256 public key in base64url",
        ));
    }
    if decode_base64url(&sub.auth).is_none_or(|a| a.len() != 16) {
        return Err(invalid(
            "keys.auth",
            "keys.auth must be 16 bytes in base64url",
        ));
    }
    Ok(())
}

/// Base64url with or without padding, as browsers send it.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}
