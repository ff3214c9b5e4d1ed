//! [`OfflineQueue`] in process memory.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ConversationId, UserId};
use crate::realtime::{OfflineQueue, QueuedMessage, UNHANDLED_SCAN};
use crate::time::{Clock, SystemClock, Timestamp};

/// Entries older than this are dropped (30 days).
pub const OFFLINE_QUEUE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Most entries kept per user; the oldest go first. Nothing is lost by
/// trimming: catch-up reads the store's delivery cursors.
pub const MAX_QUEUED_PER_USER: usize = 10_000;

/// Per-user queues in process memory, with a 30-day lifetime
/// (a queue expires when nothing was pushed to it for that long).
#[derive(Debug)]
pub struct MemoryOfflineQueue {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<UserId, Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    entries: VecDeque<QueuedMessage>,
    expires_at: Option<Timestamp>,
    /// What a consumer handled, per conversation. It goes with the queue:
    /// once every entry is gone, later ones have higher seqs anyway.
    handled: BTreeMap<ConversationId, u64>,
}

impl MemoryOfflineQueue {
    /// A queue on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A queue reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_queue<T>(&self, user: UserId, f: impl FnOnce(&mut Queue) -> T) -> T {
        let now = self.clock.now();
        let mut state = self.state();
        let queues = &mut state.queues;
        let queue = queues.entry(user).or_default();
        if queue.expires_at.is_some_and(|t| t <= now) {
            *queue = Queue::default();
        }
        let out = f(queue);
        if queue.entries.is_empty() {
            queues.remove(&user);
        }
        out
    }
}

impl Default for MemoryOfflineQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl OfflineQueue for MemoryOfflineQueue {
    async fn push(&self, users: &[UserId], entry: &QueuedMessage) -> Result<()> {
        let expires_at = self.clock.now().plus(OFFLINE_QUEUE_TTL);
        for user in users {
            self.with_queue(*user, |q| {
                if q.entries.len() >= MAX_QUEUED_PER_USER {
                    q.entries.pop_front();
                }
                q.entries.push_back(entry.clone());
                q.expires_at = Some(expires_at);
            });
        }
        Ok(())
    }

    async fn peek(&self, user: UserId, limit: usize) -> Result<Vec<QueuedMessage>> {
        Ok(self.with_queue(user, |q| q.entries.iter().take(limit).cloned().collect()))
    }

    async fn remove_through(
        &self,
        user: UserId,
        conversation: ConversationId,
        up_to_seq: u64,
    ) -> Result<()> {
        self.with_queue(user, |q| {
            q.entries
                .retain(|e| e.conversation_id != conversation || e.seq > up_to_seq);
        });
        Ok(())
    }

    async fn len(&self, user: UserId) -> Result<usize> {
        Ok(self.with_queue(user, |q| q.entries.len()))
    }

    async fn clear(&self, user: UserId) -> Result<()> {
        self.with_queue(user, |q| q.entries.clear());
        Ok(())
    }

    async fn unhandled(&self, user: UserId, limit: usize) -> Result<Vec<QueuedMessage>> {
        Ok(self.with_queue(user, |q| {
            let mut newest_first: Vec<QueuedMessage> = q
                .entries
                .iter()
                .rev()
                .take(UNHANDLED_SCAN)
                .filter(|e| q.handled.get(&e.conversation_id) < Some(&e.seq))
                .take(limit)
                .cloned()
                .collect();
            newest_first.reverse();
            newest_first
        }))
    }

    async fn mark_handled(&self, user: UserId, handled: &[(ConversationId, u64)]) -> Result<()> {
        self.with_queue(user, |q| {
            for (conversation, seq) in handled {
                let mark = q.handled.entry(*conversation).or_default();
                *mark = (*mark).max(*seq);
            }
        });
        Ok(())
    }
}
