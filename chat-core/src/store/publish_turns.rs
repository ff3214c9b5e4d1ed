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
//! order per conversation. A send hands its turn the publication
//! ([`PublishTurn::publish`]); publications run strictly in turn order.
//! Whichever send finds the next one due runs it, and every later one
//! already handed in, so no publish waits for another send's task to be
//! scheduled: a batch of 50 messages is published by the first of its
//! sends to run, not by 50 tasks waking one another in turn; the others
//! wait only to learn that theirs is out. A turn dropped without a
//! publication (its send's task is gone) is skipped, so a later message
//! never waits for one that will not come. Conversations do not wait for
//! each other.
//!
//! Only this instance's sends take turns: messages stored by another
//! instance, and changes, arrive when they arrive, and a connection still
//! fills a gap they leave.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ids::ConversationId;

/// What a send publishes in its turn (typically a bus publish).
pub(crate) type Publication = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Most publications one send runs for others before it hands the rest to
/// a task of their own: a sender in a busy conversation is answered after
/// its own message is published, not after everyone's.
const DRAIN_MAX: usize = 32;

/// Hands out and keeps track of publish turns, per conversation. Shared by
/// the writers (which hand turns out as batches commit) and every turn.
pub(crate) struct PublishTurns {
    lines: Mutex<HashMap<ConversationId, Line>>,
    /// Where lines go on when no send runs them: the runtime the turns
    /// were made on (the server's). A turn whose send is gone is dropped
    /// on the writers' thread, whose runtime is for commits only.
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for PublishTurns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishTurns").finish_non_exhaustive()
    }
}

/// One conversation's turns. Removed when every turn handed out is over,
/// so the map holds only conversations with messages being published.
#[derive(Default)]
struct Line {
    /// The last turn handed out.
    issued: u64,
    /// Every turn up to this one has been published (or skipped).
    done_through: u64,
    /// Turns handed in but not yet run: `None` for a skipped one.
    ready: BTreeMap<u64, Option<Publication>>,
    /// A send is running this line's publications.
    running: bool,
}

impl PublishTurns {
    /// A new, empty set of lines, whose left-over publications run on
    /// the caller's runtime, if it has one.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            lines: Mutex::default(),
            runtime: tokio::runtime::Handle::try_current().ok(),
        })
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
            handed_in: false,
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

    /// Records turn `number`'s publication (or its skip). Answers whether
    /// the caller must now run the line: nobody is running it and the
    /// next turn due is ready.
    fn hand_in(
        &self,
        conversation: ConversationId,
        number: u64,
        publication: Option<Publication>,
    ) -> bool {
        let mut lines = self.lock();
        let Some(line) = lines.get_mut(&conversation) else {
            return false;
        };
        line.ready.insert(number, publication);
        if line.running || !line.ready.contains_key(&(line.done_through + 1)) {
            return false;
        }
        line.running = true;
        true
    }

    /// The next publication due in `conversation`, if it was handed in;
    /// else the line is no longer running (and forgotten when nothing is
    /// outstanding).
    fn next_due(&self, conversation: ConversationId) -> Option<Publication> {
        let mut lines = self.lock();
        let line = lines.get_mut(&conversation)?;
        loop {
            let due = line.done_through + 1;
            match line.ready.remove(&due) {
                Some(publication) => {
                    line.done_through = due;
                    if let Some(publication) = publication {
                        return Some(publication);
                    }
                }
                None => {
                    line.running = false;
                    if line.done_through == line.issued {
                        lines.remove(&conversation);
                    }
                    return None;
                }
            }
        }
    }

    /// Runs `conversation`'s due publications in order, at most
    /// [`DRAIN_MAX`]; the rest go on in a task of their own.
    async fn run(self: Arc<Self>, conversation: ConversationId) {
        for _ in 0..DRAIN_MAX {
            match self.next_due(conversation) {
                Some(publication) => publication.await,
                None => return,
            }
        }
        self.run_elsewhere(conversation);
    }

    /// Goes on running `conversation`'s line in a task of its own.
    fn run_elsewhere(self: Arc<Self>, conversation: ConversationId) {
        let runtime = self
            .runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        match runtime {
            Some(runtime) => {
                runtime.spawn(Box::pin(self.run(conversation)) as Publication);
            }
            // No runtime to run it on (a turn dropped outside one): the
            // next turn handed in runs the line.
            None => {
                if let Some(line) = self.lock().get_mut(&conversation) {
                    line.running = false;
                }
            }
        }
    }
}

/// A committed message's place in its conversation's publish order.
/// Dropped without [`publish`](Self::publish), it is skipped.
pub(crate) struct PublishTurn {
    turns: Arc<PublishTurns>,
    conversation: ConversationId,
    number: u64,
    handed_in: bool,
}

