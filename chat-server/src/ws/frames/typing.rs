//! `typing`: relayed to the other members, within the connection's
//! budget.

use chat_core::{ConversationId, TypingTarget, UserId};
use tokio::time::Instant;

use super::{Caller, FrameState, Outcome, error, invalid, over_budget};

/// `typing`, naming exactly one of a direct peer, a group or a
/// conversation.
pub(super) async fn typing(
    caller: Caller<'_>,
    state: &mut FrameState,
    recipient: Option<UserId>,
    group: Option<ConversationId>,
    conversation: Option<ConversationId>,
    is_typing: bool,
) -> Outcome {
    let target = match (recipient, group, conversation) {
        (Some(u), None, None) => TypingTarget::Direct(u),
        (None, Some(c), None) | (None, None, Some(c)) => TypingTarget::Conversation(c),
        _ => {
            return error(
                &invalid(
                    "recipient_id",
                    "typing needs exactly one of recipient_id, group_id, conversation_id",
                ),
                None,
            );
        }
    };
    if let Err(retry_after) = state.typing_budget.take(Instant::now()) {
        return over_budget(retry_after);
    }
    let delivery = caller.engine.delivery();
    match delivery.typing(caller.connection, target, is_typing).await {
        Ok(()) => Outcome::Nothing,
        Err(e) => error(&e, None),
    }
}
