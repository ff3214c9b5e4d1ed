//! A connection's sends: up to 32 under way at once, stored in the order
//! they were read and answered in that order (`docs/protocol.md`,
//! `message.sent`).
//!
//! Each send has two steps. The first checks it and queues its message
//! for the store ([`ConversationService::queue_send_from`]); these run one
//! at a time, in read order, each waiting for the one before (a chain of
//! turns), so a conversation's messages get their seqs in the order they
//! were sent. The second waits for the commit and fans the message out;
//! these overlap, so a connection is not held to one commit round trip per
//! message. Answers come out in read order (`FuturesOrdered`).
//!
//! [`ConversationService::queue_send_from`]: chat_core::ConversationService::queue_send_from

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chat_core::conversations::{QueuedSend, SentMessage};
use chat_core::{ChatError, ConversationId};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::sync::oneshot;

/// Sends of one connection under way at once. With this many, the session
/// stops reading until one is answered (it goes on answering pings and
/// writing events).
const SENDS_IN_FLIGHT_MAX: usize = 32;

/// The first step of a send: checks it and queues its message.
type QueueStep = Pin<Box<dyn Future<Output = chat_core::Result<QueuedSend>> + Send>>;

/// A send read from the socket. It does nothing until it is pushed onto
/// [`Sends`].
pub(super) struct PendingSend {
    queue: QueueStep,
    /// The client's id for it, echoed in the answer.
    client_msg_id: Option<String>,
}

impl PendingSend {
    /// A send whose first step is `queue`, answered to the client as
    /// `client_msg_id`.
    pub(super) fn new(
        queue: impl Future<Output = chat_core::Result<QueuedSend>> + Send + 'static,
        client_msg_id: Option<String>,
    ) -> Self {
        Self {
            queue: Box::pin(queue),
            client_msg_id,
        }
    }
}

/// A send that ended.
pub(super) struct Finished {
    /// What the engine answered.
    pub(super) result: chat_core::Result<SentMessage>,
    /// The client's id for the send.
    pub(super) client_msg_id: Option<String>,
    /// The conversation its message was queued in, if it got that far.
    pub(super) conversation: Option<ConversationId>,
}

/// The conversations in which this connection has messages queued or
/// stored but not yet answered with `message.sent`. A message of another
/// member that would open a gap there must wait (the gap may hold one of
/// these, which the connection must get as `message.sent`, never as
/// `message.new`). Shared by the sends, which count themselves in once
/// queued, and the session, which counts them out once answered.
#[derive(Clone, Default)]
pub(super) struct Unanswered(Arc<UnansweredInner>);

#[derive(Default)]
struct UnansweredInner {
    by_conversation: Mutex<HashMap<ConversationId, usize>>,
    /// The sum of the map's counts, read without the lock: most
    /// connections never send, and every event they get asks.
    total: AtomicUsize,
}

impl Unanswered {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, usize>> {
        self.0
            .by_conversation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self, conversation: ConversationId) {
        *self.map().entry(conversation).or_default() += 1;
        self.0.total.fetch_add(1, Ordering::Release);
    }

    /// A send queued in `conversation` was answered.
    pub(super) fn leave(&self, conversation: ConversationId) {
        let mut map = self.map();
        if let Some(n) = map.get_mut(&conversation) {
            *n -= 1;
            if *n == 0 {
                map.remove(&conversation);
            }
            self.0.total.fetch_sub(1, Ordering::Release);
        }
    }

    /// Whether a send in `conversation` is queued and unanswered.
    pub(super) fn in_conversation(&self, conversation: ConversationId) -> bool {
        self.any() && self.map().contains_key(&conversation)
    }

    /// Whether any send is queued and unanswered.
    pub(super) fn any(&self) -> bool {
        self.0.total.load(Ordering::Acquire) > 0
    }
}

/// The sends of one connection.
#[derive(Default)]
pub(super) struct Sends {
    /// Every send under way, in read order.
    in_flight: FuturesOrdered<Pin<Box<dyn Future<Output = Finished> + Send>>>,
    /// Ends when the first step of the last send pushed has ended, telling
    /// whether the store failed it; the next send's first step waits for it.
    last_turn: Option<oneshot::Receiver<bool>>,
    unanswered: Unanswered,
}

impl Sends {
    /// Takes a send: its first step runs once the previous send's has
    /// ended. When the store failed that one (`STORE_UNAVAILABLE`), this one
    /// is not tried and gets the same answer: each would wait for the store
    /// as long again, and the client retries them with their
    /// `client_msg_id`, so nothing is stored twice.
    pub(super) fn push(&mut self, send: PendingSend) {
        let (turn_done, next_turn) = oneshot::channel();
        let previous = self.last_turn.replace(next_turn);
        let unanswered = self.unanswered.clone();
        let PendingSend {
            queue,
            client_msg_id,
        } = send;
        let run = async move {
            let store_failed = match previous {
                Some(previous) => previous.await.unwrap_or(false),
                None => false,
            };
            if store_failed {
                let _ = turn_done.send(true);
                let e =
                    ChatError::StoreUnavailable("the store failed the send before this one".into());
                return Finished {
                    result: Err(e),
                    client_msg_id,
                    conversation: None,
                };
            }
            let queued = queue.await;
            let _ = turn_done.send(matches!(queued, Err(ChatError::StoreUnavailable(_))));
            match queued {
                Ok(queued) => {
                    let conversation = queued.conversation_id();
                    unanswered.enter(conversation);
                    Finished {
                        result: queued.finish().await,
                        client_msg_id,
                        conversation: Some(conversation),
                    }
                }
                Err(e) => Finished {
                    result: Err(e),
                    client_msg_id,
                    conversation: None,
                },
            }
        };
        self.in_flight.push_back(Box::pin(run));
    }

    /// Whether a send is under way.
    pub(super) fn is_busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Whether another send may be read now.
    pub(super) fn has_room(&self) -> bool {
        self.in_flight.len() < SENDS_IN_FLIGHT_MAX
    }

    /// Where this connection's sends are unanswered.
    pub(super) fn unanswered(&self) -> &Unanswered {
        &self.unanswered
    }

    /// Waits for the oldest send under way to end (never, without one),
    /// driving the others meanwhile. Cancel-safe.
    pub(super) async fn finished(&mut self) -> Finished {
        match self.in_flight.next().await {
            Some(finished) => finished,
            None => std::future::pending().await,
        }
    }

    /// Runs every send under way to the end: they were read before the
    /// connection ended (a client that sends a message and closes at
    /// once), so they are stored even though their answers cannot be
    /// written; a retry with the same `client_msg_id` gets the original.
    /// After a `STORE_UNAVAILABLE` the rest are not tried. Each send is
    /// bounded by the store's own timeouts.
    pub(super) async fn finish(&mut self) {
        while self.in_flight.next().await.is_some() {}
    }
}