impl std::fmt::Debug for PublishTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishTurn")
            .field("conversation", &self.conversation)
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl PublishTurn {
    /// Runs `publication` once every earlier turn of the conversation has
    /// run, and returns when it has: the caller runs it now, with any
    /// later ones already handed in, if it is due; else the send whose
    /// turn is due runs it, and the caller only waits. So when a send is
    /// answered, every earlier message of its conversation from this
    /// instance is on the bus, and the sender's connection has them to
    /// write before the answer (no store read to fill a gap).
    pub(crate) async fn publish(mut self, publication: Publication) {
        self.handed_in = true;
        let (done, published) = tokio::sync::oneshot::channel::<()>();
        let publication = Box::pin(async move {
            publication.await;
            let _ = done.send(());
        });
        let (turns, conversation) = (self.turns.clone(), self.conversation);
        if turns.hand_in(conversation, self.number, Some(publication)) {
            turns.run(conversation).await;
        }
        // An error means the publication was dropped unrun (the runtime
        // is shutting down): there is nothing left to wait for.
        let _ = published.await;
    }
}

impl Drop for PublishTurn {
    fn drop(&mut self) {
        if !self.handed_in && self.turns.hand_in(self.conversation, self.number, None) {
            self.turns.clone().run_elsewhere(self.conversation);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use super::*;

    /// A publication that records `n` on `log`.
    fn record(log: &mpsc::UnboundedSender<u64>, n: u64) -> Publication {
        let log = log.clone();
        Box::pin(async move {
            let _ = log.send(n);
        })
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<u64>) -> Vec<u64> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// Hands `turn` in from a send of its own, as the server does.
    fn send(turn: PublishTurn, log: &mpsc::UnboundedSender<u64>, n: u64) -> JoinHandle<()> {
        tokio::spawn(turn.publish(record(log, n)))
    }

    /// Lets spawned sends run until `c` holds `count` publications
    /// handed in but not run.
    async fn until_handed_in(turns: &PublishTurns, c: ConversationId, count: usize) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while turns.lock().get(&c).map_or(0, |line| line.ready.len()) < count {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the sends hand their publications in");
    }

    async fn finished(sends: Vec<JoinHandle<()>>) {
        for send in sends {
            tokio::time::timeout(Duration::from_secs(5), send)
                .await
                .expect("the send returns once its publication ran")
                .expect("the send does not panic");
        }
    }

    #[tokio::test]
    async fn a_turn_handed_in_early_runs_when_the_one_before_it_does() {
        let turns = PublishTurns::new();
        let c = ConversationId::new();
        let (log, mut published) = mpsc::unbounded_channel();
        let (first, second, third) = (turns.take(c), turns.take(c), turns.take(c));
        let later = vec![send(second, &log, 2), send(third, &log, 3)];
        until_handed_in(&turns, c, 2).await;
        assert!(drain(&mut published).is_empty(), "1 is not published yet");
        assert!(later.iter().all(|s| !s.is_finished()), "2 and 3 wait for 1");
        first.publish(record(&log, 1)).await;
        assert_eq!(drain(&mut published), [1, 2, 3], "1 runs 2 and 3 after it");
        finished(later).await;
        assert_eq!(turns.lines(), 0, "a finished line is forgotten");
    }

    #[tokio::test]
    async fn conversations_do_not_wait_for_each_other() {
        let turns = PublishTurns::new();
        let (a, b) = (ConversationId::new(), ConversationId::new());
        let (log, mut published) = mpsc::unbounded_channel();
        let _first_in_a = turns.take(a);
        turns.take(b).publish(record(&log, 7)).await;
        assert_eq!(drain(&mut published), [7]);
    }

    #[tokio::test]
    async fn a_dropped_turn_is_skipped_and_what_waited_behind_it_runs() {
        let turns = PublishTurns::new();
        let c = ConversationId::new();
        let (log, mut published) = mpsc::unbounded_channel();
        let (first, second, third) = (turns.take(c), turns.take(c), turns.take(c));
        first.publish(record(&log, 1)).await;
        let later = send(third, &log, 3);
        until_handed_in(&turns, c, 1).await;
        drop(second);
        finished(vec![later]).await;
        assert_eq!(drain(&mut published), [1, 3]);
        assert_eq!(turns.lines(), 0);
    }

    #[tokio::test]
    async fn a_long_line_is_finished_by_a_task_of_its_own() {
        let turns = PublishTurns::new();
        let c = ConversationId::new();
        let (log, mut published) = mpsc::unbounded_channel();
        let first = turns.take(c);
        let count = 3 * DRAIN_MAX as u64;
        let later: Vec<_> = (2..=count).map(|n| send(turns.take(c), &log, n)).collect();
        until_handed_in(&turns, c, later.len()).await;
        first.publish(record(&log, 1)).await;
        assert_eq!(
            drain(&mut published).len(),
            DRAIN_MAX,
            "the first send runs a bounded share"
        );
        finished(later).await;
        let rest = drain(&mut published);
        assert_eq!(
            rest,
            ((DRAIN_MAX as u64 + 1)..=count).collect::<Vec<_>>(),
            "in order"
        );
        assert_eq!(turns.lines(), 0);
    }
}
