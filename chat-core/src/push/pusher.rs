//! The [`Pusher`] trait: what sends a notification to a device's push
//! service.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{NewPushSubscription, PushSubscription};

/// Sends Web Push messages (RFC 8030) to the push services devices
/// subscribed with. The server's implementation encrypts each payload for
/// its device (RFC 8291), signs the request with the server's VAPID key
/// (RFC 8292) and talks HTTP only to public addresses;
/// [`MemoryPusher`](crate::memory::MemoryPusher) keeps what it is given,
/// for embedders and tests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Pusher: Send + Sync {
    /// The public key browsers subscribe with
    /// (`applicationServerKey`): an uncompressed P-256 point, base64url;
    /// `None` for a pusher that reaches no browser (the in-memory one).
    fn public_key(&self) -> Option<String>;

    /// Checks a subscription before it is stored: its endpoint is a URL
    /// this pusher may send to (never a private or loopback address), its
    /// keys are well formed.
    ///
    /// # Errors
    /// A validation error naming the field (`endpoint`, `keys.p256dh`,
    /// `keys.auth`).
    async fn check(&self, subscription: &NewPushSubscription) -> Result<()>;

    /// Sends `push` to the device of `subscription`. Never fails: what the
    /// push service (or the network) said is the outcome.
    async fn send(&self, subscription: &PushSubscription, push: &PushRequest) -> PushOutcome;
}

/// One push message, before its encryption for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    /// The payload: JSON of a
    /// [`PushNotification`](crate::model::PushNotification).
    pub payload: Vec<u8>,
    /// RFC 8030 `Topic`: a push service keeps only the newest message of
    /// a topic while the device is away (the conversation's id, 32
    /// characters of base64url alphabet).
    pub topic: String,
    /// How long the push service keeps it for an unreachable device.
    pub ttl: Duration,
    /// RFC 8030 `Urgency`.
    pub urgency: Urgency,
}

/// RFC 8030 `Urgency`: how soon a device on battery wants the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// `normal`: group messages.
    Normal,
    /// `high`: direct messages and mentions.
    High,
}

impl Urgency {
    /// The header's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// What became of one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The push service took it (201).
    Delivered,
    /// The subscription is no more (404, 410): it is deleted.
    Gone,
    /// Try again later: the push service is down, slow, overloaded (429,
    /// 5xx, a timeout, a connection refused). `after` is its
    /// `Retry-After`, if it gave one.
    Retry {
        /// How long the push service asked to wait.
        after: Option<Duration>,
        /// What went wrong, for the log.
        reason: String,
    },
    /// The push service refused this message for good (400, 401, 403,
    /// 413), or the endpoint now resolves to an address not allowed; it is
    /// not retried, and the subscription is kept.
    Refused {
        /// What went wrong, for the log.
        reason: String,
    },
}

impl PushOutcome {
    /// Its `outcome` label in `chat_push_notifications_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Gone => "gone",
            Self::Retry { .. } => "retry",
            Self::Refused { .. } => "refused",
        }
    }
}
