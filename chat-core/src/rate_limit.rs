//! Rate limiting: the [`RateLimiter`] trait.
//!
//! Limits are fixed windows that open at the first counted event of a key
//! and last `window` (the semantics of Redis `INCR` + `EXPIRE`, so the
//! in-memory and Redis limiters agree). The in-memory limiter is in
//! [`crate::memory`].

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// At most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed per window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

impl RateLimit {
    /// A limit of `max` events per `window`.
    pub const fn new(max: u32, window: Duration) -> Self {
        Self { max, window }
    }
}

/// Whether an event is within its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the limit.
    Allowed {
        /// Events left in the current window.
        remaining: u32,
    },
    /// Over the limit.
    Limited {
        /// Time until the window closes.
        retry_after: Duration,
    },
}

impl RateDecision {
    /// True when the event is over the limit.
    pub fn is_limited(&self) -> bool {
        matches!(self, Self::Limited { .. })
    }
}

/// Counts events per key within fixed windows.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one event for `key` and says whether it is within `limit`.
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<RateDecision>;

    /// Says whether `key` is already at or over `limit`, without counting.
    async fn peek(&self, key: &str, limit: RateLimit) -> Result<RateDecision>;
}
