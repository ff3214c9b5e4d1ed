//! Warnings that an outage repeats on every operation, written at most
//! once per interval.
//!
//! While Redis is out of reach, every acknowledgement and every message
//! fails to reach the offline queue; a warning each time would bury the
//! log (one line per ack under load). A [`Throttle`] lets one through per
//! interval and counts the ones it held back, so the log still says how
//! often it happened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a repeated warning is written.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Lets a repeated warning through at most once per interval.
#[derive(Debug)]
pub(crate) struct Throttle {
    interval_ms: u64,
    /// When the next warning may be written, milliseconds since the epoch.
    next_ms: AtomicU64,
    /// Warnings held back since the last one written.
    suppressed: AtomicU64,
}

impl Throttle {
    /// A throttle letting one warning through per `interval`.
    pub(crate) const fn new(interval: Duration) -> Self {
        Self {
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(held_back)` when a warning may be written now (with the
    /// number held back since the last one); `None` to skip it.
    pub(crate) fn check(&self) -> Option<u64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.check_at(now)
    }

    fn check_at(&self, now_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Ordering::Relaxed);
        if now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms + self.interval_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// The cause behind an engine error, for a log line: a backend's
/// `STORE_UNAVAILABLE` says what was out of reach only in its source.
pub(crate) fn cause(e: &crate::ChatError) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_and_the_rest_are_counted() {
        let throttle = Throttle::new(Duration::from_secs(10));
        assert_eq!(throttle.check_at(1_000), Some(0));
        assert_eq!(throttle.check_at(1_001), None);
        assert_eq!(throttle.check_at(10_999), None);
        assert_eq!(throttle.check_at(11_000), Some(2), "two were held back");
        assert_eq!(throttle.check_at(11_001), None);
    }

    #[test]
    fn the_cause_names_what_was_unavailable() {
        let e = crate::ChatError::StoreUnavailable("Redis is unavailable".into());
        assert_eq!(cause(&e), "the store is unavailable: Redis is unavailable");
    }
}
