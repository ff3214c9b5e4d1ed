//! [`MessageWriter`]: concurrent sends share transactions.
//!
//! Each stored message would otherwise cost a commit, and a commit costs a
//! disk flush (SQLite `synchronous = FULL`, PostgreSQL
//! `synchronous_commit = on`): a few milliseconds that cap the whole
//! server's send rate. The writer is one task that takes every message
//! waiting when it becomes free and stores them with one
//! [`MessageStore::insert_messages`] call, so the number of commits per
//! second stays about the same while the messages per commit grow with
//! the load. An idle server stores each message at once, alone.
//!
//! A message is acknowledged to its sender only after its batch has
//! committed. If a batch fails, its messages are retried one by one, so
//! one bad message cannot fail the others.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::error::{ChatError, Result};
use crate::model::{InsertOutcome, NewMessage};
use crate::store::MessageStore;

/// Most messages stored in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// Messages waiting for the writer before senders wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

struct Job {
    message: NewMessage,
    reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// The handle services store messages through. Cheap to clone; clones
/// share one writer task, started on first use (so an engine can be built
/// outside a runtime).
#[derive(Clone)]
pub(crate) struct MessageWriter {
    store: Arc<dyn MessageStore>,
    jobs: Arc<OnceLock<mpsc::Sender<Job>>>,
}

impl MessageWriter {
    pub(crate) fn new(store: Arc<dyn MessageStore>) -> Self {
        Self {
            store,
            jobs: Arc::new(OnceLock::new()),
        }
    }

    /// Stores a message, in a transaction shared with whatever else is
    /// being sent at the moment.
    ///
    /// # Errors
    /// The store's errors for this message.
    pub(crate) async fn insert(&self, message: NewMessage) -> Result<InsertOutcome> {
        let jobs = self.jobs.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(self.store.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { message, reply })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> ChatError {
    ChatError::Internal("the message writer stopped".into())
}

async fn run(store: Arc<dyn MessageStore>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write(&*store, std::mem::take(&mut batch)).await;
    }
}

async fn write(store: &dyn MessageStore, batch: Vec<Job>) {
    if batch.len() == 1 {
        for job in batch {
            let outcome = store.insert_message(job.message).await;
            let _ = job.reply.send(outcome);
        }
        return;
    }
    let messages = batch.iter().map(|j| j.message.clone()).collect();
    match store.insert_messages(messages).await {
        Ok(outcomes) if outcomes.len() == batch.len() => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        other => {
            if let Err(e) = &other {
                tracing::warn!(error = %e, messages = batch.len(), "a batch of messages failed; storing them one by one");
            }
            for job in batch {
                let outcome = store.insert_message(job.message).await;
                let _ = job.reply.send(outcome);
            }
        }
    }
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
        let writer = MessageWriter::new(store.clone());
        let sends = (0..50).map(|i| {
            let writer = writer.clone();
            let sender = if i % 2 == 0 { a } else { b };
            let message =
                fixtures::new_message(conversation, sender, &format!("m{i}"), fixtures::t0());
            tokio::spawn(async move { writer.insert(message).await })
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
}
