//! `/api/v1/groups/*`: seed 002's group endpoints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chat_core::conversations::{GroupInfo, HistoryPage};
use chat_core::model::{
    ConversationKind, ConversationOverview, MemberEntry, MemberRole, MessageView,
};
use chat_core::{ConversationId, ConversationRef, GroupName, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use super::message_body::{MessageBody, send_to};
use super::paging::{HistoryQuery, history_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::state::AppState;

/// The group routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", post(create))
        .route("/my", get(my_groups))
        .route("/{group_id}", get(show))
        .route("/{group_id}/members", post(add_members))
        .route(
            "/{group_id}/members/{user_id}",
            delete(remove_member).patch(set_role),
        )
        .route("/{group_id}/messages", get(history).post(send))
}

/// A member as group endpoints show them.
#[derive(Debug, Serialize)]
pub struct GroupMember {
    user_id: UserId,
    username: String,
    display_name: Option<String>,
    role: MemberRole,
    joined_at: Timestamp,
}

impl From<MemberEntry> for GroupMember {
    fn from(e: MemberEntry) -> Self {
        Self {
            user_id: e.member.user_id,
            username: e.profile.username,
            display_name: e.profile.display_name,
            role: e.member.role,
            joined_at: e.member.joined_at,
        }
    }
}

/// A group with its members.
#[derive(Debug, Serialize)]
pub struct GroupResponse {
    group_id: ConversationId,
    name: String,
    creator_id: Option<UserId>,
    created_at: Timestamp,
    members: Vec<GroupMember>,
}

impl From<GroupInfo> for GroupResponse {
    fn from(g: GroupInfo) -> Self {
        Self {
            group_id: g.conversation.id,
            name: g.conversation.name.unwrap_or_default(),
            creator_id: g.conversation.creator_id,
            created_at: g.conversation.created_at,
            members: g.members.into_iter().map(GroupMember::from).collect(),
        }
    }
}

/// One entry of `GET /groups/my`.
#[derive(Debug, Serialize)]
pub struct MyGroup {
    group_id: ConversationId,
    name: String,
    creator_id: Option<UserId>,
    created_at: Timestamp,
    role: MemberRole,
    last_activity_at: Timestamp,
    last_seq: u64,
    read_seq: u64,
    unread_count: u64,
    last_message: Option<MessageView>,
}

impl From<ConversationOverview> for MyGroup {
    fn from(o: ConversationOverview) -> Self {
        let last_message = o.last_message_view();
        let unread_count = o.membership.unread_count();
        let c = o.membership.conversation;
        Self {
            group_id: c.id,
            name: c.name.unwrap_or_default(),
            creator_id: c.creator_id,
            created_at: c.created_at,
            role: o.membership.member.role,
            last_activity_at: c.last_activity_at,
            last_seq: c.last_seq,
            read_seq: o.membership.member.read_seq,
            unread_count,
            last_message,
        }
    }
}

/// `GET /groups/my` answer.
#[derive(Debug, Serialize)]
pub struct MyGroups {
    groups: Vec<MyGroup>,
}

/// `POST /groups` body.
#[derive(Debug, Deserialize)]
pub struct CreateGroupRequest {
    name: String,
    #[serde(default)]
    member_ids: Vec<UserId>,
}

/// `POST /groups/{id}/members` body.
#[derive(Debug, Deserialize)]
pub struct AddMembersRequest {
    user_ids: Vec<UserId>,
}

/// `PATCH /groups/{id}/members/{user_id}` body.
#[derive(Debug, Deserialize)]
pub struct SetRoleRequest {
    role: MemberRole,
}

/// `{success: true}`, with what changed.
#[derive(Debug, Serialize)]
pub struct Success {
    success: bool,
    /// Users actually added (existing members are skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    added: Option<Vec<UserId>>,
    /// The new owner, when the owner left.
    #[serde(skip_serializing_if = "Option::is_none")]
    new_owner: Option<UserId>,
}

impl Success {
    fn plain() -> Self {
        Self {
            success: true,
            added: None,
            new_owner: None,
        }
    }
}

async fn create(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> Result<(StatusCode, Json<GroupResponse>), ApiError> {
    let name = GroupName::parse(&req.name)?;
    let group = state
        .engine
        .conversations()
        .create_group(ctx.user_id, name, req.member_ids)
        .await?;
    Ok((StatusCode::CREATED, Json(group.into())))
}

async fn my_groups(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
) -> Result<Json<MyGroups>, ApiError> {
    let list = state
        .engine
        .conversations()
        .conversations(ctx.user_id, Some(ConversationKind::Group))
        .await?;
    Ok(Json(MyGroups {
        groups: list.into_iter().map(MyGroup::from).collect(),
    }))
}

async fn show(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<GroupResponse>, ApiError> {
    let group = state.engine.conversations().group(ctx.user_id, id).await?;
    Ok(Json(group.into()))
}

async fn add_members(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<AddMembersRequest>,
) -> Result<Json<Success>, ApiError> {
    let added = state
        .engine
        .conversations()
        .add_members(ctx.user_id, id, req.user_ids)
        .await?;
    Ok(Json(Success {
        added: Some(added),
        ..Success::plain()
    }))
}

async fn remove_member(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, user_id)): ApiPath<(ConversationId, UserId)>,
) -> Result<Json<Success>, ApiError> {
    let removal = state
        .engine
        .conversations()
        .remove_member(ctx.user_id, id, user_id)
        .await?;
    Ok(Json(Success {
        new_owner: removal.new_owner,
        ..Success::plain()
    }))
}

async fn set_role(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, user_id)): ApiPath<(ConversationId, UserId)>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> Result<Json<Success>, ApiError> {
    state
        .engine
        .conversations()
        .set_role(ctx.user_id, id, user_id, req.role)
        .await?;
    Ok(Json(Success::plain()))
}

async fn history(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    history_of(&state, ctx.user_id, ConversationRef::Group(id), &query).await
}

async fn send(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<Response, ApiError> {
    send_to(&state, ctx.user_id, ConversationRef::Group(id), body).await
}
