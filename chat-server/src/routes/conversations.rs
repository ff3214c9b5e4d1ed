//! `/api/v1/conversations/*`: seed 000's conversation endpoints, for
//! direct conversations and groups alike.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chat_core::conversations::{HistoryPage, MessageReceipts, ReadState};
use chat_core::model::{ConversationKind, ConversationOverview, MemberRole, MessageView};
use chat_core::{ConversationId, ConversationRef, MessageId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use super::message_body::{MessageBody, send_to};
use super::paging::{HistoryQuery, history_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::state::AppState;

/// The conversation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list))
        .route("/direct/{username}", post(open_direct))
        .route("/{conversation_id}", get(show))
        .route("/{conversation_id}/read", post(read))
        .route("/{conversation_id}/messages", get(history).post(send))
        .route(
            "/{conversation_id}/messages/{message_id}/receipts",
            get(receipts),
        )
}

/// The other member of a direct conversation.
#[derive(Debug, Serialize)]
pub struct Peer {
    user_id: UserId,
    username: String,
    display_name: Option<String>,
}

/// One entry of the conversation list.
#[derive(Debug, Serialize)]
pub struct ConversationSummary {
    conversation_id: ConversationId,
    kind: ConversationKind,
    /// Group name; `null` for direct conversations.
    name: Option<String>,
    /// The other member; `null` for groups.
    peer: Option<Peer>,
    role: MemberRole,
    created_at: Timestamp,
    last_activity_at: Timestamp,
    last_seq: u64,
    read_seq: u64,
    unread_count: u64,
    last_message: Option<MessageView>,
}

impl From<ConversationOverview> for ConversationSummary {
    fn from(o: ConversationOverview) -> Self {
        let last_message = o.last_message_view();
        let unread_count = o.membership.unread_count();
        let c = o.membership.conversation;
        Self {
            conversation_id: c.id,
            kind: c.kind,
            name: c.name,
            peer: o.peer.map(|p| Peer {
                user_id: p.profile.id,
                username: p.profile.username,
                display_name: p.profile.display_name,
            }),
            role: o.membership.member.role,
            created_at: c.created_at,
            last_activity_at: c.last_activity_at,
            last_seq: c.last_seq,
            read_seq: o.membership.member.read_seq,
            unread_count,
            last_message,
        }
    }
}

/// `GET /conversations` answer.
#[derive(Debug, Serialize)]
pub struct ConversationList {
    conversations: Vec<ConversationSummary>,
}

/// `GET /conversations?kind=` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    kind: Option<ConversationKind>,
}

/// `POST /conversations/{id}/read` body (optional).
#[derive(Debug, Default, Deserialize)]
pub struct ReadRequest {
    message_id: Option<MessageId>,
}

async fn list(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ConversationList>, ApiError> {
    let list = state
        .engine
        .conversations()
        .conversations(ctx.user_id, query.kind)
        .await?;
    Ok(Json(ConversationList {
        conversations: list.into_iter().map(ConversationSummary::from).collect(),
    }))
}

async fn open_direct(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(username): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (overview, created) = state
        .engine
        .conversations()
        .open_direct(ctx.user_id, &username)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ConversationSummary::from(overview))).into_response())
}

async fn show(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let overview = state
        .engine
        .conversations()
        .conversation(ctx.user_id, id)
        .await?;
    Ok(Json(overview.into()))
}

async fn read(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    body: Option<ApiJson<ReadRequest>>,
) -> Result<Json<ReadState>, ApiError> {
    let up_to = body.and_then(|ApiJson(b)| b.message_id);
    let state = state
        .engine
        .conversations()
        .mark_read(ctx.user_id, id, up_to)
        .await?;
    Ok(Json(state))
}

async fn history(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    history_of(&state, ctx.user_id, ConversationRef::Id(id), &query).await
}

async fn send(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<Response, ApiError> {
    send_to(&state, ctx.user_id, ConversationRef::Id(id), body).await
}

async fn receipts(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, message_id)): ApiPath<(ConversationId, MessageId)>,
) -> Result<Json<MessageReceipts>, ApiError> {
    let receipts = state
        .engine
        .conversations()
        .receipts(ctx.user_id, id, message_id)
        .await?;
    Ok(Json(receipts))
}
