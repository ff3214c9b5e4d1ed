//! [`DueWork`] in process memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::realtime::{DueWork, WorkKind};
use crate::time::{Clock, SystemClock, Timestamp};

/// Due work of one process, on its clock.
#[derive(Debug)]
pub struct MemoryDueWork {
    clock: Arc<dyn Clock>,
    kinds: Mutex<HashMap<WorkKind, Keys>>,
}

#[derive(Debug, Default)]
struct Keys {
    /// Due keys, and when each was first marked.
    due: HashMap<String, Timestamp>,
    /// Claimed keys, and when each claim runs out.
    claimed: HashMap<String, Timestamp>,
}

impl MemoryDueWork {
    /// Due work on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Due work on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    fn with_kind<T>(&self, kind: WorkKind, f: impl FnOnce(&mut Keys) -> T) -> T {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        f(kinds.entry(kind).or_default())
    }
}

impl Default for MemoryDueWork {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl DueWork for MemoryDueWork {
    async fn mark_due(&self, kind: WorkKind, keys: &[String]) -> Result<()> {
        let now = self.clock.now();
        self.with_kind(kind, |k| {
            for key in keys {
                k.due.entry(key.clone()).or_insert(now);
            }
        });
        Ok(())
    }

    async fn claim_due(
        &self,
        kind: WorkKind,
        settle: Duration,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<String>> {
        let now = self.clock.now();
        Ok(self.with_kind(kind, |k| {
            // Claims that ran out: their keys are due again, from now.
            let expired: Vec<String> = k
                .claimed
                .iter()
                .filter(|(_, until)| **until <= now)
                .map(|(key, _)| key.clone())
                .collect();
            for key in expired {
                k.claimed.remove(&key);
                let since = k.due.entry(key).or_insert(now);
                *since = (*since).min(now);
            }
            let mut ready: Vec<(Timestamp, String)> = k
                .due
                .iter()
                .filter(|(key, since)| since.plus(settle) <= now && !k.claimed.contains_key(*key))
                .map(|(key, since)| (*since, key.clone()))
                .collect();
            ready.sort();
            ready.truncate(limit);
            let until = now.plus(lease);
            ready
                .into_iter()
                .map(|(_, key)| {
                    k.due.remove(&key);
                    k.claimed.insert(key.clone(), until);
                    key
                })
                .collect()
        }))
    }

    async fn renew(&self, kind: WorkKind, key: &str, lease: Duration) -> Result<()> {
        let now = self.clock.now();
        let until = now.plus(lease);
        self.with_kind(kind, |k| {
            // A claim that ran out is left for the next claim to hand over.
            if let Some(held) = k.claimed.get_mut(key).filter(|held| **held > now) {
                *held = (*held).max(until);
            }
        });
        Ok(())
    }

    async fn release(&self, kind: WorkKind, key: &str) -> Result<()> {
        self.with_kind(kind, |k| k.claimed.remove(key));
        Ok(())
    }
}
