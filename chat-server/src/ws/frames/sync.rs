//! `sync`: a page of a conversation after a seq, within the connection's
//! budget.

use chat_core::ConversationId;
use chat_core::protocol::ServerFrame;
use tokio::time::Instant;

use super::{Caller, FrameState, Outcome, error, over_budget};

/// `sync`: answered with `messages.sync`.
pub(super) async fn sync(
    caller: Caller<'_>,
    state: &mut FrameState,
    conversation: ConversationId,
    after_seq: u64,
    limit: Option<u32>,
) -> Outcome {
    if let Err(retry_after) = state.sync_budget.take(Instant::now()) {
        return over_budget(retry_after);
    }
    let user = caller.connection.user_id;
    let delivery = caller.engine.delivery();
    match delivery.sync(user, conversation, after_seq, limit).await {
        Ok(result) => Outcome::Reply(Box::new(ServerFrame::Sync(result))),
        Err(e) => error(&e, None),
    }
}
