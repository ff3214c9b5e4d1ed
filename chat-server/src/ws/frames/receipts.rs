//! `message.read` and `messages.ack`.

use chat_core::{AckTarget, ConversationId, MessageId};

use super::{Caller, FrameState, Outcome, error, invalid};

/// Most message ids one `messages.ack` may name.
const ACK_IDS_MAX: usize = 100;

/// `message.read`: a message read, or a whole conversation.
pub(super) async fn read(
    caller: Caller<'_>,
    message: Option<MessageId>,
    conversation: Option<ConversationId>,
) -> Outcome {
    let engine = caller.engine;
    let user = caller.connection.user_id;
    let result = match (message, conversation) {
        (Some(id), _) => engine.delivery().read_message(user, id).await,
        (None, Some(c)) => engine.conversations().mark_read(user, c, None).await,
        (None, None) => Err(invalid(
            "message_id",
            "message.read needs message_id or conversation_id",
        )),
    };
    result.map_or_else(|e| error(&e, None), |_| Outcome::Nothing)
}

/// `messages.ack`: handed to the ack worker, so the session never waits
/// for the store on an ack (its errors come back on their own).
pub(super) fn ack(
    caller: Caller<'_>,
    state: &mut FrameState,
    message_ids: Option<Vec<MessageId>>,
    conversation: Option<ConversationId>,
    seq: Option<u64>,
) -> Outcome {
    let target = match (message_ids, conversation, seq) {
        (Some(ids), None, None) if !ids.is_empty() && ids.len() <= ACK_IDS_MAX => {
            AckTarget::Messages(ids)
        }
        (None, Some(conversation), Some(seq)) => AckTarget::Through { conversation, seq },
        _ => {
            return error(
                &invalid(
                    "message_ids",
                    "messages.ack needs 1 to 100 message_ids, or conversation_id and seq",
                ),
                None,
            );
        }
    };
    state.acks.push(caller.engine.delivery(), target);
    Outcome::Nothing
}
