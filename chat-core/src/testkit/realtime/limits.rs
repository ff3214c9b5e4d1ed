//! Conformance cases for the shared [`RateLimiter`].

use std::time::Duration;

use crate::ids::UserId;
use crate::rate_limit::{RateDecision, RateLimit, RateLimiter};

use super::TestRealtime;

const LIMIT: RateLimit = RateLimit::new(3, Duration::from_secs(60));

/// A key nobody else uses.
fn fresh_key() -> String {
    format!("test:{}", UserId::new())
}

async fn hit(limiter: &dyn RateLimiter, key: &str) -> RateDecision {
    limiter.hit(key, LIMIT).await.expect("hit")
}

/// `max` hits are allowed, counting down; the next is refused with a
/// retry time within the window.
pub async fn realtime_limits_hits_are_allowed_up_to_the_limit_then_refused(rt: &dyn TestRealtime) {
    let limiter = rt.rate_limiter();
    let key = fresh_key();
    for remaining in [2, 1, 0] {
        assert_eq!(
            hit(&*limiter, &key).await,
            RateDecision::Allowed { remaining }
        );
    }
    match hit(&*limiter, &key).await {
        RateDecision::Limited { retry_after } => {
            assert!(retry_after <= LIMIT.window && retry_after > Duration::ZERO);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Peeking says where a key stands without counting.
pub async fn realtime_limits_peek_does_not_count(rt: &dyn TestRealtime) {
    let limiter = rt.rate_limiter();
    let key = fresh_key();
    let peek = |key: String| {
        let limiter = limiter.clone();
        async move { limiter.peek(&key, LIMIT).await.expect("peek") }
    };
    assert_eq!(
        peek(key.clone()).await,
        RateDecision::Allowed { remaining: 3 }
    );
    hit(&*limiter, &key).await;
    assert_eq!(
        peek(key.clone()).await,
        RateDecision::Allowed { remaining: 2 }
    );
    assert_eq!(
        peek(key.clone()).await,
        RateDecision::Allowed { remaining: 2 }
    );
    hit(&*limiter, &key).await;
    hit(&*limiter, &key).await;
    assert!(
        peek(key).await.is_limited(),
        "at the limit, the next would be refused"
    );
}

/// Counting one key leaves the others alone.
pub async fn realtime_limits_keys_are_independent(rt: &dyn TestRealtime) {
    let limiter = rt.rate_limiter();
    let (a, b) = (fresh_key(), fresh_key());
    for _ in 0..4 {
        hit(&*limiter, &a).await;
    }
    assert!(hit(&*limiter, &a).await.is_limited());
    assert_eq!(
        hit(&*limiter, &b).await,
        RateDecision::Allowed { remaining: 2 }
    );
}

/// Hits on two instances count against one limit.
pub async fn realtime_limits_hold_across_instances(rt: &dyn TestRealtime) {
    let Some(other) = rt.other_instance_rate_limiter() else {
        return;
    };
    let here = rt.rate_limiter();
    let key = fresh_key();
    hit(&*here, &key).await;
    hit(&*other, &key).await;
    assert_eq!(
        hit(&*here, &key).await,
        RateDecision::Allowed { remaining: 0 }
    );
    assert!(hit(&*other, &key).await.is_limited());
}
