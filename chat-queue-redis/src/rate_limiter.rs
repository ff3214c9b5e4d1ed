//! [`RedisRateLimiter`]: fixed-window counters shared by every instance.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::Result;
use chat_core::memory::MemoryRateLimiter;
use chat_core::rate_limit::{RateDecision, RateLimit, RateLimiter};
use redis::Script;

use crate::link::Link;

/// Counts one event; opens the window (its expiry) on the first event.
/// Returns the count and the window's remaining milliseconds.
const HIT: &str = r#"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"#;

/// Rate limits that hold across instances: `INCR` and `PEXPIRE` on one
/// key per limited thing, the same fixed-window semantics as the in-memory
/// limiter.
///
/// While Redis is out of reach, a local limiter takes over, so limits
/// still hold per instance and nothing waits on a dead connection.
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    link: Arc<Link>,
    local: Arc<MemoryRateLimiter>,
    hit: Arc<Script>,
}

impl RedisRateLimiter {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self {
            link,
            local: Arc::new(MemoryRateLimiter::new()),
            hit: Arc::new(Script::new(HIT)),
        }
    }
}

fn decide(count: u64, remaining_ms: i64, limit: RateLimit, counting: bool) -> RateDecision {
    let over = if counting {
        count > u64::from(limit.max)
    } else {
        count >= u64::from(limit.max)
    };
    if over {
        RateDecision::Limited {
            retry_after: Duration::from_millis(remaining_ms.max(0) as u64),
        }
    } else {
        RateDecision::Allowed {
            remaining: (u64::from(limit.max) - count.min(u64::from(limit.max))) as u32,
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<RateDecision> {
        if !self.link.is_up() {
            return self.local.hit(key, limit).await;
        }
        let redis_key = self.link.keys.rate(key);
        let window = limit.window.as_millis().max(1) as u64;
        let script = self.hit.clone();
        let reply: redis::RedisResult<(u64, i64)> = self
            .link
            .run(
                |mut c| async move { script.key(redis_key).arg(window).invoke_async(&mut c).await },
            )
            .await;
        match reply {
            Ok((count, ttl)) => Ok(decide(count, ttl, limit, true)),
            Err(e) => {
                tracing::debug!(error = %e, "rate limit falls back to this instance");
                self.local.hit(key, limit).await
            }
        }
    }

    async fn peek(&self, key: &str, limit: RateLimit) -> Result<RateDecision> {
        if !self.link.is_up() {
            return self.local.peek(key, limit).await;
        }
        let redis_key = self.link.keys.rate(key);
        let reply: redis::RedisResult<(Option<u64>, i64)> = self
            .link
            .run(|mut c| async move {
                redis::pipe()
                    .get(&redis_key)
                    .pttl(&redis_key)
                    .query_async(&mut c)
                    .await
            })
            .await;
        match reply {
            Ok((count, ttl)) => Ok(decide(count.unwrap_or(0), ttl, limit, false)),
            Err(e) => {
                tracing::debug!(error = %e, "rate limit falls back to this instance");
                self.local.peek(key, limit).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_allows_up_to_max_and_peeking_stops_at_max() {
        let limit = RateLimit::new(3, Duration::from_secs(60));
        assert_eq!(
            decide(3, 1_000, limit, true),
            RateDecision::Allowed { remaining: 0 }
        );
        assert!(decide(4, 1_000, limit, true).is_limited());
        assert!(decide(3, 1_000, limit, false).is_limited());
        assert_eq!(
            decide(0, -2, limit, false),
            RateDecision::Allowed { remaining: 3 }
        );
    }
}
