//! The echo bot's logic (the `echo_bot` example is its command line): a
//! client of the chat server like any other, over `chat-client`.

use chat_client::{ChatClient, ServerFrame, Session, frames};
use chat_core::model::{Message, MessageTarget, MessageView};

/// What the bot answers to `content`.
pub fn reply_to(content: &str) -> String {
    format!("echo: {content}")
}

/// Answers every message others send to the bot (directly or in a group it
/// belongs to) until the connection ends; returns how many it answered.
///
/// What arrived while the bot was away comes first, in `messages.offline`
/// batches; those are answered too. Each answer reuses the message's id as
/// its `client_msg_id`, so answering again after a reconnect stores
/// nothing twice. Everything handled is acknowledged.
///
/// # Errors
/// Connection and send failures from `chat-client`.
pub async fn run(client: &ChatClient, session: &Session) -> chat_client::Result<usize> {
    let mut ws = client.connect(&session.access_token).await?;
    let mut answered = 0;
    while let Some(frame) = ws.next().await? {
        let views: Vec<MessageView> = match frame {
            ServerFrame::MessageNew(view) | ServerFrame::GroupMessageNew(view) => vec![view],
            ServerFrame::Offline { messages, .. } => {
                messages.into_iter().map(|m| m.message).collect()
            }
            _ => continue,
        };
        for view in views {
            let Message {
                id,
                conversation_id,
                seq,
                sender_id,
                ref content,
                ..
            } = view.message;
            if sender_id == session.user_id {
                continue;
            }
            let answer = reply_to(content);
            let idempotency = format!("echo-{id}");
            let frame = match view.target {
                MessageTarget::Direct { .. } => {
                    frames::send_direct(sender_id, &answer, Some(&idempotency))
                }
                MessageTarget::Group { group_id } => {
                    frames::send_group(group_id, &answer, Some(&idempotency))
                }
            };
            ws.send(&frame).await?;
            ws.send(&frames::ack_through(conversation_id, seq)).await?;
            answered += 1;
        }
    }
    Ok(answered)
}
