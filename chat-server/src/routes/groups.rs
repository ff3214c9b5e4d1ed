//! `/api/v1/groups/*`: the group endpoints.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chat_core::conversations::{GroupInfo, HistoryPage};
use chat_core::model::{
    ConversationKind, ConversationOverview, MemberEntry, MemberRole, MessageView, PostingPolicy,
};
use chat_core::{ConversationId, ConversationRef, GroupName, Timestamp, UserId};
use serde::{Deserialize, Serialize};

use super::message_body::{MessageBody, SentResponse, send_to};
use super::paging::{HistoryQuery, history_of};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The group routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(my_groups))
        .routes(routes!(show, update))
        .routes(routes!(add_members))
        .routes(routes!(remove_member, set_role))
        .routes(routes!(history, send))
}

/// A member as group endpoints show them.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMember {
    user_id: UserId,
    username: String,
    display_name: Option<String>,
    /// A bot account (docs/api.md, "Bots").
    is_bot: bool,
    role: MemberRole,
    joined_at: Timestamp,
    /// Everything up to this seq reached one of the member's devices (the
    /// state `message.delivered` receipts report).
    delivered_seq: u64,
    /// Everything up to this seq is read (the state `message.read`
    /// receipts report).
    read_seq: u64,
}

impl From<MemberEntry> for GroupMember {
    fn from(e: MemberEntry) -> Self {
        Self {
            user_id: e.member.user_id,
            username: e.profile.username,
            display_name: e.profile.display_name,
            is_bot: e.profile.is_bot,
            role: e.member.role,
            joined_at: e.member.joined_at,
            delivered_seq: e.member.delivered_seq,
            read_seq: e.member.read_seq,
        }
    }
}

/// A group with its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupResponse {
    group_id: ConversationId,
    name: String,
    creator_id: Option<UserId>,
    created_at: Timestamp,
    /// Who may post (`everyone`, or `admins`: the owner and admins).
    posting: PostingPolicy,
    members: Vec<GroupMember>,
}

impl From<GroupInfo> for GroupResponse {
    fn from(g: GroupInfo) -> Self {
        Self {
            group_id: g.conversation.id,
            name: g.conversation.name.unwrap_or_default(),
            creator_id: g.conversation.creator_id,
            created_at: g.conversation.created_at,
            posting: g.conversation.posting,
            members: g.members.into_iter().map(GroupMember::from).collect(),
        }
    }
}

/// One entry of `GET /groups/my`.
#[derive(Debug, Serialize, ToSchema)]
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
    /// Messages after the read cursor that mention the caller.
    mention_count: u64,
    /// The caller muted the group.
    muted: bool,
    /// Who may post.
    posting: PostingPolicy,
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
            mention_count: o.mention_count,
            muted: o.membership.member.muted,
            posting: c.posting,
            last_message,
        }
    }
}

/// `GET /groups/my` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyGroups {
    groups: Vec<MyGroup>,
}

/// `POST /groups` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateGroupRequest {
    /// 1 to 100 characters.
    name: String,
    /// The first members besides the caller.
    #[serde(default)]
    member_ids: Vec<UserId>,
}

/// `POST /groups/{id}/members` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMembersRequest {
    /// The users to add.
    user_ids: Vec<UserId>,
}

/// `PATCH /groups/{id}/members/{user_id}` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetRoleRequest {
    /// `admin` or `member` (ownership passes only when the owner leaves).
    role: MemberRole,
}

/// `{success: true}`, with what changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberChange {
    success: bool,
    /// Users actually added (existing members are skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    added: Option<Vec<UserId>>,
    /// The new owner, when the owner left.
    #[serde(skip_serializing_if = "Option::is_none")]
    new_owner: Option<UserId>,
}

impl MemberChange {
    fn plain() -> Self {
        Self {
            success: true,
            added: None,
            new_owner: None,
        }
    }
}

/// Create a group.
#[utoipa::path(
    post,
    path = "/",
    tag = "groups",
    operation_id = "create_group",
    request_body = CreateGroupRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The group, with the caller as owner", body = GroupResponse),
        ApiErrors
    )
)]
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

/// The caller's groups.
#[utoipa::path(
    get,
    path = "/my",
    tag = "groups",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's groups, most recent activity first", body = MyGroups),
        ApiErrors
    )
)]
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

