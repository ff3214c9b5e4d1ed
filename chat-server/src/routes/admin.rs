//! `/api/v1/admin/*`: the operators' API. Every route needs the admin
//! role (`CHAT_ADMIN_USERNAMES`, docs/configuration.md); anyone else gets
//! `403 PERMISSION_DENIED`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::conversations::ChangedMessage;
use chat_core::ids::ReportId;
use chat_core::model::{Report, ReportStatus, User};
use chat_core::{ConversationId, MessageId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The admin routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users))
        .routes(routes!(update_user))
        .routes(routes!(revoke_sessions))
        .routes(routes!(reports))
        .routes(routes!(resolve_report))
        .routes(routes!(delete_message))
}

/// An account as operators see it: email and state included.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUser {
    user_id: UserId,
    username: String,
    email: String,
    display_name: Option<String>,
    created_at: Timestamp,
    last_seen: Option<Timestamp>,
    /// False once deactivated (cannot log in; left out of searches).
    is_active: bool,
    /// A bot account (docs/api.md, "Bots").
    is_bot: bool,
}

impl From<User> for AdminUser {
    fn from(u: User) -> Self {
        Self {
            user_id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            created_at: u.created_at,
            last_seen: u.last_seen,
            is_active: u.is_active,
            is_bot: u.is_bot,
        }
    }
}

/// `GET /admin/users` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserList {
    /// Ordered by username (case-insensitive).
    users: Vec<AdminUser>,
}

/// `GET /admin/users` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Only accounts whose username, display name or email starts with
    /// this (case-insensitive, at most 100 characters).
    q: Option<String>,
    /// Deactivated accounts too (default false).
    #[serde(default)]
    include_inactive: bool,
    /// Accounts per page, 1 to 100 (default 50).
    limit: Option<u32>,
    /// Accounts to skip, at most 10,000.
    offset: Option<u32>,
}

/// List and search every account.
#[utoipa::path(
    get,
    path = "/users",
    tag = "admin",
    operation_id = "admin_list_users",
    params(UserListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = AdminUserList),
        ApiErrors
    )
)]
async fn users(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<AdminUserList>, ApiError> {
    let users = state
        .engine
        .admin()
        .list_users(
            ctx.user_id,
            query.q.as_deref(),
            query.include_inactive,
            query.limit,
            query.offset,
        )
        .await?;
    Ok(Json(AdminUserList {
        users: users.into_iter().map(AdminUser::from).collect(),
    }))
}

/// `PATCH /admin/users/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// `false` deactivates the account (every session is revoked at once:
    /// tokens answer `401 SESSION_REVOKED`, sockets close with 4001);
    /// `true` reactivates it.
    is_active: bool,
}

/// Deactivate or reactivate an account. Admins cannot deactivate
/// themselves.
#[utoipa::path(
    patch,
    path = "/users/{user_id}",
    tag = "admin",
    operation_id = "admin_update_user",
    request_body = UpdateUserRequest,
    params(("user_id" = UserId, Path, description = "The account")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account after the change", body = AdminUser),
        ApiErrors
    )
)]
async fn update_user(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(user_id): ApiPath<UserId>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<Json<AdminUser>, ApiError> {
    let user = state
        .engine
        .admin()
        .set_active(ctx.user_id, user_id, req.is_active)
        .await?;
    Ok(Json(user.into()))
}

/// Sign an account out everywhere: every session is revoked (tokens
/// answer `401 SESSION_REVOKED`, sockets close with 4001). The account
/// stays active and may log in again.
#[utoipa::path(
    delete,
    path = "/users/{user_id}/sessions",
    tag = "admin",
    operation_id = "admin_revoke_sessions",
    params(("user_id" = UserId, Path, description = "The account")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session revoked"),
        ApiErrors
    )
)]
async fn revoke_sessions(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .admin()
        .revoke_sessions(ctx.user_id, user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/reports` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    /// Newest first.
    reports: Vec<Report>,
}

/// `GET /admin/reports` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Only reports of this status (`open` or `resolved`).
    status: Option<ReportStatus>,
    /// Reports per page, 1 to 100 (default 50).
    limit: Option<u32>,
    /// Reports to skip, at most 10,000.
    offset: Option<u32>,
}

/// Reported messages, newest first, each with a copy of the message as
/// it was when reported.
#[utoipa::path(
    get,
    path = "/reports",
    tag = "admin",
    operation_id = "admin_list_reports",
    params(ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of reports", body = ReportList),
        ApiErrors
    )
)]
async fn reports(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<ReportList>, ApiError> {
    let reports = state
        .engine
        .admin()
        .reports(ctx.user_id, query.status, query.limit, query.offset)
        .await?;
    Ok(Json(ReportList { reports }))
}

/// Mark a report resolved (resolving it again keeps the first
/// resolution).
#[utoipa::path(
    post,
    path = "/reports/{report_id}/resolve",
    tag = "admin",
    operation_id = "admin_resolve_report",
    params(("report_id" = ReportId, Path, description = "The report")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report, resolved", body = Report),
        ApiErrors
    )
)]
async fn resolve_report(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(report_id): ApiPath<ReportId>,
) -> Result<Json<Report>, ApiError> {
    let report = state
        .engine
        .admin()
        .resolve_report(ctx.user_id, report_id)
        .await?;
    Ok(Json(report))
}

/// Delete any message of any conversation. Members see a deletion with
/// the operator as `actor_id` (`message.changed`, docs/protocol.md).
#[utoipa::path(
    delete,
    path = "/conversations/{conversation_id}/messages/{message_id}",
    tag = "admin",
    operation_id = "admin_delete_message",
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tombstone, and the log entry", body = ChangedMessage),
        ApiErrors
    )
)]
async fn delete_message(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((conversation_id, message_id)): ApiPath<(ConversationId, MessageId)>,
) -> Result<Json<ChangedMessage>, ApiError> {
    let changed = state
        .engine
        .admin()
        .delete_message(ctx.user_id, conversation_id, message_id)
        .await?;
    Ok(Json(changed))
}
