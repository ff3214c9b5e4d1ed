use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::Result;
use crate::rate_limit::{RateDecision, RateLimit, RateLimiter};
use crate::time::{Clock, SystemClock, Timestamp};

/// Fixed-window counters in process memory: limits hold per instance.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    ends_at: Timestamp,
    count: u32,
}

/// Above this many keys, expired windows are swept on the next hit.
const SWEEP_THRESHOLD: usize = 10_000;

impl MemoryRateLimiter {
    /// A limiter on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A limiter reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn decide(window: Window, limit: RateLimit, now: Timestamp) -> RateDecision {
        if window.count > limit.max {
            RateDecision::Limited {
                retry_after: window.ends_at.since(now),
            }
        } else {
            RateDecision::Allowed {
                remaining: limit.max - window.count,
            }
        }
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<RateDecision> {
        let now = self.clock.now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > SWEEP_THRESHOLD {
            windows.retain(|_, w| w.ends_at > now);
        }
        let window = windows
            .entry(key.to_owned())
            .and_modify(|w| {
                if w.ends_at <= now {
                    *w = Window {
                        ends_at: now.plus(limit.window),
                        count: 0,
                    };
                }
            })
            .or_insert(Window {
                ends_at: now.plus(limit.window),
                count: 0,
            });
        window.count = window.count.saturating_add(1);
        Ok(Self::decide(*window, limit, now))
    }

    async fn peek(&self, key: &str, limit: RateLimit) -> Result<RateDecision> {
        let now = self.clock.now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(w) if w.ends_at > now && w.count >= limit.max => Ok(RateDecision::Limited {
                retry_after: w.ends_at.since(now),
            }),
            Some(w) if w.ends_at > now => Ok(RateDecision::Allowed {
                remaining: limit.max - w.count,
            }),
            _ => Ok(RateDecision::Allowed {
                remaining: limit.max,
            }),
        }
    }
}
