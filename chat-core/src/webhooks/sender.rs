//! The [`WebhookSender`] trait: what posts a delivery to a webhook's URL.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// Posts webhook deliveries. The server's implementation talks HTTPS to
/// public addresses only; [`MemoryWebhookSender`](crate::memory::MemoryWebhookSender)
/// keeps them, for embedders and tests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Checks a webhook's URL before it is registered (never a private or
    /// loopback address).
    ///
    /// # Errors
    /// A validation error on field `url` (`INVALID_URL`,
    /// `URL_NOT_ALLOWED`).
    async fn check(&self, url: &str) -> Result<()>;

    /// Posts `delivery` to `url`. Never fails: what the receiver (or the
    /// network) said is the outcome.
    async fn post(&self, url: &str, delivery: &Delivery) -> DeliveryOutcome;
}

/// One delivery, signed: the JSON body and the headers that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `{conversation_id}:{seq}`: the same for every attempt, so a
    /// receiver can drop repeats (`Chat-Delivery`).
    pub id: String,
    /// The event's name (`Chat-Event`).
    pub event: &'static str,
    /// `t={timestamp},v1={hmac}` (`Chat-Signature`).
    pub signature: String,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again later: a timeout, a refused connection, 408, 429, 5xx.
    Retry {
        /// The receiver's `Retry-After`, if it gave one.
        after: Option<Duration>,
        /// What went wrong, kept in the dead letter if it comes to that.
        reason: String,
    },
    /// Retrying would not help (any other answer, or a URL that now
    /// resolves to a private address): it becomes a dead letter at once.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

impl DeliveryOutcome {
    /// Its `outcome` label in `chat_webhook_deliveries_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry { .. } => "retry",
            Self::Failed { .. } => "failed",
        }
    }
}
