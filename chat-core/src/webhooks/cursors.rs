//! [`CursorWrites`]: the dispatcher's webhook cursor moves, gathered into
//! shared transactions.
//!
//! The dispatcher handles many conversations at once, and each moves its
//! webhooks' cursors when it is done with them. Written one by one, every
//! move costs a commit, and on SQLite a commit takes the one write lock
//! that message batches need: at 1,000 messages a second over 20
//! conversations, those commits queued behind the message writer for
//! seconds and held it up in turn (docs/benchmarks.md, "Webhooks").
//! Gathered, a round of the dispatcher costs about one commit.
//!
//! Group commit without a task of its own: a move joins the waiting list,
//! then its caller waits for its turn to write; whoever gets the turn
//! writes everything waiting, its own move and others', with one
//! [`WebhookStore::advance_webhook_cursors`] call, and answers them all.
//! A caller whose move was written by another finds the list empty and
//! takes its answer. While one write is under way the next one's moves
//! gather, so the number of commits stays about the same however many
//! conversations the dispatcher follows.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::error::{ChatError, Result};
use crate::model::WebhookCursorMove;
use crate::store::WebhookStore;

/// A move waiting to be written, and where its answer goes.
type Waiting = (WebhookCursorMove, oneshot::Sender<Result<()>>);

/// Webhook cursor moves written together; see the module docs.
pub(crate) struct CursorWrites {
    store: Arc<dyn WebhookStore>,
    /// Moves not yet taken by a writer.
    waiting: Mutex<Vec<Waiting>>,
    /// The turn to write: one write at a time, so the moves that arrive
    /// during a write are gathered into the next.
    turn: tokio::sync::Mutex<()>,
}

impl CursorWrites {
    pub(crate) fn new(store: Arc<dyn WebhookStore>) -> Self {
        Self {
            store,
            waiting: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Moves one cursor (never backwards) in a transaction shared with the
    /// other moves waiting; returns once that transaction has committed.
    ///
    /// # Errors
    /// The store's, when the shared write failed (the moves are not
    /// written; the dispatcher delivers those entries again later).
    pub(crate) async fn advance(&self, movement: WebhookCursorMove) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.waiting_list().push((movement, reply));
        {
            let _turn = self.turn.lock().await;
            let batch = std::mem::take(&mut *self.waiting_list());
            if !batch.is_empty() {
                let moves: Vec<WebhookCursorMove> = batch.iter().map(|(m, _)| *m).collect();
                let written = self.store.advance_webhook_cursors(&moves).await;
                for (_, reply) in batch {
                    let _ = reply.send(match &written {
                        Ok(()) => Ok(()),
                        Err(e) => Err(shared_failure(e)),
                    });
                }
            }
        }
        // Written by this caller or by one before it. Dropped unanswered
        // only if that caller was cancelled mid-write.
        answer
            .await
            .map_err(|_| ChatError::internal("a webhook cursor write was abandoned"))?
    }

    fn waiting_list(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The failure of a shared write, as each of its callers gets it: an outage
/// stays `STORE_UNAVAILABLE`, anything else is `INTERNAL`.
fn shared_failure(e: &ChatError) -> ChatError {
    match e {
        ChatError::StoreUnavailable(cause) => ChatError::StoreUnavailable(cause.to_string().into()),
        other => ChatError::internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::ids::{ConversationId, DeadLetterId, WebhookId};
    use crate::memory::MemoryStore;
    use crate::model::{DeadLetter, NewWebhook, Webhook};

    /// A webhook store that counts its cursor writes and holds each one
    /// until told to go on, so moves can gather behind it.
    struct Counting {
        inner: MemoryStore,
        writes: AtomicUsize,
        gate: tokio::sync::Semaphore,
    }

    #[async_trait]
    impl WebhookStore for Counting {
        async fn create_webhook(&self, hook: NewWebhook) -> Result<()> {
            self.inner.create_webhook(hook).await
        }
        async fn webhooks(&self) -> Result<Vec<Webhook>> {
            self.inner.webhooks().await
        }
        async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
            self.inner.delete_webhook(id).await
        }
        async fn webhook_cursor(
            &self,
            id: WebhookId,
            conversation: ConversationId,
        ) -> Result<Option<u64>> {
            self.inner.webhook_cursor(id, conversation).await
        }
        async fn advance_webhook_cursors(&self, moves: &[WebhookCursorMove]) -> Result<()> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let _go = self.gate.acquire().await.map_err(ChatError::internal)?;
            self.inner.advance_webhook_cursors(moves).await
        }
        async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()> {
            self.inner.add_dead_letter(letter).await
        }
        async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>> {
            self.inner.dead_letters(id, limit).await
        }
        async fn dead_letter(
            &self,
            id: WebhookId,
            letter: DeadLetterId,
        ) -> Result<Option<DeadLetter>> {
            self.inner.dead_letter(id, letter).await
        }
        async fn delete_dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<bool> {
            self.inner.delete_dead_letter(id, letter).await
        }
    }

    #[tokio::test]
    async fn moves_waiting_behind_a_write_share_the_next_one() {
        let store = Arc::new(Counting {
            inner: MemoryStore::new(),
            writes: AtomicUsize::new(0),
            gate: tokio::sync::Semaphore::new(0),
        });
        let hook = NewWebhook {
            id: WebhookId::new(),
            url: "https://hooks.example/a".to_owned(),
            events: vec![crate::model::WebhookEvent::MessageCreated],
            conversation_id: None,
            secret: "a secret of sixteen".to_owned(),
            created_by: None,
            created_at: crate::testkit::fixtures::t0(),
        };
        store.create_webhook(hook.clone()).await.expect("create");
        let writes = Arc::new(CursorWrites::new(store.clone()));
        let conversations: Vec<ConversationId> = (0..10).map(|_| ConversationId::new()).collect();
        let tasks: Vec<_> = conversations
            .iter()
            .enumerate()
            .map(|(i, &conversation)| {
                let writes = writes.clone();
                let seq = i as u64 + 1;
                tokio::spawn(async move {
                    writes
                        .advance(WebhookCursorMove {
                            webhook: hook.id,
                            conversation,
                            seq,
                        })
                        .await
                })
            })
            .collect();
        // The first move's write is held at the gate; the other nine
        // gather behind it meanwhile.
        while store.writes.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        // Opens the gate for good (a write gives its permit back).
        store.gate.add_permits(1);
        for task in tasks {
            task.await.expect("task").expect("written");
        }
        assert_eq!(
            store.writes.load(Ordering::SeqCst),
            2,
            "the first move alone, then the nine that gathered behind it"
        );
        for (i, conversation) in conversations.into_iter().enumerate() {
            assert_eq!(
                store
                    .webhook_cursor(hook.id, conversation)
                    .await
                    .expect("cursor"),
                Some(i as u64 + 1)
            );
        }
    }
}
