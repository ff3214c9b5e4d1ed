//! [`BatchedWrites`]: a message store whose writes share transactions.
//!
//! Each stored message, and each moved delivery cursor, would otherwise
//! cost a commit, and a commit costs a disk flush (SQLite
//! `synchronous = FULL`, PostgreSQL `synchronous_commit = on`): a few
//! milliseconds that cap the whole server's rate. A writer is one task
//! that takes every operation waiting when it becomes free and runs them
//! with one batch call ([`MessageStore::write_batch`]: messages and
//! delivery cursors together), so the number of commits per second stays
//! about the same while the work per commit grows with the load. An idle
//! server runs each operation at once, alone.
//!
//! [`BatchedWrites`] wraps a store: `insert_message` and
//! `advance_delivered` go through the writers, everything else straight
//! to the store, so callers see an ordinary [`MessageStore`].
//!
//! Messages go first: a writer keeps them and the cursor moves in two
//! queues, fills each batch with the messages waiting (up to
//! [`MAX_BATCH`]), and adds at most [`MOVES_PER_BATCH`] moves, which
//! therefore always get a share, however many messages wait. Under a group's fan-out the members' acks
//! are most of the operations (over 95% of them), and taken in arrival
//! order they made every message wait behind batches of 256 cursor moves.
//! A move that waits longer costs nothing: each connection has one move
//! under way at a time and merges the acks that arrive meanwhile
//! (`chat-server`'s `ws/acks.rs`), so a slower answer means fewer moves,
//! not more work. So moves alone start a commit only
//! [`MOVES_ALONE_PAUSE`] after the last one ended; until then they wait
//! for a message's commit to ride along with. Otherwise a thousand
//! members' acks kept the writer committing all the time (each commit a
//! disk flush, and on SQLite the pages of every moved row written to the
//! log again): a message waited for the commit under way, and the
//! flushes and log checkpoints spread into the tail of every message's
//! latency.
//!
//! An operation is answered only after its batch has committed. If a
//! batch fails, its operations are retried one by one, so one bad
//! operation cannot fail the others; but when the store is unavailable,
//! the batch and everything waiting behind it fail at once with
//! `STORE_UNAVAILABLE` (see `fail_waiting`).
//!
//! The writers run on a thread and runtime of their own, started with the
//! engine ([`BatchedWrites::start`]) and stopped by
//! [`shutdown`](BatchedWrites::shutdown) (`ChatEngine::shutdown`) once
//! what is queued is written.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::domain::ClientMsgId;
use crate::error::{ChatError, Result};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::metrics::Metrics;
use crate::model::{
    ChangeOutcome, DeliveryMove, InsertOutcome, LogEntry, Membership, Message, NewChange,
    NewMessage, Reaction, SearchHit, SearchQuery,
};
use crate::store::MessageStore;
use crate::store::publish_turns::{PublishTurn, PublishTurns};
use crate::time::Timestamp;

/// Most messages in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// Most cursor moves in one transaction, beside its messages (see the
/// module docs).
pub(crate) const MOVES_PER_BATCH: usize = 64;

/// After a commit, how long cursor moves alone wait before they make a
/// commit of their own (a message that comes meanwhile takes them along at
/// once). See the module docs.
pub(crate) const MOVES_ALONE_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Operations of one kind waiting for a writer before callers wait for
/// room.
const QUEUE: usize = 4 * MAX_BATCH;

/// One operation, with where its answer goes.
enum Job {
    Insert {
        message: NewMessage,
        reply: oneshot::Sender<Result<Inserted>>,
    },
    Deliver {
        movement: DeliveryMove,
        at: Timestamp,
        reply: oneshot::Sender<Result<Option<Membership>>>,
    },
}

impl Job {
    /// Which writer takes it: one conversation's messages stay in order
    /// on one writer; writers of different conversations run in parallel.
    /// (A move and a message need no order between them: a cursor moves
    /// only to a seq that is already committed.)
    fn conversation(&self) -> ConversationId {
        match self {
            Self::Insert { message, .. } => message.conversation_id,
            Self::Deliver { movement, .. } => movement.conversation,
        }
    }

