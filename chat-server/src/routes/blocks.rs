//! `/api/v1/users/me/blocks`: the users the caller blocked.
//!
//! A block stops direct conversations and direct messages between the
//! two users, either way (`403 USER_BLOCKED` for the blocker,
//! `403 RECIPIENT_UNAVAILABLE` for the blocked user, which says no more),
//! and hides the blocked user's typing and presence from the blocker.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::model::BlockedUser;
use chat_core::{Timestamp, UserId};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiPath, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The block routes (nested under `/users/me/blocks`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(block, unblock))
}

/// A user the caller blocked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Block {
    user_id: UserId,
    username: String,
    display_name: Option<String>,
    /// A bot account (docs/api.md, "Bots").
    is_bot: bool,
    blocked_at: Timestamp,
}

impl From<BlockedUser> for Block {
    fn from(b: BlockedUser) -> Self {
        Self {
            user_id: b.user.id,
            username: b.user.username,
            display_name: b.user.display_name,
            is_bot: b.user.is_bot,
            blocked_at: b.blocked_at,
        }
    }
}

/// `GET /users/me/blocks` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockList {
    /// Most recent block first.
    blocks: Vec<Block>,
}

/// The users the caller blocked, most recent first.
#[utoipa::path(
    get,
    path = "",
    tag = "users",
    operation_id = "list_blocks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's blocks", body = BlockList),
        ApiErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
) -> Result<Json<BlockList>, ApiError> {
    let blocks = state.engine.moderation().blocked_users(ctx.user_id).await?;
    Ok(Json(BlockList {
        blocks: blocks.into_iter().map(Block::from).collect(),
    }))
}

/// Block a user. Blocking someone already blocked changes nothing.
#[utoipa::path(
    put,
    path = "/{user_id}",
    tag = "users",
    operation_id = "block_user",
    params(("user_id" = UserId, Path, description = "The user to block")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Blocked"),
        ApiErrors
    )
)]
async fn block(
    state: State<AppState>,
    user: AuthUser,
    path: ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    set_blocked(state, user, path, true).await
}

/// Lift a block. Unblocking someone not blocked changes nothing.
#[utoipa::path(
    delete,
    path = "/{user_id}",
    tag = "users",
    operation_id = "unblock_user",
    params(("user_id" = UserId, Path, description = "The user to unblock")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Not blocked (any more)"),
        ApiErrors
    )
)]
async fn unblock(
    state: State<AppState>,
    user: AuthUser,
    path: ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    set_blocked(state, user, path, false).await
}

async fn set_blocked(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(user_id): ApiPath<UserId>,
    blocked: bool,
) -> Result<StatusCode, ApiError> {
    let moderation = state.engine.moderation();
    if blocked {
        moderation.block(ctx.user_id, user_id).await?;
    } else {
        moderation.unblock(ctx.user_id, user_id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
