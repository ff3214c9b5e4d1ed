//! [`BoundedMap`]: a sharded map of small facts that forgets rather than
//! grows, for the service's in-memory shortcuts.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

/// Shards, so that callers with different keys rarely contend.
const SHARDS: usize = 16;

/// A map holding about `max_entries` entries. Its users keep in it only
/// what they could read again from the store: a forgotten entry costs a
/// read, never a wrong answer.
#[derive(Debug)]
pub(super) struct BoundedMap<K, V> {
    shards: Vec<Mutex<HashMap<K, V>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq, V: Copy> BoundedMap<K, V> {
    /// A map of about `max_entries` entries in all.
    pub(super) fn new(max_entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: (max_entries / SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    /// The value of `key`, if held.
    pub(super) fn get(&self, key: &K) -> Option<V> {
        self.shard(key).get(key).copied()
    }

    /// Sets `key` to `next(previous)`; returns the previous value, if held.
    pub(super) fn update(&self, key: K, next: impl FnOnce(Option<V>) -> V) -> Option<V> {
        let mut map = self.shard(&key);
        if let Some(value) = map.get_mut(&key) {
            let before = *value;
            *value = next(Some(before));
            return Some(before);
        }
        if map.len() >= self.per_shard {
            // Crude but bounded, as the member cache: a full shard starts
            // over, and what it forgot is read again when next needed.
            map.clear();
        }
        map.insert(key, next(None));
        None
    }

    fn shard(&self, key: &K) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        let index = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_returns_the_previous_value() {
        let map = BoundedMap::new(100);
        assert_eq!(map.update("a", |_| 1), None);
        assert_eq!(map.update("a", |v| v.unwrap_or(0) + 1), Some(1));
        assert_eq!(map.get(&"a"), Some(2));
        assert_eq!(map.get(&"b"), None);
    }

    #[test]
    fn it_stays_bounded() {
        let map = BoundedMap::new(SHARDS * 2);
        for i in 0..1_000u32 {
            map.update(i, |_| i);
        }
        assert!(map.len() <= SHARDS * 2, "{}", map.len());
        assert!(map.len() > 0);
    }
}