    fn fail(self, error: ChatError) {
        match self {
            Self::Insert { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Deliver { reply, .. } => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// A [`MessageStore`] whose message inserts and delivery-cursor moves are
/// batched into shared transactions by writer tasks. Shared behind an
/// `Arc`.
pub struct BatchedWrites {
    inner: Arc<dyn MessageStore>,
    /// One pair of queues per writer. Fixed for the writers' life, so a
    /// write takes no lock: shutting down closes the queues from the
    /// writers' side.
    queues: Vec<Lanes<mpsc::Sender<Job>>>,
    /// Tells the writers to close their queues and finish.
    stop: tokio::sync::watch::Sender<bool>,
    /// Fires when the writers' thread has finished.
    stopped: Mutex<Option<oneshot::Receiver<()>>>,
    metrics: Metrics,
}

/// A writer's two queues: messages, and cursor moves.
struct Lanes<T> {
    inserts: T,
    moves: T,
}

impl std::fmt::Debug for BatchedWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedWrites").finish_non_exhaustive()
    }
}

impl BatchedWrites {
    /// Wraps `inner` and starts its writers (as many as it can write with
    /// at once, [`MessageStore::write_concurrency`]) on a thread and
    /// runtime of their own: every message waits for a commit, and a
    /// commit for the writer's few round trips to the store, so they must
    /// not queue behind the hundreds of connection tasks of the server's
    /// runtime (under a group's fan-out they did, by hundreds of
    /// milliseconds). Needs no runtime of the caller's.
    ///
    /// # Errors
    /// `INTERNAL` when the thread or its runtime cannot be started.
    pub fn start(inner: Arc<dyn MessageStore>, metrics: Metrics) -> Result<Arc<Self>> {
        let shards = inner.write_concurrency().max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..shards)
            .map(|_| {
                let (inserts, inserts_rx) = mpsc::channel(QUEUE);
                let (moves, moves_rx) = mpsc::channel(QUEUE);
                let rx = Lanes {
                    inserts: inserts_rx,
                    moves: moves_rx,
                };
                (Lanes { inserts, moves }, rx)
            })
            .unzip();
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let turns = PublishTurns::new();
        let tasks: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                let turns = turns.clone();
                work(inner.clone(), rx, stopping.clone(), metrics.clone(), turns)
            })
            .collect();
        let (done, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ChatError::internal)?;
        std::thread::Builder::new()
            .name("chat-writer".to_owned())
            .spawn(move || {
                // Ends when every queue is closed and drained.
                runtime.block_on(async move {
                    let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
                    for handle in handles {
                        let _ = handle.await;
                    }
                });
                let _ = done.send(());
            })
            .map_err(ChatError::internal)?;
        Ok(Arc::new(Self {
            inner,
            queues: senders,
            stop,
            stopped: Mutex::new(Some(stopped)),
            metrics,
        }))
    }

    /// Stops the writers once what is queued is written; writes asked for
    /// afterwards fail with `INTERNAL`. Completes when the writers' thread
    /// has ended.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(stopped) = stopped {
            let _ = stopped.await;
        }
    }

    /// Queues `job` on its conversation's writer.
    async fn queue(&self, job: Job) -> Result<()> {
        // UUIDv7: the low bits are random.
        let key = job.conversation().as_uuid().as_u64_pair().1;
        let lanes = &self.queues[(key % self.queues.len() as u64) as usize];
        let queue = match job {
            Job::Insert { .. } => &lanes.inserts,
            Job::Deliver { .. } => &lanes.moves,
        };
        self.metrics.write_queued();
        if queue.send(job).await.is_err() {
            // Never queued: take it back off the gauge.
            self.metrics.write_batch_abandoned(1);
            return Err(writer_gone());
        }
        Ok(())
    }
}

