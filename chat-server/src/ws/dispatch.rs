//! What each client frame does.

use std::future::Future;
use std::pin::Pin;

use chat_core::Admission;
use chat_core::auth::AuthContext;
use chat_core::conversations::SentMessage;
use chat_core::protocol::{ClientFrame, ErrorFrame, MessageSent, ServerFrame, close};
use chat_core::{
    AckTarget, ChatError, ConversationRef, OutgoingMessage, TypingTarget, ValidationError,
};
use tokio::time::Instant;

use super::session::Session;

/// What the session does after a frame.
pub(super) enum Outcome {
    /// Answer the client.
    Reply(ServerFrame),
    /// Nothing to say.
    Nothing,
    /// Close the connection.
    Close(u16, &'static str),
    /// A send is under way: answer with [`sent`] when it ends.
    Sending(PendingSend),
}

/// A message being stored and fanned out. The session keeps writing
/// events and reading frames meanwhile; further sends wait their turn.
pub(super) struct PendingSend {
    pub(super) send: Pin<Box<dyn Future<Output = chat_core::Result<SentMessage>> + Send>>,
    pub(super) client_msg_id: Option<String>,
}

fn error(e: &ChatError, client_msg_id: Option<String>) -> Outcome {
    if matches!(e, ChatError::StoreUnavailable(_) | ChatError::Internal(_)) {
        tracing::error!(error = %e, source = ?std::error::Error::source(e), "websocket request failed");
    }
    Outcome::Reply(ServerFrame::Error(ErrorFrame::from_error(e, client_msg_id)))
}

/// The answer to a send that was not tried because the store just failed
/// the one before it.
pub(super) fn store_unavailable(client_msg_id: Option<String>) -> ServerFrame {
    let e = ChatError::StoreUnavailable("the store failed the send before this one".into());
    ServerFrame::Error(ErrorFrame::from_error(&e, client_msg_id))
}

/// `RATE_LIMITED` for a frame past its connection's budget.
fn over_budget(retry_after: std::time::Duration) -> Outcome {
    let e = ChatError::RateLimited { retry_after };
    Outcome::Reply(ServerFrame::Error(ErrorFrame::from_error(&e, None)))
}

fn invalid(field: &'static str, message: &str) -> ChatError {
    ValidationError::new(field, "INVALID_MESSAGE", message).into()
}

/// Handles one decoded frame.
pub(super) async fn handle(session: &mut Session, frame: ClientFrame) -> Outcome {
    match frame {
        ClientFrame::Send {
            recipient_id,
            content,
            message_type,
            client_msg_id,
        } => {
            let target = ConversationRef::Direct(recipient_id);
            send(session, target, &content, message_type, client_msg_id)
        }
        ClientFrame::GroupSend {
            group_id,
            content,
            message_type,
            client_msg_id,
        } => {
            let target = ConversationRef::Group(group_id);
            send(session, target, &content, message_type, client_msg_id)
        }
        ClientFrame::Read {
            message_id,
            conversation_id,
        } => {
            let engine = &session.state.engine;
            let user = session.connection.user_id;
            let result = match (message_id, conversation_id) {
                (Some(id), _) => engine.delivery().read_message(user, id).await,
                (None, Some(c)) => engine.conversations().mark_read(user, c, None).await,
                (None, None) => Err(invalid(
                    "message_id",
                    "message.read needs message_id or conversation_id",
                )),
            };
            result.map_or_else(|e| error(&e, None), |_| Outcome::Nothing)
        }
        ClientFrame::Ack {
            message_ids,
            conversation_id,
            seq,
        } => {
            let target = match (message_ids, conversation_id, seq) {
                (Some(ids), None, None) if !ids.is_empty() && ids.len() <= 100 => {
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
            let delivery = session.state.engine.delivery();
            session.acks.push(delivery, target);
            Outcome::Nothing
        }
        ClientFrame::Typing {
            recipient_id,
            group_id,
            conversation_id,
            is_typing,
        } => {
            let target = match (recipient_id, group_id, conversation_id) {
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
            if let Err(retry_after) = session.typing_budget.take(Instant::now()) {
                return over_budget(retry_after);
            }
            let delivery = session.state.engine.delivery();
            match delivery
                .typing(&session.connection, target, is_typing)
                .await
            {
                Ok(()) => Outcome::Nothing,
                Err(e) => error(&e, None),
            }
        }
        ClientFrame::Sync {
            conversation_id,
            after_seq,
            limit,
        } => {
            if let Err(retry_after) = session.sync_budget.take(Instant::now()) {
                return over_budget(retry_after);
            }
            let user = session.connection.user_id;
            match session
                .state
                .engine
                .delivery()
                .sync(user, conversation_id, after_seq, limit)
                .await
            {
                Ok(result) => Outcome::Reply(ServerFrame::Sync(result)),
                Err(e) => error(&e, None),
            }
        }
        ClientFrame::Auth { token } => match session.state.engine.auth().authenticate(&token) {
            Ok(ctx) if ctx.user_id == session.connection.user_id => {
                session.expires_at = ctx.expires_at;
                session.connection.session_id = ctx.session_id;
                Outcome::Reply(ServerFrame::AuthOk {
                    expires_at: ctx.expires_at,
                })
            }
            Ok(_) => error(&ChatError::InvalidToken, None),
            Err(e) => error(&e, None),
        },
        ClientFrame::Ping => Outcome::Reply(ServerFrame::Pong),
    }
}

fn send(
    session: &Session,
    target: ConversationRef,
    content: &str,
    message_type: Option<String>,
    client_msg_id: Option<String>,
) -> Outcome {
    let message =
        match OutgoingMessage::parse(content, message_type.as_deref(), client_msg_id.as_deref()) {
            Ok(m) => m,
            Err(e) => return error(&e.into(), client_msg_id),
        };
    let conversations = session.state.engine.conversations().clone();
    let auth = session.state.engine.auth().clone();
    let (user, origin) = (session.connection.user_id, session.connection.id);
    let ctx = AuthContext {
        user_id: user,
        session_id: session.connection.session_id,
        expires_at: session.expires_at,
    };
    Outcome::Sending(PendingSend {
        send: Box::pin(async move {
            // A logout elsewhere is not heard while this instance is cut
            // off from the others: then the store decides.
            auth.check_live_if_cut_off(&ctx).await?;
            conversations.send_from(user, origin, target, message).await
        }),
        client_msg_id,
    })
}

/// The answer to a send that ended.
pub(super) async fn sent(
    session: &mut Session,
    result: chat_core::Result<SentMessage>,
    client_msg_id: Option<String>,
) -> Outcome {
    match result {
        Ok(sent) => {
            session.refused_in_a_row = 0;
            let m = sent.message;
            // This device has its own message (as `message.sent`): count it
            // as sent, so a gap fill never echoes it back. Messages of
            // others below it that this device has not seen yet go first.
            let admission = session.connection.order.admit(m.conversation_id, m.seq);
            if let Admission::FillGap { after, before } = admission {
                match session.fill_gap(m.conversation_id, after, before).await {
                    Ok(_) => {}
                    Err(Some((code, reason))) => return Outcome::Close(code, reason),
                    Err(None) => return Outcome::Nothing,
                }
            }
            Outcome::Reply(ServerFrame::MessageSent(MessageSent {
                client_msg_id: m.client_msg_id,
                message_id: m.id,
                conversation_id: m.conversation_id,
                seq: m.seq,
                created_at: m.created_at,
            }))
        }
        Err(ChatError::SessionRevoked) => Outcome::Close(close::AUTH_EXPIRED, "session revoked"),
        Err(e @ ChatError::RateLimited { .. }) => {
            session.refused_in_a_row += 1;
            if session.refused_in_a_row > session.state.http.ws.flood_limit {
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
