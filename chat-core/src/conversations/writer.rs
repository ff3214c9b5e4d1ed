//! Writers that let concurrent operations share transactions.
//!
//! Each stored message, and each moved delivery cursor, would otherwise
//! cost a commit, and a commit costs a disk flush (SQLite
//! `synchronous = FULL`, PostgreSQL `synchronous_commit = on`): a few
//! milliseconds that cap the whole server's rate. A writer is one task
//! that takes every operation waiting when it becomes free and runs them
//! with one batch call ([`MessageStore::write_batch`]: messages and
//! delivery cursors together), so the number of commits per
//! second stays about the same while the work per commit grows with the
//! load. An idle server runs each operation at once, alone.
//!
//! An operation is answered only after its batch has committed. If a
//! batch fails, its operations are retried one by one, so one bad
//! operation cannot fail the others; but when the store is unavailable,
//! the batch and everything waiting behind it fail at once with
//! `STORE_UNAVAILABLE` (see `fail_waiting`).
//!
//! The tasks start on first use, on a thread and runtime of their own
//! (see `start`), and stop when the engine is dropped.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::error::{ChatError, Result};
use crate::ids::ConversationId;
use crate::metrics::Metrics;
use crate::model::{DeliveryMove, InsertOutcome, Membership, NewMessage};
use crate::store::MessageStore;
use crate::time::Timestamp;

/// Most operations in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// Operations waiting for a writer before callers wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

/// An operation that can run alone or in a batch.
#[async_trait]
pub(crate) trait BatchOp: Send + Sync + 'static {
    /// One operation's input.
    type Item: Clone + Send + 'static;
    /// One operation's result.
    type Out: Send + 'static;
    /// Runs one operation in its own transaction.
    async fn one(&self, item: Self::Item) -> Result<Self::Out>;
    /// Runs several in one transaction; results in input order.
    async fn many(&self, items: Vec<Self::Item>) -> Result<Vec<Self::Out>>;
    /// Which writer an operation goes to. Operations with one key run in
    /// order on one writer; writers with different keys run in parallel.
    fn key(item: &Self::Item) -> u64;
}

struct Job<O: BatchOp> {
    item: O::Item,
    reply: oneshot::Sender<Result<O::Out>>,
}

/// The handle operations go through. Cheap to clone; clones share the
/// writer tasks, started on first use (so an engine can be built outside a
/// runtime). There are as many tasks as the store can usefully write
/// with at once ([`MessageStore::write_concurrency`]); an operation's key
/// (its conversation) picks one, so one conversation's operations stay in
/// order.
pub(crate) struct Writer<O: BatchOp> {
    op: Arc<O>,
    shards: usize,
    jobs: Arc<OnceLock<Vec<mpsc::Sender<Job<O>>>>>,
    metrics: Metrics,
}