/// A group the caller belongs to, with its members.
#[utoipa::path(
    get,
    path = "/{group_id}",
    tag = "groups",
    operation_id = "show_group",
    params(("group_id" = ConversationId, Path, description = "The group")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group and its members", body = GroupResponse),
        ApiErrors
    )
)]
async fn show(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
) -> Result<Json<GroupResponse>, ApiError> {
    let group = state.engine.conversations().group(ctx.user_id, id).await?;
    Ok(Json(group.into()))
}

/// `PATCH /groups/{id}` body: the settings to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupRequest {
    /// Who may post: `everyone`, or `admins` (the owner and admins; the
    /// other members read and react, and their sends answer
    /// `403 POSTING_RESTRICTED`).
    posting: PostingPolicy,
}

/// Change a group's settings (owner or admin).
#[utoipa::path(
    patch,
    path = "/{group_id}",
    tag = "groups",
    operation_id = "update_group",
    request_body = UpdateGroupRequest,
    params(("group_id" = ConversationId, Path, description = "The group")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group and its members", body = GroupResponse),
        ApiErrors
    )
)]
async fn update(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<UpdateGroupRequest>,
) -> Result<Json<GroupResponse>, ApiError> {
    let group = state
        .engine
        .conversations()
        .set_posting(ctx.user_id, id, req.posting)
        .await?;
    Ok(Json(group.into()))
}

/// Add members (owner or admin).
#[utoipa::path(
    post,
    path = "/{group_id}/members",
    tag = "groups",
    request_body = AddMembersRequest,
    params(("group_id" = ConversationId, Path, description = "The group")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Who was added (existing members are skipped)", body = MemberChange),
        ApiErrors
    )
)]
async fn add_members(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<AddMembersRequest>,
) -> Result<Json<MemberChange>, ApiError> {
    let added = state
        .engine
        .conversations()
        .add_members(ctx.user_id, id, req.user_ids)
        .await?;
    Ok(Json(MemberChange {
        added: Some(added),
        ..MemberChange::plain()
    }))
}

/// Remove a member, or leave (the caller's own id).
///
/// The owner removes anyone, an admin removes plain members.
#[utoipa::path(
    delete,
    path = "/{group_id}/members/{user_id}",
    tag = "groups",
    params(("group_id" = ConversationId, Path, description = "The group"), ("user_id" = UserId, Path, description = "The member")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Removed; `new_owner` when the owner left", body = MemberChange),
        ApiErrors
    )
)]
async fn remove_member(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, user_id)): ApiPath<(ConversationId, UserId)>,
) -> Result<Json<MemberChange>, ApiError> {
    let removal = state
        .engine
        .conversations()
        .remove_member(ctx.user_id, id, user_id)
        .await?;
    Ok(Json(MemberChange {
        new_owner: removal.new_owner,
        ..MemberChange::plain()
    }))
}

/// Make a member an admin or a plain member (owner only).
#[utoipa::path(
    patch,
    path = "/{group_id}/members/{user_id}",
    tag = "groups",
    request_body = SetRoleRequest,
    params(("group_id" = ConversationId, Path, description = "The group"), ("user_id" = UserId, Path, description = "The member")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The role changed", body = MemberChange),
        ApiErrors
    )
)]
async fn set_role(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, user_id)): ApiPath<(ConversationId, UserId)>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> Result<Json<MemberChange>, ApiError> {
    state
        .engine
        .conversations()
        .set_role(ctx.user_id, id, user_id, req.role)
        .await?;
    Ok(Json(MemberChange::plain()))
}

/// History of a group.
#[utoipa::path(
    get,
    path = "/{group_id}/messages",
    tag = "groups",
    operation_id = "group_history",
    params(("group_id" = ConversationId, Path, description = "The group"), HistoryQuery),
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
    history_of(&state, ctx.user_id, ConversationRef::Group(id), &query).await
}

/// Send a message to a group.
#[utoipa::path(
    post,
    path = "/{group_id}/messages",
    tag = "groups",
    operation_id = "send_to_group",
    request_body = MessageBody,
    params(("group_id" = ConversationId, Path, description = "The group")),
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
    send_to(&state, ctx.user_id, ConversationRef::Group(id), body).await
}