/// A message insert queued on its conversation's writer: its place among
/// the conversation's writes is fixed from the moment it is queued, and
/// [`outcome`](Self::outcome) answers once its batch has committed.
pub(crate) struct QueuedInsert(oneshot::Receiver<Result<Inserted>>);

impl QueuedInsert {
    /// What storing the message did, once its batch has committed.
    pub(crate) async fn outcome(self) -> Result<Inserted> {
        self.0.await.map_err(|_| writer_gone())?
    }
}

/// What storing a message did, and for a new message its turn to be
/// published ([`PublishTurns`]).
pub(crate) struct Inserted {
    /// The store's answer.
    pub(crate) outcome: InsertOutcome,
    /// Set when the message was created: dropped once it is published.
    pub(crate) turn: Option<PublishTurn>,
}

impl Inserted {
    /// `outcome` of a message in `conversation`, with a turn if it is new.
    /// Called in commit order.
    fn new(outcome: InsertOutcome, turns: &Arc<PublishTurns>) -> Self {
        let turn = match &outcome {
            InsertOutcome::Created(m) => Some(turns.take(m.conversation_id)),
            _ => None,
        };
        Self { outcome, turn }
    }
}

impl BatchedWrites {
    /// Queues a message insert and returns at once (or when there is room
    /// in the queue): inserts queued one after another for one
    /// conversation are stored in that order, whoever waits for them.
    pub(crate) async fn queue_insert(&self, message: NewMessage) -> Result<QueuedInsert> {
        let (reply, answer) = oneshot::channel();
        self.queue(Job::Insert { message, reply }).await?;
        Ok(QueuedInsert(answer))
    }
}

fn writer_gone() -> ChatError {
    ChatError::Internal("the store writers stopped".into())
}

#[async_trait]
impl MessageStore for BatchedWrites {
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome> {
        // A caller of the plain store method publishes nothing: its turn
        // ends here.
        Ok(self.queue_insert(message).await?.outcome().await?.outcome)
    }

    fn write_concurrency(&self) -> usize {
        self.inner.write_concurrency()
    }

    async fn message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>> {
        self.inner.message(conversation, id).await
    }

    async fn message_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>> {
        self.inner
            .message_by_client_msg_id(conversation, sender, client_msg_id)
            .await
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        self.inner.messages_by_ids(ids).await
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.inner
            .messages_before(conversation, max_seq, skip, limit)
            .await
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.inner
            .messages_after(conversation, min_seq, limit)
            .await
    }

    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.inner.search_messages(query).await
    }

    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>> {
        self.inner.search_word_counts(words, cap).await
    }

    /// Changes are rare next to messages: they go to the store directly,
    /// which orders them with the batches' messages under the
    /// conversation's lock.
    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome> {
        self.inner.apply_change(change).await
    }

    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        self.inner.log_between(conversation, from, to).await
    }

    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>> {
        self.inner.reactions(ids).await
    }

    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>> {
        self.inner.unread_messages(user, limit).await
    }

    async fn advance_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        self.inner.advance_read(conversation, user, seq, at).await
    }

    /// Moves the cursor in a batch shared with other writes. The batch
    /// records the latest time of its moves, so a membership that moved
    /// has a `delivered_at` at or after `at`.
    async fn advance_delivered(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        let (reply, answer) = oneshot::channel();
        let movement = DeliveryMove {
            conversation,
            user,
            seq,
        };
        self.queue(Job::Deliver {
            movement,
            at,
            reply,
        })
        .await?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn write_batch(
        &self,
        messages: Vec<NewMessage>,
        moves: Vec<DeliveryMove>,
        at: Timestamp,
    ) -> Result<(Vec<InsertOutcome>, Vec<Option<Membership>>)> {
        self.inner.write_batch(messages, moves, at).await
    }
}

