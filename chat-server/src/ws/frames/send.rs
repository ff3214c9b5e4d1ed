//! `message.send` and `message.group.send`, and the answer to a send
//! once it ended.

use chat_core::auth::AuthContext;
use chat_core::conversations::SentMessage;
use chat_core::ids::AttachmentId;
use chat_core::protocol::{MessageSent, close};
use chat_core::{ChatError, ConversationRef, MessageId, OutgoingMessage};

use super::{Caller, FrameState, Outcome, error};
use crate::ws::sends::PendingSend;

/// The fields of a send frame, whatever its target.
pub(super) struct SendFields<'a> {
    pub(super) content: &'a str,
    pub(super) message_type: Option<String>,
    pub(super) client_msg_id: Option<String>,
    pub(super) reply_to: Option<MessageId>,
    pub(super) attachments: Vec<AttachmentId>,
}

/// `message.send` (to a direct peer) and `message.group.send`: a valid
/// message becomes a send for the session to run in its turn (its first
/// step queues the message; `Sends` waits for the commit); it starts
/// nothing yet.
pub(super) fn send(caller: Caller<'_>, target: ConversationRef, fields: SendFields<'_>) -> Outcome {
    let SendFields {
        content,
        message_type,
        client_msg_id,
        reply_to,
        attachments,
    } = fields;
    let parsed = OutgoingMessage::parse_with_attachments(
        content,
        message_type.as_deref(),
        client_msg_id.as_deref(),
        attachments,
    );
    let mut message = match parsed {
        Ok(m) => m,
        Err(e) => return error(&e.into(), client_msg_id),
    };
    message.reply_to = reply_to;
    let conversations = caller.engine.conversations().clone();
    let auth = caller.engine.auth().clone();
    let connection = caller.connection;
    let (user, origin) = (connection.user_id, connection.id);
    let ctx = AuthContext {
        user_id: user,
        session_id: connection.session_id,
        expires_at: caller.expires_at,
    };
    let send = async move {
        // A logout elsewhere is not heard while this instance is cut
        // off from the others: then the store decides.
        auth.check_live_if_cut_off(&ctx).await?;
        conversations
            .queue_send_from(user, origin, target, message)
            .await
    };
    Outcome::Sending(PendingSend::new(send, client_msg_id))
}

/// The answer to a send that ended. A client that keeps sending far past
/// the rate limit is closed (1008) rather than answered without end.
pub(in crate::ws) fn sent(
    result: chat_core::Result<SentMessage>,
    client_msg_id: Option<String>,
    state: &mut FrameState,
) -> Outcome {
    match result {
        Ok(sent) => {
            state.refused_in_a_row = 0;
            let m = sent.message;
            Outcome::Sent(MessageSent {
                client_msg_id: m.client_msg_id,
                message_id: m.id,
                conversation_id: m.conversation_id,
                seq: m.seq,
                created_at: m.created_at,
                content: (sent.rewritten || sent.replayed).then_some(m.content),
            })
        }
        Err(ChatError::SessionRevoked) => Outcome::Close(close::AUTH_EXPIRED, "session revoked"),
        Err(e @ ChatError::RateLimited { .. }) => {
            state.refused_in_a_row += 1;
            if state.refused_in_a_row > state.flood_limit {
                return Outcome::Close(
                    close::POLICY_VIOLATION,
                    "kept sending far past the rate limit",
                );
            }
            error(&e, client_msg_id)
        }
        Err(e) => error(&e, client_msg_id),
    }
}
