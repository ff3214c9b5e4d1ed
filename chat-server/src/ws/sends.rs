//! A connection's sends: the one under way and those waiting their turn.
//!
//! Sends are stored one at a time, in the order they were read, and
//! answered in that order (`docs/protocol.md`, `message.sent`). The
//! session goes on reading while one is under way, so the others queue
//! here. Only this type knows how many run at once: letting a window of
//! them run together (a `FuturesOrdered`, answered in order) would change
//! this file and nothing in the session.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use chat_core::conversations::SentMessage;

/// Sends read while another is under way, waiting their turn. While they
/// wait, the session goes on reading (so it answers pings and every other
/// frame); with this many waiting it stops reading until one is answered.
const QUEUED_SENDS_MAX: usize = 32;

/// A message to store and fan out. It does nothing until it is under way.
pub(super) struct PendingSend {
    send: Pin<Box<dyn Future<Output = chat_core::Result<SentMessage>> + Send>>,
    /// The client's id for it, echoed in the answer.
    pub(super) client_msg_id: Option<String>,
}

impl PendingSend {
    /// `send`, answered to the client as `client_msg_id`.
    pub(super) fn new(
        send: impl Future<Output = chat_core::Result<SentMessage>> + Send + 'static,
        client_msg_id: Option<String>,
    ) -> Self {
        Self {
            send: Box::pin(send),
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
}

/// The sends of one connection.
#[derive(Default)]
pub(super) struct Sends {
    under_way: Option<PendingSend>,
    /// In the order they were read.
    waiting: VecDeque<PendingSend>,
}

impl Sends {
    /// Takes a send: under way at once when none is, else after the others.
    pub(super) fn push(&mut self, send: PendingSend) {
        if self.under_way.is_none() {
            self.under_way = Some(send);
        } else {
            self.waiting.push_back(send);
        }
    }

    /// Whether a send is under way.
    pub(super) fn is_busy(&self) -> bool {
        self.under_way.is_some()
    }

    /// Whether another send may be read now.
    pub(super) fn has_room(&self) -> bool {
        self.waiting.len() < QUEUED_SENDS_MAX
    }

    /// Waits for the send under way to end (never, without one); it is
    /// then no longer under way, and the next starts at
    /// [`start_next`](Self::start_next). Cancel-safe: dropped before the
    /// end, the send stays under way.
    pub(super) async fn finished(&mut self) -> Finished {
        let Some(pending) = &mut self.under_way else {
            return std::future::pending().await;
        };
        let result = pending.send.as_mut().await;
        let client_msg_id = self.under_way.take().and_then(|p| p.client_msg_id);
        Finished {
            result,
            client_msg_id,
        }
    }

    /// Starts the next waiting send, once the last one was answered.
    pub(super) fn start_next(&mut self) {
        if self.under_way.is_none() {
            self.under_way = self.waiting.pop_front();
        }
    }

    /// The first waiting send, taken out of the queue (to be refused
    /// without trying it).
    pub(super) fn pop_waiting(&mut self) -> Option<PendingSend> {
        self.waiting.pop_front()
    }

    /// Runs the send under way and those waiting, in order, to the end:
    /// they were read before the connection ended (a client that sends a
    /// message and closes at once), so they are stored even though their
    /// answers cannot be written; a retry with the same `client_msg_id`
    /// gets the original. After a `STORE_UNAVAILABLE` the rest are not
    /// tried. Each send is bounded by the store's own timeouts.
    pub(super) async fn finish(&mut self) {
        let pending = self
            .under_way
            .take()
            .into_iter()
            .chain(self.waiting.drain(..));
        for pending in pending {
            if let Err(chat_core::ChatError::StoreUnavailable(_)) = pending.send.await {
                break;
            }
        }
    }
}