async fn work(
    store: Arc<dyn MessageStore>,
    mut jobs: Lanes<mpsc::Receiver<Job>>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    metrics: Metrics,
    turns: Arc<PublishTurns>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let (mut open, mut inserts_open, mut moves_open) = (true, true, true);
    // When moves alone may next start a commit.
    let mut moves_alone_at = tokio::time::Instant::now();
    while inserts_open || moves_open {
        // Messages first (`biased`), then moves: either wakes the writer.
        let taken = tokio::select! {
            biased;
            // Closing refuses further writes; those already queued are
            // still taken below, and the loop ends when none is left.
            changed = stopping.changed(), if open => {
                if changed.is_err() || *stopping.borrow() {
                    jobs.inserts.close();
                    jobs.moves.close();
                    open = false;
                }
                continue;
            }
            taken = jobs.inserts.recv_many(&mut batch, MAX_BATCH), if inserts_open => {
                inserts_open = taken > 0;
                taken
            }
            job = async {
                tokio::time::sleep_until(moves_alone_at).await;
                jobs.moves.recv().await
            }, if moves_open => match job {
                Some(job) => {
                    batch.push(job);
                    1
                }
                None => {
                    moves_open = false;
                    0
                }
            },
        };
        if taken == 0 {
            continue;
        }
        top_up(&mut batch, &mut jobs);
        let (size, started) = (batch.len(), Instant::now());
        let unavailable = write(&*store, std::mem::take(&mut batch), &turns).await;
        metrics.write_batch(size, started.elapsed());
        moves_alone_at = tokio::time::Instant::now() + MOVES_ALONE_PAUSE;
        if let Some(error) = unavailable {
            fail_waiting(&mut jobs.inserts, &error, &metrics);
            fail_waiting(&mut jobs.moves, &error, &metrics);
        }
    }
}

/// Adds to `batch` the messages waiting, up to [`MAX_BATCH`], then moves
/// up to [`MOVES_PER_BATCH`].
fn top_up(batch: &mut Vec<Job>, jobs: &mut Lanes<mpsc::Receiver<Job>>) {
    let mut moves = batch
        .iter()
        .filter(|job| matches!(job, Job::Deliver { .. }))
        .count();
    while batch.len() - moves < MAX_BATCH {
        let Ok(job) = jobs.inserts.try_recv() else {
            break;
        };
        batch.push(job);
    }
    while moves < MOVES_PER_BATCH {
        let Ok(job) = jobs.moves.try_recv() else {
            break;
        };
        batch.push(job);
        moves += 1;
    }
}

/// Answers every operation already waiting with the outage that just
/// failed a batch. Each would otherwise wait for a connection as long as
/// that batch did (the pool's acquire timeout), one batch after another:
/// behind a queue of 1,000 operations a sender waited minutes for its
/// answer. Failing them at once answers every send within about one
/// acquire timeout; nothing was written, so a client's retry (with the
/// same `client_msg_id`) is safe. Operations that arrive afterwards try
/// the store again, which is how the writer notices it is back.
fn fail_waiting(jobs: &mut mpsc::Receiver<Job>, error: &ChatError, metrics: &Metrics) {
    let mut failed = 0;
    while let Ok(job) = jobs.try_recv() {
        job.fail(same_outage(error));
        failed += 1;
    }
    if failed > 0 {
        metrics.write_batch_abandoned(failed);
        tracing::warn!(
            failed,
            "the store is unavailable; failed the writes waiting for it"
        );
    }
}

/// Another answer for the outage `e`, which is `STORE_UNAVAILABLE`.
fn same_outage(e: &ChatError) -> ChatError {
    let cause = std::error::Error::source(e).map_or_else(|| e.to_string(), ToString::to_string);
    ChatError::StoreUnavailable(cause.into())
}

