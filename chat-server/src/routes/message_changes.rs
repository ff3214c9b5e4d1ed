//! `/api/v1/conversations/{id}/messages/{message_id}` changes: edit,
//! delete, react. Each is an entry of the conversation's log, sent to
//! every member as `message.changed` (see docs/protocol.md).

use axum::Json;
use axum::extract::State;
use chat_core::conversations::ChangedMessage;
use chat_core::{ConversationId, Emoji, MessageContent, MessageId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The message change routes (nested under `/conversations`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(edit, delete))
        .routes(routes!(add_reaction, remove_reaction))
}

/// `PATCH` body: the new text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditBody {
    /// The new text, 1 to 10,000 characters.
    content: String,
}

/// Edit one's own message.
///
/// Mentions are resolved again from the new text. With an edit window
/// configured, older messages answer `403 EDIT_WINDOW_CLOSED`.
#[utoipa::path(
    patch,
    path = "/{conversation_id}/messages/{message_id}",
    tag = "conversations",
    operation_id = "edit_message",
    request_body = EditBody,
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message after the edit, and the log entry", body = ChangedMessage),
        ApiErrors
    )
)]
async fn edit(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, message_id)): ApiPath<(ConversationId, MessageId)>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<ChangedMessage>, ApiError> {
    let content = MessageContent::parse_caption(&body.content)?;
    let changed = state
        .engine
        .conversations()
        .edit_message(ctx.user_id, id, message_id, content)
        .await?;
    Ok(Json(changed))
}

/// Delete a message: one's own, or any message of a group one owns or
/// administers. A tombstone (no content) keeps its place in history.
#[utoipa::path(
    delete,
    path = "/{conversation_id}/messages/{message_id}",
    tag = "conversations",
    operation_id = "delete_message",
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tombstone, and the log entry", body = ChangedMessage),
        ApiErrors
    )
)]
async fn delete(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, message_id)): ApiPath<(ConversationId, MessageId)>,
) -> Result<Json<ChangedMessage>, ApiError> {
    let changed = state
        .engine
        .conversations()
        .delete_message(ctx.user_id, id, message_id)
        .await?;
    Ok(Json(changed))
}

/// React to a message with an emoji (once per emoji; again changes nothing).
#[utoipa::path(
    put,
    path = "/{conversation_id}/messages/{message_id}/reactions/{emoji}",
    tag = "conversations",
    operation_id = "add_reaction",
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message"), ("emoji" = String, Path, description = "One emoji (percent-encoded) or its short name, such as `:+1:`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message with its reactions; `change` is null when the reaction was already there", body = ChangedMessage),
        ApiErrors
    )
)]
async fn add_reaction(
    state: State<AppState>,
    user: AuthUser,
    path: ApiPath<(ConversationId, MessageId, String)>,
) -> Result<Json<ChangedMessage>, ApiError> {
    react(state, user, path, true).await
}

/// Take one's reaction back (one that is not there changes nothing).
#[utoipa::path(
    delete,
    path = "/{conversation_id}/messages/{message_id}/reactions/{emoji}",
    tag = "conversations",
    operation_id = "remove_reaction",
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message"), ("emoji" = String, Path, description = "The emoji (percent-encoded) or its short name")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message with its reactions; `change` is null when there was no such reaction", body = ChangedMessage),
        ApiErrors
    )
)]
async fn remove_reaction(
    state: State<AppState>,
    user: AuthUser,
    path: ApiPath<(ConversationId, MessageId, String)>,
) -> Result<Json<ChangedMessage>, ApiError> {
    react(state, user, path, false).await
}

async fn react(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, message_id, emoji)): ApiPath<(ConversationId, MessageId, String)>,
    add: bool,
) -> Result<Json<ChangedMessage>, ApiError> {
    let emoji = Emoji::parse(&emoji)?;
    let changed = state
        .engine
        .conversations()
        .react(ctx.user_id, id, message_id, emoji, add)
        .await?;
    Ok(Json(changed))
}
