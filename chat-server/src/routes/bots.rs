//! `/api/v1/admin/bots`: bot accounts and their long-lived tokens, for
//! operators (the admin role). A bot authenticates every request with
//! `Authorization: Bearer cbt_...` and uses the REST API (and the
//! WebSocket) as any member does; docs/api.md, "Bots".

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::auth::BotToken;
use chat_core::{DisplayName, SessionId, UserId, Username};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The bot routes (nested under `/admin/bots`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(issue_token))
}

/// `POST /admin/bots` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBot {
    /// The bot's username (as any username).
    username: String,
    /// Its display name.
    #[serde(default)]
    display_name: Option<String>,
}

/// `POST /admin/bots/{user_id}/tokens` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// What the token is for (kept as its session's device description,
    /// cut at 255 characters).
    #[serde(default)]
    name: Option<String>,
}

/// A new bot token: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotTokenBody {
    /// The bot.
    user_id: UserId,
    /// The token's session: `DELETE /admin/users/{user_id}/sessions`
    /// revokes it (with the bot's other tokens).
    session_id: SessionId,
    /// The bearer token (`cbt_...`); keep it, it is not shown again.
    token: String,
}

impl From<BotToken> for BotTokenBody {
    fn from(t: BotToken) -> Self {
        Self {
            user_id: t.user_id,
            session_id: t.session_id,
            token: t.token,
        }
    }
}

/// `POST /admin/bots` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBot {
    #[serde(flatten)]
    token: BotTokenBody,
    username: String,
    display_name: Option<String>,
    /// Always true: the account as every other view shows it.
    is_bot: bool,
}

/// Create a bot account and its first token.
#[utoipa::path(
    post,
    path = "",
    tag = "admin",
    operation_id = "admin_create_bot",
    security(("bearer" = [])),
    request_body = CreateBot,
    responses(
        (status = 201, description = "The bot and its token, shown once", body = CreatedBot),
        ApiErrors
    )
)]
async fn create(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(body): ApiJson<CreateBot>,
) -> Result<(StatusCode, Json<CreatedBot>), ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    let username = Username::parse(&body.username)?;
    let display_name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let (user, token) = state
        .engine
        .auth()
        .create_bot(username, display_name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedBot {
            token: token.into(),
            username: user.username,
            display_name: user.display_name,
            is_bot: user.is_bot,
        }),
    ))
}

/// Issue another token for a bot (to rotate without a gap).
#[utoipa::path(
    post,
    path = "/{user_id}/tokens",
    tag = "admin",
    operation_id = "admin_issue_bot_token",
    params(("user_id" = UserId, Path, description = "The bot")),
    security(("bearer" = [])),
    request_body = IssueToken,
    responses(
        (status = 201, description = "The token, shown once", body = BotTokenBody),
        ApiErrors
    )
)]
async fn issue_token(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(user): ApiPath<UserId>,
    ApiJson(body): ApiJson<IssueToken>,
) -> Result<(StatusCode, Json<BotTokenBody>), ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    let name = body.name.as_deref().unwrap_or("token");
    let token = state.engine.auth().issue_bot_token(user, name).await?;
    Ok((StatusCode::CREATED, Json(token.into())))
}
