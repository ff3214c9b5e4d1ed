//! `/api/v1/conversations/*`: the conversation endpoints, for
//! direct conversations and groups alike.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::conversations::{HistoryPage, MessageReceipts, ReadState};
use chat_core::model::{
    ConversationKind, ConversationOverview, MemberRole, MessageView, PostingPolicy,
};
use chat_core::{ConversationId, ConversationRef, MessageId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use super::message_body::{MessageBody, SentResponse, send_to};
use super::paging::{HistoryQuery, history_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The conversation routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(open_direct))
        .routes(routes!(show))
        .routes(routes!(read))
        .routes(routes!(history, send))
        .routes(routes!(receipts))
        .routes(routes!(mute, unmute))
        .merge(super::message_changes::router())
        .merge(super::reports::router())
}

/// The other member of a direct conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Peer {
    user_id: UserId,
    username: String,
    display_name: Option<String>,
    /// A bot account (docs/api.md, "Bots").
    is_bot: bool,
}

/// One entry of the conversation list.
#[derive(Debug, Serialize, ToSchema)]
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
    /// Messages after the read cursor that mention the caller.
    mention_count: u64,
    /// The caller muted it: unread counts go on, notifications do not.
    muted: bool,
    /// Who may post (`everyone`, or `admins`: the owner and admins).
    posting: PostingPolicy,
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
                is_bot: p.profile.is_bot,
            }),
            role: o.membership.member.role,
            created_at: c.created_at,
            last_activity_at: c.last_activity_at,
            last_seq: c.last_seq,
            read_seq: o.membership.member.read_seq,
            unread_count,
            mention_count: o.mention_count,
            muted: o.membership.member.muted,
            posting: c.posting,
            last_message,
        }
    }
}

/// `GET /conversations` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    conversations: Vec<ConversationSummary>,
}

/// `GET /conversations?kind=` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only conversations of this kind.
    kind: Option<ConversationKind>,
}

/// `POST /conversations/{id}/read` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReadRequest {
    /// Read up to and including this message (default: the newest).
    message_id: Option<MessageId>,
}

/// The caller's conversations, direct and group, with unread counts.
#[utoipa::path(
    get,
    path = "/",
    tag = "conversations",
    operation_id = "list_conversations",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's conversations, most recent activity first", body = ConversationList),
        ApiErrors
    )
)]
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

/// Open (or find) the direct conversation with a user.
#[utoipa::path(
    post,
    path = "/direct/{username}",
    tag = "conversations",
    params(("username" = String, Path, description = "The other user's username")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The conversation was created", body = ConversationSummary),
        (status = 200, description = "It already existed", body = ConversationSummary),
        ApiErrors
    )
)]
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

/// One of the caller's conversations.
#[utoipa::path(
    get,
    path = "/{conversation_id}",
    tag = "conversations",
    operation_id = "show_conversation",
    params(("conversation_id" = ConversationId, Path, description = "The conversation")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The conversation", body = ConversationSummary),
        ApiErrors
    )
)]
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

/// Move the caller's read cursor (it never moves back).
///
/// Without a body (or `message_id`), everything is read.
#[utoipa::path(
    post,
    path = "/{conversation_id}/read",
    tag = "conversations",
    operation_id = "mark_read",
    request_body = Option<ReadRequest>,
    params(("conversation_id" = ConversationId, Path, description = "The conversation")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The read cursor after the move", body = ReadState),
        ApiErrors
    )
)]
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

/// History of a conversation.
#[utoipa::path(
    get,
    path = "/{conversation_id}/messages",
    tag = "conversations",
    operation_id = "conversation_history",
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), HistoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of history, newest first", body = HistoryPage),
        ApiErrors
    )
)]
async fn history(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    history_of(&state, ctx.user_id, ConversationRef::Id(id), &query).await
}

/// Send a message to a conversation.
#[utoipa::path(
    post,
    path = "/{conversation_id}/messages",
    tag = "conversations",
    operation_id = "send_to_conversation",
    request_body = MessageBody,
    params(("conversation_id" = ConversationId, Path, description = "The conversation")),
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
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<Response, ApiError> {
    send_to(&state, ctx.user_id, ConversationRef::Id(id), body).await
}

/// Who has received and read a message.
#[utoipa::path(
    get,
    path = "/{conversation_id}/messages/{message_id}/receipts",
    tag = "conversations",
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Delivery and read times by member", body = MessageReceipts),
        ApiErrors
    )
)]
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

/// Mute a conversation for oneself: it keeps counting unread messages but
/// notifies of nothing, and the list marks it `muted`.
#[utoipa::path(
    put,
    path = "/{conversation_id}/mute",
    tag = "conversations",
    operation_id = "mute_conversation",
    params(("conversation_id" = ConversationId, Path, description = "The conversation")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The conversation as the list shows it", body = ConversationSummary),
        ApiErrors
    )
)]
async fn mute(
    state: State<AppState>,
    user: AuthUser,
    path: ApiPath<ConversationId>,
) -> Result<Json<ConversationSummary>, ApiError> {
    set_muted(state, user, path, true).await
}

/// Unmute a conversation.
#[utoipa::path(
    delete,
    path = "/{conversation_id}/mute",
    tag = "conversations",
    operation_id = "unmute_conversation",
    params(("conversation_id" = ConversationId, Path, description = "The conversation")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The conversation as the list shows it", body = ConversationSummary),
        ApiErrors
    )
)]
async fn unmute(
    state: State<AppState>,
    user: AuthUser,
    path: ApiPath<ConversationId>,
) -> Result<Json<ConversationSummary>, ApiError> {
    set_muted(state, user, path, false).await
}

async fn set_muted(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    muted: bool,
) -> Result<Json<ConversationSummary>, ApiError> {
    let overview = state
        .engine
        .conversations()
        .set_muted(ctx.user_id, id, muted)
        .await?;
    Ok(Json(overview.into()))
}
