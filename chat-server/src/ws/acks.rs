//! Acknowledgements written beside the session, not inside it.
//!
//! A `messages.ack` costs a store write and a receipt. Done inside the
//! session loop, it would hold back the connection's own events while the
//! store works, and a busy reader would overflow its queue. Instead the
//! session hands acks to a per-connection worker and goes on; acks that
//! arrive while the worker is writing merge into one (a cursor only moves
//! forward, so the highest seq per conversation is all that matters).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chat_core::protocol::ErrorFrame;
use chat_core::{AckTarget, ConversationId, DeliveryService, MessageId, UserId};
use tokio::sync::{Notify, mpsc};

/// Most message ids resolved per store query.
const IDS_PER_QUERY: usize = 100;

/// The session's handle on its ack worker, started at the first ack so an
/// idle connection costs no task. Dropping it lets the worker write what
/// is pending and stop.
pub(super) struct Acks {
    shared: Option<Arc<Shared>>,
    user: UserId,
    errors: mpsc::Sender<Box<ErrorFrame>>,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    notify: Notify,
}

#[derive(Default)]
struct Pending {
    through: HashMap<ConversationId, u64>,
    ids: Vec<MessageId>,
    closed: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.through.is_empty() && self.ids.is_empty()
    }
}

impl Acks {
    /// The handle for `user`'s connection; failures come back on `errors`
    /// (boxed: a channel allocates its first block of slots up front, and
    /// an idle connection should not pay for large ones).
    pub(super) fn new(user: UserId, errors: mpsc::Sender<Box<ErrorFrame>>) -> Self {
        Self {
            shared: None,
            user,
            errors,
        }
    }

    /// Queues an acknowledgement, starting the worker on first use.
    pub(super) fn push(&mut self, delivery: &DeliveryService, target: AckTarget) {
        let shared = self.shared.get_or_insert_with(|| {
            let shared = Arc::new(Shared::default());
            let (delivery, errors) = (delivery.clone(), self.errors.clone());
            tokio::spawn(work(shared.clone(), delivery, self.user, errors));
            shared
        });
        {
            let mut p = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            match target {
                AckTarget::Through { conversation, seq } => {
                    let e = p.through.entry(conversation).or_insert(0);
                    *e = (*e).max(seq);
                }
                AckTarget::Messages(ids) => p.ids.extend(ids),
            }
        }
        shared.notify.notify_one();
    }
}

impl Drop for Acks {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .closed = true;
            shared.notify.notify_one();
        }
    }
}

async fn work(
    shared: Arc<Shared>,
    delivery: DeliveryService,
    user: UserId,
    errors: mpsc::Sender<Box<ErrorFrame>>,
) {
    loop {
        shared.notify.notified().await;
        let (batch, closed) = {
            let mut p = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            let closed = p.closed;
            (std::mem::take(&mut *p), closed)
        };
        if !batch.is_empty() {
            write(&delivery, user, batch, &errors).await;
        }
        if closed {
            return;
        }
    }
}

async fn write(
    delivery: &DeliveryService,
    user: UserId,
    batch: Pending,
    errors: &mpsc::Sender<Box<ErrorFrame>>,
) {
    let mut targets: Vec<AckTarget> = batch
        .through
        .into_iter()
        .map(|(conversation, seq)| AckTarget::Through { conversation, seq })
        .collect();
    targets.extend(
        batch
            .ids
            .chunks(IDS_PER_QUERY)
            .map(|c| AckTarget::Messages(c.to_vec())),
    );
    for target in targets {
        if let Err(e) = delivery.ack(user, target).await {
            if matches!(
                e,
                chat_core::ChatError::StoreUnavailable(_) | chat_core::ChatError::Internal(_)
            ) {
                tracing::error!(error = %e, "could not record an acknowledgement");
            }
            // A full error channel means the client is not reading; the
            // error is dropped rather than holding up other acks.
            let _ = errors.try_send(Box::new(ErrorFrame::from_error(&e, None)));
        }
    }
}