/// Runs a batch and answers its operations. Returns the error when the
/// store was unavailable, so the caller can fail what waits behind it.
async fn write(
    store: &dyn MessageStore,
    batch: Vec<Job>,
    turns: &Arc<PublishTurns>,
) -> Option<ChatError> {
    if batch.len() > 1 {
        let mut messages = Vec::new();
        let mut moves = Vec::new();
        let mut at = None;
        for job in &batch {
            match job {
                Job::Insert { message, .. } => messages.push(message.clone()),
                Job::Deliver {
                    movement, at: t, ..
                } => {
                    moves.push(*movement);
                    at = at.max(Some(*t));
                }
            }
        }
        let at = at.unwrap_or_else(Timestamp::now);
        let (message_count, move_count) = (messages.len(), moves.len());
        match store.write_batch(messages, moves, at).await {
            Ok((inserted, moved))
                if inserted.len() == message_count && moved.len() == move_count =>
            {
                let (mut inserted, mut moved) = (inserted.into_iter(), moved.into_iter());
                for job in batch {
                    match job {
                        Job::Insert { reply, .. } => {
                            if let Some(outcome) = inserted.next() {
                                let _ = reply.send(Ok(Inserted::new(outcome, turns)));
                            }
                        }
                        Job::Deliver { reply, .. } => {
                            if let Some(membership) = moved.next() {
                                let _ = reply.send(Ok(membership));
                            }
                        }
                    }
                }
                return None;
            }
            Ok(_) => tracing::error!("a batch returned the wrong number of results"),
            // An outage fails every operation alike: running them one by
            // one would make each wait for a connection in turn.
            Err(e @ ChatError::StoreUnavailable(_)) => {
                tracing::warn!(error = %e, size = batch.len(), "a batch failed: the store is unavailable");
                for job in batch {
                    job.fail(same_outage(&e));
                }
                return Some(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "a batch failed; running it one by one");
            }
        }
    }
    let mut unavailable: Option<ChatError> = None;
    for job in batch {
        if let Some(e) = &unavailable {
            job.fail(same_outage(e));
            continue;
        }
        let failed = match job {
            Job::Insert { message, reply } => {
                let out = store.insert_message(message).await;
                let failed = outage_of(&out);
                let _ = reply.send(out.map(|outcome| Inserted::new(outcome, turns)));
                failed
            }
            Job::Deliver {
                movement,
                at,
                reply,
            } => {
                let out = store
                    .advance_delivered(movement.conversation, movement.user, movement.seq, at)
                    .await;
                let failed = outage_of(&out);
                let _ = reply.send(out);
                failed
            }
        };
        unavailable = failed;
    }
    unavailable
}

