//! `message.edit`, `message.delete`, `reaction.add`, `reaction.remove`.
//!
//! A change that is applied reaches every connection of every member,
//! this one included, as `message.changed` through the event stream (in
//! seq order with messages), so the frame itself is answered only when it
//! fails: an `error` frame carrying its `request_id`.

use chat_core::auth::AuthContext;
use chat_core::protocol::{ErrorFrame, ServerFrame, close};
use chat_core::{ChatError, Emoji, MessageContent, MessageId};

use super::{Caller, Outcome};

/// What a change frame asks for.
pub(super) enum Change {
    /// `message.edit` with the new text.
    Edit(String),
    /// `message.delete`.
    Delete,
    /// `reaction.add` (true) or `reaction.remove` (false) with the emoji.
    React(String, bool),
}

/// Applies `change` to `message` for the caller.
pub(super) async fn change(
    caller: Caller<'_>,
    message: MessageId,
    change: Change,
    request_id: Option<String>,
) -> Outcome {
    let connection = caller.connection;
    let user = connection.user_id;
    let conversations = caller.engine.conversations();
    let ctx = AuthContext {
        user_id: user,
        session_id: connection.session_id,
        expires_at: caller.expires_at,
    };
    let result = async {
        // As for sends: while this instance is cut off from the others, a
        // logout elsewhere is checked in the store.
        caller.engine.auth().check_live_if_cut_off(&ctx).await?;
        let conversation = conversations.conversation_of(user, message).await?;
        match change {
            Change::Edit(text) => {
                let content = MessageContent::parse_caption(&text)?;
                conversations
                    .edit_message(user, conversation, message, content)
                    .await
            }
            Change::Delete => {
                conversations
                    .delete_message(user, conversation, message)
                    .await
            }
            Change::React(emoji, add) => {
                let emoji = Emoji::parse(&emoji)?;
                conversations
                    .react(user, conversation, message, emoji, add)
                    .await
            }
        }
    }
    .await;
    match result {
        Ok(_) => Outcome::Nothing,
        Err(ChatError::SessionRevoked) => Outcome::Close(close::AUTH_EXPIRED, "session revoked"),
        Err(e) => {
            if matches!(e, ChatError::StoreUnavailable(_) | ChatError::Internal(_)) {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "websocket change failed");
            }
            Outcome::Reply(Box::new(ServerFrame::Error(ErrorFrame::for_request(
                &e, request_id,
            ))))
        }
    }
}
