//! [`PublishTurns`]: this instance's new messages are published in the
//! order they were stored, conversation by conversation.
//!
//! The writers commit a conversation's messages in seq order, but each
//! send then fans its message out from its own task, and tasks run in any
//! order: seq 6 could reach the members' connections before seq 5. A
//! connection that sees 6 first must read 5 back from the store (a gap
//! fill, `delivery/order.rs`), and in a busy group every member's
//! connection would do so, a store read per member for one late task.
//!
//! So each committed message gets a [`PublishTurn`], handed out in commit
//! order per conversation; its send publishes only once every earlier
//! turn of the conversation is over ([`PublishTurn::wait`]), and ends its
//! own when dropped. A send whose task is gone drops its turn with it, so
//! a later message never waits for one that will not come. Conversations
//! do not wait for each other.
//!
//! Only this instance's sends take turns: messages stored by another
//! instance, and changes, arrive when they arrive, and a connection still
//! fills a gap they leave.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::ids::ConversationId;

/// Hands out and keeps track of publish turns, per conversation. Shared by
/// the writers (which hand turns out as batches commit) and every turn.
#[derive(Debug, Default)]
pub(crate) struct PublishTurns {
    lines: Mutex<HashMap<ConversationId, Line>>,
}

/// One conversation's turns. Removed when every turn handed out is over,
/// so the map holds only conversations with messages being published.
#[derive(Debug, Default)]
struct Line {
    /// The last turn handed out.
    issued: u64,
    /// Every turn up to this one is over.
    over_through: u64,
    /// Turns past `over_through + 1` already over (their sends published
    /// without waiting: see [`PublishTurn::wait`]'s timeout).
    over_early: BTreeSet<u64>,
    /// The send waiting for `over_through + 1`'s predecessors, if any: only
    /// the next turn is ever woken.
    waiting: HashMap<u64, oneshot::Sender<()>>,
}

impl PublishTurns {
    /// A new, empty set of lines.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The next turn in `conversation`: called in commit order.
    pub(crate) fn take(self: &Arc<Self>, conversation: ConversationId) -> PublishTurn {
        let mut lines = self.lock();
        let line = lines.entry(conversation).or_default();
        line.issued += 1;
        PublishTurn {
            turns: self.clone(),
            conversation,
            number: line.issued,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Line>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many conversations have turns outstanding (for tests).
    #[cfg(test)]
    fn lines(&self) -> usize {
        self.lock().len()
    }

    fn end(&self, conversation: ConversationId, number: u64) {
        let mut lines = self.lock();
        let Some(line) = lines.get_mut(&conversation) else {
            return;
        };
        if number != line.over_through + 1 {
            line.over_early.insert(number);
            return;
        }
        line.over_through = number;
        while line.over_early.remove(&(line.over_through + 1)) {
            line.over_through += 1;
        }
        if line.over_through == line.issued {
            lines.remove(&conversation);
        } else if let Some(next) = line.waiting.remove(&(line.over_through + 1)) {
            let _ = next.send(());
        }
    }
}

/// A committed message's place in its conversation's publish order. Its
/// turn is over when it is dropped.
#[derive(Debug)]
pub(crate) struct PublishTurn {
    turns: Arc<PublishTurns>,
    conversation: ConversationId,
    number: u64,
}

impl PublishTurn {
    /// Waits until every earlier turn of the conversation is over. The
    /// earlier sends are past their commit and only publishing, which
    /// takes microseconds, unless the event bus is slow (another instance
    /// over Redis); after `patience` this one goes ahead anyway, out of
    /// order, and its connections fill the gap as they would for another
    /// instance's message.
    pub(crate) async fn wait(&self, patience: std::time::Duration) {
        let ready = {
            let mut lines = self.turns.lock();
            let Some(line) = lines.get_mut(&self.conversation) else {
                return;
            };
            if line.over_through + 1 >= self.number {
                return;
            }
            let (tx, rx) = oneshot::channel();
            line.waiting.insert(self.number, tx);
            rx
        };
        let _ = tokio::time::timeout(patience, ready).await;
    }
}

impl Drop for PublishTurn {
    fn drop(&mut self) {
        self.turns.end(self.conversation, self.number);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn the_first_turn_goes_at_once_and_the_next_waits_for_it() {
        let turns = PublishTurns::new();
        let c = ConversationId::new();
        let first = turns.take(c);
        let second = turns.take(c);
        first.wait(LONG).await;
        let waiter = tokio::spawn(async move {
            second.wait(LONG).await;
            second
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "waits while the first is under way");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken when the first ends")
            .expect("task");
        drop(second);
        assert_eq!(turns.lines(), 0, "a finished line is forgotten");
    }

    #[tokio::test]
    async fn conversations_do_not_wait_for_each_other() {
        let turns = PublishTurns::new();
        let (a, b) = (ConversationId::new(), ConversationId::new());
        let _first_in_a = turns.take(a);
        let first_in_b = turns.take(b);
        tokio::time::timeout(Duration::from_secs(5), first_in_b.wait(LONG))
            .await
            .expect("b's first turn owes nothing to a");
    }

    #[tokio::test]
    async fn turns_ending_out_of_order_wake_the_next_in_line_only_when_due() {
        let turns = PublishTurns::new();
        let c = ConversationId::new();
        let (t1, t2, t3, t4) = (turns.take(c), turns.take(c), turns.take(c), turns.take(c));
        // 3 ended early (its send gave up waiting, or its task is gone).
        drop(t3);
        let fourth = tokio::spawn(async move {
            t4.wait(LONG).await;
            t4
        });
        drop(t1);
        tokio::task::yield_now().await;
        assert!(!fourth.is_finished(), "2 is still under way");
        drop(t2);
        let t4 = tokio::time::timeout(Duration::from_secs(5), fourth)
            .await
            .expect("2 and 3 are over, so 4 goes")
            .expect("task");
        drop(t4);
        assert_eq!(turns.lines(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_stuck_behind_another_goes_after_its_patience() {
        let turns = PublishTurns::new();
        let c = ConversationId::new();
        let _stuck = turns.take(c);
        let next = turns.take(c);
        let waited = tokio::time::Instant::now();
        next.wait(Duration::from_millis(200)).await;
        assert!(waited.elapsed() >= Duration::from_millis(200));
    }
}
