//! The body of every send endpoint and its answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::conversations::SentMessage;
use chat_core::ids::AttachmentId;
use chat_core::{
    ConversationId, ConversationRef, MessageId, OutgoingMessage, Timestamp, UserId, ValidationError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// `{content, message_type?, client_msg_id?, reply_to?, attachments?}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MessageBody {
    /// The text, 1 to 10,000 characters, stored verbatim; may be left out
    /// (or blank) when there are attachments.
    #[serde(default)]
    content: String,
    /// A client-defined type (default `text`).
    #[serde(default)]
    message_type: Option<String>,
    /// The client's idempotency key: a repeat returns the original message.
    #[serde(default)]
    client_msg_id: Option<String>,
    /// The message of the same conversation this one answers.
    #[serde(default)]
    reply_to: Option<MessageId>,
    /// The sender's uploads it sends (`POST /attachments`), in order, at
    /// most 10.
    #[serde(default)]
    attachments: Vec<AttachmentId>,
}

impl MessageBody {
    /// Validates the body.
    ///
    /// # Errors
    /// `EMPTY_CONTENT`, `CONTENT_TOO_LONG`, `INVALID_CONTENT`,
    /// `INVALID_MESSAGE_TYPE`, `INVALID_CLIENT_MSG_ID`,
    /// `TOO_MANY_ATTACHMENTS`, `DUPLICATE_ATTACHMENT`.
    pub fn parse(self) -> Result<OutgoingMessage, ValidationError> {
        let mut message = OutgoingMessage::parse_with_attachments(
            &self.content,
            self.message_type.as_deref(),
            self.client_msg_id.as_deref(),
            self.attachments,
        )?;
        message.reply_to = self.reply_to;
        Ok(message)
    }
}

/// The answer to a send: `201 Created` for a new message, `200 OK` with
/// the original when the `client_msg_id` was used before.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentResponse {
    message_id: MessageId,
    conversation_id: ConversationId,
    seq: u64,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_msg_id: Option<String>,
    /// The stored text, only when it may not be the text sent: the
    /// moderation hook rewrote it, or this is the first message of a
    /// repeated `client_msg_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

/// Sends `body` from `user` to `target`, answering as every send endpoint does.
///
/// # Errors
/// Validation errors of the body, and the engine's send errors.
pub async fn send_to(
    state: &AppState,
    user: UserId,
    target: ConversationRef,
    body: MessageBody,
) -> Result<Response, ApiError> {
    let message = body.parse()?;
    let result = state
        .engine
        .conversations()
        .send(user, target, message)
        .await?;
    Ok(sent(result))
}

/// The HTTP answer to a send.
fn sent(sent: SentMessage) -> Response {
    let status = if sent.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let m = sent.message;
    let body = SentResponse {
        message_id: m.id,
        conversation_id: m.conversation_id,
        seq: m.seq,
        created_at: m.created_at,
        client_msg_id: m.client_msg_id,
        content: (sent.rewritten || sent.replayed).then_some(m.content),
    };
    (status, Json(body)).into_response()
}
