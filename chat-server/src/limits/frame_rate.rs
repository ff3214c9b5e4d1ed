//! Token buckets for the frames that cost the server more than they cost
//! the client: `sync` (a store read and up to 64 KiB of message content) and
//! `typing` (a fan-out to every member).

use std::time::Duration;

use tokio::time::Instant;

/// How many frames of one kind a connection may send: `burst` at once,
/// then `per_second` on average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRate {
    /// Frames allowed at once, after a quiet while.
    pub burst: u32,
    /// Frames allowed per second, on average, after that.
    pub per_second: f64,
}

impl FrameRate {
    /// `burst` frames at once, then `per_second`.
    pub const fn new(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }
}

/// One connection's bucket for one kind of frame.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: FrameRate,
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket: `rate.burst` frames may come at once.
    pub(crate) fn new(rate: FrameRate) -> Self {
        Self {
            rate,
            tokens: f64::from(rate.burst),
            updated: Instant::now(),
        }
    }

    /// Takes a token; `Err` holds how long until one is back.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.tokens =
            (self.tokens + elapsed * self.rate.per_second).min(f64::from(self.rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        Err(if self.rate.per_second > 0.0 {
            Duration::from_secs_f64(missing / self.rate.per_second)
        } else {
            Duration::from_secs(3600)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(FrameRate::new(3, 2.0));
        for _ in 0..3 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).expect_err("the burst is spent");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(bucket.take(start + Duration::from_millis(500)).is_ok());
        assert!(bucket.take(start + Duration::from_millis(600)).is_err());
        assert!(
            bucket.take(start + Duration::from_secs(60)).is_ok(),
            "refilled"
        );
    }
}