/// The outage a result reports, if it is one.
fn outage_of<T>(result: &Result<T>) -> Option<ChatError> {
    match result {
        Err(e @ ChatError::StoreUnavailable(_)) => Some(same_outage(e)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::store::ConversationStore;
    use crate::testkit::fixtures;

    /// A store with Alice, Bob and their direct conversation.
    async fn alice_and_bob() -> (Arc<MemoryStore>, UserId, UserId, ConversationId) {
        let store = Arc::new(MemoryStore::new());
        let a = fixtures::create_user(&*store, "alice").await.id;
        let b = fixtures::create_user(&*store, "bob").await.id;
        let conversation = fixtures::create_direct(&*store, a, b).await;
        (store, a, b, conversation)
    }

    #[tokio::test]
    async fn concurrent_messages_are_all_stored_with_distinct_seqs() {
        let (store, a, b, conversation) = alice_and_bob().await;
        let writes = BatchedWrites::start(store.clone(), Metrics::new()).expect("writers");
        let sends = (0..50).map(|i| {
            let writes = writes.clone();
            let sender = if i % 2 == 0 { a } else { b };
            let message =
                fixtures::new_message(conversation, sender, &format!("m{i}"), fixtures::t0());
            tokio::spawn(async move { writes.insert_message(message).await })
        });
        let mut seqs = Vec::new();
        for send in sends {
            match send.await.expect("task").expect("insert") {
                InsertOutcome::Created(m) => seqs.push(m.seq),
                other => panic!("not created: {other:?}"),
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn writes_are_answered_while_the_callers_runtime_is_blocked() {
        let (store, a, _, conversation) = alice_and_bob().await;
        let writes = BatchedWrites::start(store, Metrics::new()).expect("writers");
        let message = fixtures::new_message(conversation, a, "hi", fixtures::t0());
        let (answer, answered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime to wait on");
            let _ = answer.send(runtime.block_on(writes.insert_message(message)));
        });
        // This test's runtime has one thread, blocked here: writer tasks
        // on it could not run, and the write would never be answered.
        let written = answered
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("answered by the writers' own runtime");
        assert!(matches!(written, Ok(InsertOutcome::Created(_))));
    }

    fn insert_job(conversation: ConversationId, sender: UserId) -> Job {
        let message = fixtures::new_message(conversation, sender, "m", fixtures::t0());
        let (reply, _) = oneshot::channel();
        Job::Insert { message, reply }
    }

    fn move_job(conversation: ConversationId, user: UserId, seq: u64) -> Job {
        let (reply, _) = oneshot::channel();
        let movement = DeliveryMove {
            conversation,
            user,
            seq,
        };
        Job::Deliver {
            movement,
            at: fixtures::t0(),
            reply,
        }
    }

    #[tokio::test]
    async fn a_batch_takes_every_waiting_message_and_a_bounded_share_of_moves() {
        let (_, a, b, conversation) = alice_and_bob().await;
        let (inserts, inserts_rx) = mpsc::channel(QUEUE);
        let (moves, moves_rx) = mpsc::channel(QUEUE);
        let mut lanes = Lanes {
            inserts: inserts_rx,
            moves: moves_rx,
        };
        for seq in 1..=200 {
            moves
                .try_send(move_job(conversation, b, seq))
                .expect("room");
        }
        for _ in 0..10 {
            inserts.try_send(insert_job(conversation, a)).expect("room");
        }
        // The writer woke for a move, which arrived first.
        let mut batch = vec![lanes.moves.try_recv().expect("a move")];
        top_up(&mut batch, &mut lanes);
        let count = |batch: &[Job], insert: bool| {
            batch
                .iter()
                .filter(|job| matches!(job, Job::Insert { .. }) == insert)
                .count()
        };
        assert_eq!(count(&batch, true), 10, "every waiting message");
        assert_eq!(
            count(&batch, false),
            MOVES_PER_BATCH,
            "moves up to the bound"
        );
        // The next batch takes the moves left, still bounded.
        let mut next = vec![lanes.moves.try_recv().expect("a move")];
        top_up(&mut next, &mut lanes);
        assert_eq!(count(&next, false), MOVES_PER_BATCH);
        // However many messages wait, moves keep their share.
        for _ in 0..(MAX_BATCH + 10) {
            inserts.try_send(insert_job(conversation, a)).expect("room");
        }
        let mut full = Vec::new();
        top_up(&mut full, &mut lanes);
        assert_eq!(count(&full, true), MAX_BATCH, "messages up to the bound");
        assert_eq!(
            count(&full, false),
            MOVES_PER_BATCH,
            "moves are not starved"
        );
    }

    /// A writer on this test's runtime over `store`, fed through the
    /// lanes returned; its metrics count its batches.
    fn writer_on_this_runtime(store: Arc<dyn MessageStore>) -> (Lanes<mpsc::Sender<Job>>, Metrics) {
        let (inserts, inserts_rx) = mpsc::channel(QUEUE);
        let (moves, moves_rx) = mpsc::channel(QUEUE);
        let lanes = Lanes {
            inserts: inserts_rx,
            moves: moves_rx,
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let metrics = Metrics::new();
        let (turns, writer_metrics) = (PublishTurns::new(), metrics.clone());
        tokio::spawn(async move {
            work(store, lanes, stopping, writer_metrics, turns).await;
            drop(stop);
        });
        (Lanes { inserts, moves }, metrics)
    }

    /// A move and where its answer comes.
    fn answered_move(
        conversation: ConversationId,
        user: UserId,
    ) -> (Job, oneshot::Receiver<Result<Option<Membership>>>) {
        let (reply, answer) = oneshot::channel();
        let movement = DeliveryMove {
            conversation,
            user,
            seq: 1,
        };
        let job = Job::Deliver {
            movement,
            at: fixtures::t0(),
            reply,
        };
        (job, answer)
    }

    fn batches(metrics: &Metrics) -> String {
        metrics
            .render()
            .lines()
            .find(|l| l.starts_with("chat_write_batch_size_count "))
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn moves_alone_wait_after_a_commit_for_a_message_to_ride_along() {
        let (store, a, b, conversation) = alice_and_bob().await;
        let (lanes, metrics) = writer_on_this_runtime(store);
        let (first, first_done) = answered_move(conversation, b);
        lanes.moves.try_send(first).expect("room");
        first_done.await.expect("answered").expect("moved");
        // Just after a commit: this move waits ...
        let (second, second_done) = answered_move(conversation, a);
        lanes.moves.try_send(second).expect("room");
        tokio::time::advance(MOVES_ALONE_PAUSE / 2).await;
        // ... and goes with the message that comes meanwhile.
        let (reply, stored) = oneshot::channel();
        let message = fixtures::new_message(conversation, a, "m", fixtures::t0());
        lanes
            .inserts
            .try_send(Job::Insert { message, reply })
            .expect("room");
        assert!(stored.await.expect("answered").is_ok());
        second_done.await.expect("answered").expect("moved");
        assert_eq!(batches(&metrics), "chat_write_batch_size_count 2");
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_message_moves_alone_are_written_after_the_pause() {
        let (store, a, b, conversation) = alice_and_bob().await;
        let (lanes, metrics) = writer_on_this_runtime(store);
        let (first, first_done) = answered_move(conversation, b);
        lanes.moves.try_send(first).expect("room");
        first_done.await.expect("answered").expect("moved");
        let committed = tokio::time::Instant::now();
        let (second, second_done) = answered_move(conversation, a);
        lanes.moves.try_send(second).expect("room");
        second_done.await.expect("answered").expect("moved");
        assert!(committed.elapsed() >= MOVES_ALONE_PAUSE);
        assert_eq!(batches(&metrics), "chat_write_batch_size_count 2");
    }

    #[tokio::test]
    async fn cursor_moves_are_written_beside_messages_and_before_shutdown() {
        let (store, a, b, conversation) = alice_and_bob().await;
        let writes = BatchedWrites::start(store.clone(), Metrics::new()).expect("writers");
        let message = fixtures::new_message(conversation, a, "hi", fixtures::t0());
        writes.insert_message(message).await.expect("stored");
        let moves: Vec<_> = (0..20)
            .map(|_| {
                let writes = writes.clone();
                tokio::spawn(async move {
                    writes
                        .advance_delivered(conversation, b, 1, fixtures::t0())
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        writes.shutdown().await;
        for moved in moves {
            assert!(
                moved.await.expect("task").is_ok(),
                "a queued move is written"
            );
        }
        let membership = store
            .membership(conversation, b)
            .await
            .expect("read")
            .expect("a member");
        assert_eq!(membership.member.delivered_seq, 1);
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_queued_then_refuses_more() {
        let (store, a, _, conversation) = alice_and_bob().await;
        let writes = BatchedWrites::start(store.clone(), Metrics::new()).expect("writers");
        let queued: Vec<_> = (0..20)
            .map(|i| {
                let writes = writes.clone();
                let message =
                    fixtures::new_message(conversation, a, &format!("m{i}"), fixtures::t0());
                tokio::spawn(async move { writes.insert_message(message).await })
            })
            .collect();
        // Every send reaches its queue (this runtime runs them before it
        // comes back here), then the writers are told to stop.
        tokio::task::yield_now().await;
        writes.shutdown().await;
        for send in queued {
            assert!(
                send.await.expect("task").is_ok(),
                "a queued write is written"
            );
        }
        let late = fixtures::new_message(conversation, a, "late", fixtures::t0());
        let refused = writes.insert_message(late).await;
        assert_eq!(refused.map(|_| ()).expect_err("refused").code(), "INTERNAL");
        let stored = store
            .messages_before(conversation, u64::MAX, 0, 100)
            .await
            .expect("history");
        assert_eq!(stored.len(), 20);
    }
}
