//! `/api/v1/messages/*`: seed 002's direct-message endpoints.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chat_core::conversations::{HistoryPage, UnreadMessages};
use chat_core::{ConversationRef, UserId};
use serde::Deserialize;

use super::message_body::{MessageBody, send_to};
use super::paging::{HistoryQuery, LimitQuery, history_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::state::AppState;

/// The message routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/send", post(send))
        .route("/conversation/{user_id}", get(history))
        .route("/unread", get(unread))
}

/// `POST /messages/send` body.
#[derive(Debug, Deserialize)]
pub struct SendDirectRequest {
    recipient_id: UserId,
    #[serde(flatten)]
    message: MessageBody,
}

async fn send(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(req): ApiJson<SendDirectRequest>,
) -> Result<Response, ApiError> {
    let target = ConversationRef::Direct(req.recipient_id);
    send_to(&state, ctx.user_id, target, req.message).await
}

async fn history(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(peer): ApiPath<UserId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    history_of(&state, ctx.user_id, ConversationRef::Direct(peer), &query).await
}

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