impl<O: BatchOp> Clone for Writer<O> {
    fn clone(&self) -> Self {
        Self {
            op: self.op.clone(),
            shards: self.shards,
            jobs: self.jobs.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<O: BatchOp> Writer<O> {
    pub(crate) fn new(op: O, shards: usize, metrics: Metrics) -> Self {
        Self {
            op: Arc::new(op),
            shards: shards.max(1),
            jobs: Arc::new(OnceLock::new()),
            metrics,
        }
    }

    /// Runs an operation, in a transaction shared with whatever else is
    /// waiting at the moment.
    ///
    /// # Errors
    /// The store's errors for this operation.
    pub(crate) async fn run(&self, item: O::Item) -> Result<O::Out> {
        let jobs = self.jobs.get_or_init(|| {
            let (senders, receivers) = (0..self.shards).map(|_| mpsc::channel(QUEUE)).unzip();
            start(&self.op, receivers, &self.metrics);
            senders
        });
        let shard = (O::key(&item) % jobs.len() as u64) as usize;
        let (reply, answer) = oneshot::channel();
        self.metrics.write_queued();
        if jobs[shard].send(Job { item, reply }).await.is_err() {
            // Never queued: take it back off the gauge.
            self.metrics.write_batch_abandoned(1);
            return Err(writer_gone());
        }
        answer.await.map_err(|_| writer_gone())?
    }
}

fn key_of(conversation: ConversationId) -> u64 {
    // UUIDv7: the low bits are random.
    conversation.as_uuid().as_u64_pair().1
}

fn writer_gone() -> ChatError {
    ChatError::Internal("a store writer stopped".into())
}

/// Starts the writer tasks on a thread of their own, with a runtime of
/// its own: every message waits for a commit, and a commit for the
/// writer's few round trips to the store, so they must not queue behind
/// the hundreds of connection tasks of the server's runtime (under a
/// group's fan-out they did, by hundreds of milliseconds). Where no thread
/// can be started, they run on the caller's runtime.
fn start<O: BatchOp>(op: &Arc<O>, receivers: Vec<mpsc::Receiver<Job<O>>>, metrics: &Metrics) {
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|rx| work(op.clone(), rx, metrics.clone()))
        .collect();
    // Taken by the thread, or back here if it cannot start.
    let slot = Arc::new(std::sync::Mutex::new(Some(tasks)));
    let taken = slot.clone();
    let started = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| {
            std::thread::Builder::new()
                .name("chat-writer".to_owned())
                .spawn(move || {
                    let tasks = taken
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take()
                        .unwrap_or_default();
                    // Ends when every sender (the engine) is gone.
                    runtime.block_on(async move {
                        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
                        for handle in handles {
                            let _ = handle.await;
                        }
                    });
                })
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "cannot start the writers' thread; they share the caller's runtime");
        let tasks = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        for task in tasks {
            tokio::spawn(task);
        }
    }
}

async fn work<O: BatchOp>(op: Arc<O>, mut jobs: mpsc::Receiver<Job<O>>, metrics: Metrics) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (size, started) = (batch.len(), Instant::now());
        let unavailable = write(&*op, std::mem::take(&mut batch)).await;
        metrics.write_batch(size, started.elapsed());
        if let Some(error) = unavailable {
            fail_waiting(&mut jobs, &error, &metrics);
        }
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
fn fail_waiting<O: BatchOp>(
    jobs: &mut mpsc::Receiver<Job<O>>,
    error: &ChatError,
    metrics: &Metrics,
) {
    let mut failed = 0;
    while let Ok(job) = jobs.try_recv() {
        let _ = job.reply.send(Err(same_outage(error)));
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
async fn write<O: BatchOp>(op: &O, batch: Vec<Job<O>>) -> Option<ChatError> {
    if batch.len() > 1 {
        let items = batch.iter().map(|j| j.item.clone()).collect();
        match op.many(items).await {
            Ok(outs) if outs.len() == batch.len() => {
                for (job, out) in batch.into_iter().zip(outs) {
                    let _ = job.reply.send(Ok(out));
                }
                return None;
            }
            Ok(_) => tracing::error!("a batch returned the wrong number of results"),
            // An outage fails every operation alike: running them one by
            // one would make each wait for a connection in turn.
            Err(e @ ChatError::StoreUnavailable(_)) => {
                tracing::warn!(error = %e, size = batch.len(), "a batch failed: the store is unavailable");
                for job in batch {
                    let _ = job.reply.send(Err(same_outage(&e)));
                }
                return Some(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "a batch failed; running it one by one");
            }
        }
    }
    let mut unavailable = None;
    for job in batch {
        let out = match &unavailable {
            Some(e) => Err(same_outage(e)),
            None => op.one(job.item).await,
        };
        if let Err(e @ ChatError::StoreUnavailable(_)) = &out {
            unavailable.get_or_insert_with(|| same_outage(e));
        }
        let _ = job.reply.send(out);
    }
    unavailable
}

/// One write of the conversation service.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// Store a message.
    Insert(NewMessage),
    /// Move a delivery cursor, at this time.
    Delivered(DeliveryMove, Timestamp),
}

/// The result of a [`Write`].
#[derive(Debug)]
pub(crate) enum Written {
    /// What storing the message did.
    Inserted(InsertOutcome),
    /// The membership after the move, and whether the cursor moved in this
    /// batch (its `delivered_at` is the batch's time); `None` for a
    /// non-member.
    Delivered(Option<(Membership, bool)>),
}

/// Messages and cursor moves, batched together: a single-writer store
/// (SQLite) pays one commit for both.
pub(crate) struct StoreWrites(pub(crate) Arc<dyn MessageStore>);

#[async_trait]
impl BatchOp for StoreWrites {
    type Item = Write;
    type Out = Written;

    async fn one(&self, item: Write) -> Result<Written> {
        match item {
            Write::Insert(m) => self.0.insert_message(m).await.map(Written::Inserted),
            Write::Delivered(m, at) => {
                let after = self
                    .0
                    .advance_delivered(m.conversation, m.user, m.seq, at)
                    .await?;
                Ok(Written::Delivered(moved_at(after, at)))
            }
        }
    }

    async fn many(&self, items: Vec<Write>) -> Result<Vec<Written>> {
        let mut messages = Vec::new();
        let mut moves = Vec::new();
        let mut at = None;
        for item in &items {
            match item {
                Write::Insert(m) => messages.push(m.clone()),
                Write::Delivered(m, t) => {
                    moves.push(*m);
                    at = at.max(Some(*t));
                }
            }
        }
        let at = at.unwrap_or_else(Timestamp::now);
        let (inserted, moved) = self.0.write_batch(messages, moves, at).await?;
        let (mut inserted, mut moved) = (inserted.into_iter(), moved.into_iter());
        items
            .iter()
            .map(|item| match item {
                Write::Insert(_) => inserted.next().map(Written::Inserted),
                Write::Delivered(..) => moved.next().map(|m| Written::Delivered(moved_at(m, at))),
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ChatError::Internal("a batch returned too few results".into()))
    }

    fn key(item: &Write) -> u64 {
        match item {
            Write::Insert(m) => key_of(m.conversation_id),
            Write::Delivered(m, _) => key_of(m.conversation),
        }
    }
}

fn moved_at(after: Option<Membership>, at: Timestamp) -> Option<(Membership, bool)> {
    after.map(|a| {
        let moved = a.member.delivered_at == Some(at);
        (a, moved)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::testkit::fixtures;

    #[tokio::test]
    async fn concurrent_messages_are_all_stored_with_distinct_seqs() {
        let store = Arc::new(MemoryStore::new());
        let a = fixtures::create_user(&*store, "alice").await.id;
        let b = fixtures::create_user(&*store, "bob").await.id;
        let conversation = fixtures::create_direct(&*store, a, b).await;
        let writer = Writer::new(StoreWrites(store.clone()), 3, Metrics::new());
        let sends = (0..50).map(|i| {
            let writer = writer.clone();
            let sender = if i % 2 == 0 { a } else { b };
            let message =
                fixtures::new_message(conversation, sender, &format!("m{i}"), fixtures::t0());
            tokio::spawn(async move { writer.run(Write::Insert(message)).await })
        });
        let mut seqs = Vec::new();
        for send in sends {
            match send.await.expect("task").expect("insert") {
                Written::Inserted(InsertOutcome::Created(m)) => seqs.push(m.seq),
                other => panic!("not created: {other:?}"),
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=50).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn writes_are_answered_while_the_callers_runtime_is_blocked() {
        let store = Arc::new(MemoryStore::new());
        let a = fixtures::create_user(&*store, "alice").await.id;
        let b = fixtures::create_user(&*store, "bob").await.id;
        let conversation = fixtures::create_direct(&*store, a, b).await;
        let writer = Writer::new(StoreWrites(store), 1, Metrics::new());
        // The first write starts the writer tasks, from this runtime.
        let first = fixtures::new_message(conversation, a, "first", fixtures::t0());
        writer.run(Write::Insert(first)).await.expect("first write");
        let message = fixtures::new_message(conversation, a, "hi", fixtures::t0());
        let (answer, answered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let write = writer.run(Write::Insert(message));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime to wait on");
            let _ = answer.send(runtime.block_on(write));
        });
        // This test's runtime has one thread, blocked here: writer tasks
        // on it could not run, and the write would never be answered.
        let written = answered
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("answered by the writers' own runtime");
        assert!(matches!(
            written,
            Ok(Written::Inserted(InsertOutcome::Created(_)))
        ));
    }
}
