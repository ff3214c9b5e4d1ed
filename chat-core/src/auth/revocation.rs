//! The set of revoked sessions, consulted on every authenticated request.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::ids::SessionId;
use crate::time::Timestamp;

/// Sessions whose access tokens must be refused before they expire.
///
/// Access tokens are stateless, so logging out cannot delete them; instead
/// the session id goes here until the last token it could have issued has
/// expired (`revoked_at + access_ttl`). A lookup is one hash probe under a
/// read lock, so the check costs no database round trip. Expired entries
/// are swept on insert once the set grows.
#[derive(Debug, Default)]
pub struct RevocationList {
    entries: RwLock<HashMap<SessionId, Timestamp>>,
}

/// Entries kept before an insert sweeps the expired ones.
const SWEEP_THRESHOLD: usize = 1024;

impl RevocationList {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses `session`'s access tokens until `until`.
    pub fn revoke(&self, session: SessionId, until: Timestamp, now: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_THRESHOLD {
            entries.retain(|_, until| *until > now);
        }
        let entry = entries.entry(session).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// True when `session` is revoked.
    pub fn is_revoked(&self, session: SessionId) -> bool {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&session)
    }

    /// Number of entries (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_revoked_session_is_reported_and_others_are_not() {
        let list = RevocationList::new();
        let now = Timestamp::from_millis(0);
        let (a, b) = (SessionId::new(), SessionId::new());
        list.revoke(a, now.plus(Duration::from_secs(60)), now);
        assert!(list.is_revoked(a));
        assert!(!list.is_revoked(b));
    }

    #[test]
    fn expired_entries_are_swept_when_the_set_grows() {
        let list = RevocationList::new();
        let start = Timestamp::from_millis(0);
        for _ in 0..SWEEP_THRESHOLD {
            list.revoke(SessionId::new(), start.plus(Duration::from_secs(1)), start);
        }
        let later = start.plus(Duration::from_secs(10));
        let fresh = SessionId::new();
        list.revoke(fresh, later.plus(Duration::from_secs(60)), later);
        assert_eq!(list.len(), 1);
        assert!(list.is_revoked(fresh));
    }
}
