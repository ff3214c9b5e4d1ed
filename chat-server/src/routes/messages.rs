//! `/api/v1/messages/*`: the direct-message endpoints.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chat_core::conversations::{HistoryPage, UnreadMessages};
use chat_core::{ConversationRef, UserId};
use serde::Deserialize;

use super::message_body::{MessageBody, SentResponse, send_to};
use super::paging::{HistoryQuery, LimitQuery, history_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The message routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(history))
        .routes(routes!(unread))
}

/// `POST /messages/send` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendDirectRequest {
    /// The other member.
    recipient_id: UserId,
    #[serde(flatten)]
    message: MessageBody,
}

/// Send a direct message (the conversation starts on first use).
#[utoipa::path(
    post,
    path = "/send",
    tag = "messages",
    operation_id = "send_direct_message",
    request_body = SendDirectRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored and fanned out", body = SentResponse),
        (status = 200, description = "This `client_msg_id` was used before: the original message", body = SentResponse),
        ApiErrors
    )
)]
async fn send(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(req): ApiJson<SendDirectRequest>,
) -> Result<Response, ApiError> {
    let target = ConversationRef::Direct(req.recipient_id);
    send_to(&state, ctx.user_id, target, req.message).await
}

/// History of the direct conversation with a user.
#[utoipa::path(
    get,
    path = "/conversation/{user_id}",
    tag = "messages",
    operation_id = "direct_history",
    params(("user_id" = UserId, Path, description = "The other member"), HistoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of history, newest first", body = HistoryPage),
        ApiErrors
    )
)]
async fn history(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(peer): ApiPath<UserId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    history_of(&state, ctx.user_id, ConversationRef::Direct(peer), &query).await
}

/// The caller's unread messages across all conversations, oldest first.
#[utoipa::path(
    get,
    path = "/unread",
    tag = "messages",
    params(LimitQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The oldest unread messages and the total", body = UnreadMessages),
        ApiErrors
    )
)]
async fn unread(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<UnreadMessages>, ApiError> {
    let unread = state
        .engine
        .conversations()
        .unread(ctx.user_id, query.limit)
        .await?;
    Ok(Json(unread))
}
