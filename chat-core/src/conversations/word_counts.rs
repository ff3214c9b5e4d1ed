//! [`WordCounts`]: how many messages hold each searched word, remembered
//! for a minute, so that a search decides how to run (ranked, latest
//! first, or refused as too broad) without counting again.
//!
//! Counting a very common word is the costly part of the decision (on
//! SQLite, a pass over up to the cap of its index entries), and the same
//! words are searched again and again. A remembered count may be up to a
//! minute old: the counts only choose how a search runs, and a word
//! crossing the line a minute late changes nothing a searcher could tell
//! from the ordinary growth of the store.

use std::time::Duration;

// Tokio's clock, so tests can move it (`tokio::time::advance`); in a
// running server it is the monotonic clock.
use tokio::time::Instant;

use super::bounded_map::BoundedMap;
use crate::error::Result;
use crate::store::MessageStore;

/// How long a count is used before it is counted again.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// A word's count, up to `cap`, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Counted {
    count: u64,
    cap: u64,
    at: Instant,
}

/// Word counts of recent searches, about `max_entries` words in all.
#[derive(Debug)]
pub(super) struct WordCounts(BoundedMap<String, Counted>);

impl WordCounts {
    /// Remembers about `max_entries` words.
    pub(super) fn new(max_entries: usize) -> Self {
        Self(BoundedMap::new(max_entries))
    }

    /// How many messages hold each of `words`, up to `cap` (see
    /// [`MessageStore::search_word_counts`]): counted in the last minute
    /// with the same cap, or asked of `store` (all the missing words in
    /// one call).
    pub(super) async fn counts(
        &self,
        store: &dyn MessageStore,
        words: &[String],
        cap: u64,
    ) -> Result<Vec<u64>> {
        let now = Instant::now();
        let mut counts: Vec<Option<u64>> = words
            .iter()
            .map(|word| {
                self.0
                    .get(word)
                    .filter(|c| c.cap == cap && now.duration_since(c.at) < FRESH_FOR)
                    .map(|c| c.count)
            })
            .collect();
        let missing: Vec<String> = (words.iter().zip(&counts))
            .filter(|(_, count)| count.is_none())
            .map(|(word, _)| word.clone())
            .collect();
        if !missing.is_empty() {
            let fresh = store.search_word_counts(&missing, cap).await?;
            let mut fresh = missing.into_iter().zip(fresh);
            for count in counts.iter_mut().filter(|c| c.is_none()) {
                let Some((word, n)) = fresh.next() else {
                    break;
                };
                *count = Some(n);
                self.0.update(word, |_| Counted {
                    count: n,
                    cap,
                    at: now,
                });
            }
        }
        // A store answering fewer counts than asked leaves words at 0:
        // ranked, as a rare word would be.
        Ok(counts.into_iter().map(|c| c.unwrap_or(0)).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::memory::MemoryStore;
    use crate::store::Store;
    use crate::testkit::fixtures::{create_direct, create_user, send};

    #[tokio::test]
    async fn counts_are_remembered_for_a_minute_per_cap() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let a = create_user(&*store, "alice").await.id;
        let b = create_user(&*store, "bob").await.id;
        let d = create_direct(&*store, a, b).await;
        send(&*store, d, a, "lunch at noon").await;
        let counts = WordCounts::new(100);
        let words = vec!["lunch".to_owned(), "noon".to_owned()];
        assert_eq!(
            counts.counts(&*store, &words, 10).await.ok(),
            Some(vec![1, 1])
        );
        send(&*store, d, b, "lunch, then").await;
        assert_eq!(
            counts.counts(&*store, &words, 10).await.ok(),
            Some(vec![1, 1]),
            "remembered"
        );
        assert_eq!(
            counts.counts(&*store, &words, 11).await.ok(),
            Some(vec![2, 1]),
            "another cap counts again"
        );
        let more = vec!["then".to_owned(), "lunch".to_owned()];
        assert_eq!(
            counts.counts(&*store, &more, 11).await.ok(),
            Some(vec![1, 2]),
            "only the missing word is counted"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_count_older_than_a_minute_is_counted_again() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let a = create_user(&*store, "alice").await.id;
        let b = create_user(&*store, "bob").await.id;
        let d = create_direct(&*store, a, b).await;
        send(&*store, d, a, "lunch").await;
        let counts = WordCounts::new(100);
        let words = vec!["lunch".to_owned()];
        assert_eq!(counts.counts(&*store, &words, 10).await.ok(), Some(vec![1]));
        send(&*store, d, b, "lunch again").await;
        tokio::time::advance(FRESH_FOR - Duration::from_secs(1)).await;
        assert_eq!(
            counts.counts(&*store, &words, 10).await.ok(),
            Some(vec![1]),
            "still fresh"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            counts.counts(&*store, &words, 10).await.ok(),
            Some(vec![2]),
            "a minute on, counted again"
        );
    }
}
