//! Time: a millisecond-precision [`Timestamp`] and an injectable [`Clock`].
//!
//! Every backend stores times with millisecond precision (SQLite keeps Unix
//! milliseconds, PostgreSQL `timestamptz`), so timestamps are truncated to
//! milliseconds when created and compare equal after a round trip through any
//! store. Services read the time from a [`Clock`] so tests can move it.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with millisecond precision, serialized as RFC 3339 with
/// milliseconds (`2026-01-08T10:30:00.123Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current system time. Services use [`Clock::now`] instead.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Truncates a `DateTime` to milliseconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Self::from_millis(dt.timestamp_millis())
    }

    /// From Unix milliseconds. Out-of-range values saturate to the Unix epoch.
    pub fn from_millis(millis: i64) -> Self {
        Self(
            Utc.timestamp_millis_opt(millis)
                .single()
                .unwrap_or(DateTime::UNIX_EPOCH),
        )
    }

    /// From Unix seconds.
    pub fn from_unix_seconds(secs: i64) -> Self {
        Self::from_millis(secs.saturating_mul(1000))
    }

    /// Unix milliseconds.
    pub fn as_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Unix seconds, rounded down.
    pub fn as_unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    /// The underlying `DateTime`.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// This instant plus `d` (saturating).
    pub fn plus(&self, d: Duration) -> Self {
        Self::from_millis(
            self.as_millis()
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// This instant minus `d` (saturating).
    pub fn minus(&self, d: Duration) -> Self {
        Self::from_millis(
            self.as_millis()
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Time from `earlier` to `self`, or zero when `earlier` is later.
    pub fn since(&self, earlier: Timestamp) -> Duration {
        let ms = self.as_millis().saturating_sub(earlier.as_millis());
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// RFC 3339 with milliseconds and `Z`.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Self::from_datetime(dt)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let dt = DateTime::<Utc>::deserialize(deserializer)?;
        Ok(Self::from_datetime(dt))
    }
}

/// Source of the current time for services.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; for tests of expiry and windows.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.plus(d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_truncated_to_milliseconds() {
        let dt = Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .expect("valid");
        let ts = Timestamp::from_datetime(dt);
        assert_eq!(ts.as_millis(), 1_700_000_000_123);
    }

    #[test]
    fn timestamps_serialize_as_rfc3339_with_milliseconds() {
        let ts = Timestamp::from_millis(1_767_868_200_000);
        assert_eq!(
            serde_json::to_string(&ts).expect("serialize"),
            "\"2026-01-08T10:30:00.000Z\""
        );
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Timestamp::from_millis(1000));
        assert_eq!(clock.now().as_millis(), 1000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now().as_millis(), 3000);
    }
}
