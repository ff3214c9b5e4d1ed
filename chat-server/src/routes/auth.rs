//! `/api/v1/auth/*`: signup, login, logout, password reset, sessions, me.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::{DisplayName, Email, Password, Signup, Timestamp, TokenPair, UserId, Username};
use serde::{Deserialize, Serialize};

use super::users::Profile;
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthUser, ClientIp, UserAgent};
use crate::openapi::ApiErrors;
use crate::state::AppState;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The auth routes. Without `builtin_accounts` (an application that logs
/// its people in itself and issues their chat tokens) signup, login and the
/// password reset are left out; sessions, refresh, logout and `me` stay.
pub fn router(builtin_accounts: bool) -> OpenApiRouter<AppState> {
    let sessions = OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(session_check))
        .routes(routes!(session_refresh))
        .routes(routes!(me));
    if !builtin_accounts {
        return sessions;
    }
    sessions
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}

/// `POST /auth/signup` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    username: String,
    email: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// `POST /auth/login` body; `username` may be an email address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// A body carrying a refresh token (logout, refresh).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshTokenRequest {
    refresh_token: String,
}

/// `POST /auth/forgot-password` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    email: String,
}

/// `POST /auth/reset-password` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    token: String,
    new_password: String,
}

/// Tokens issued by signup, login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    user_id: UserId,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        Self {
            user_id: p.user_id,
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
        }
    }
}

/// `{success: true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    success: bool,
}

const SUCCESS: Success = Success { success: true };

/// `{message}` of forgot-password.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    message: &'static str,
}

/// `GET /auth/session/check` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCheck {
    valid: bool,
    user_id: UserId,
    expires_at: Timestamp,
}

/// Create an account.
///
/// Usernames and emails are unique; a taken one answers 409 `USERNAME_TAKEN` or
/// `EMAIL_TAKEN`. One client address may try 20 signups an hour (429
/// `RATE_LIMITED` past it, `CHAT_SIGNUP_MAX_PER_CLIENT`).
#[utoipa::path(
    post,
    path = "/signup",
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created; the new session's tokens", body = TokenResponse),
        ApiErrors
    )
)]
async fn signup(
    State(state): State<AppState>,
    client: ClientIp,
    UserAgent(agent): UserAgent,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let signup = Signup {
        username: Username::parse(&req.username)?,
        email: Email::parse(&req.email)?,
        password: Password::parse(&req.password)?,
        display_name: req
            .display_name
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(DisplayName::parse)
            .transpose()?,
    };
    let pair = state
        .engine
        .auth()
        .signup_from(signup, agent.as_deref(), &client.key())
        .await?;
    Ok((StatusCode::CREATED, Json(pair.into())))
}

/// Log in with a username or email and a password.
///
/// A wrong password and an unknown user both answer 401 `INVALID_CREDENTIALS`;
/// repeated failures answer 429 `RATE_LIMITED`.
#[utoipa::path(
    post,
    path = "/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session's tokens", body = TokenResponse),
        ApiErrors
    )
)]
async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    UserAgent(agent): UserAgent,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state
        .engine
        .auth()
        .login(
            &req.username,
            &req.password,
            &client.key(),
            agent.as_deref(),
        )
        .await?;
    Ok(Json(pair.into()))
}

/// Log out: revoke the session of a refresh token.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "auth",
    request_body = RefreshTokenRequest,
    responses(
        (status = 200, description = "The session is revoked and its sockets closed", body = Success),
        ApiErrors
    )
)]
async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshTokenRequest>,
) -> Result<Json<Success>, ApiError> {
    state.engine.auth().logout(&req.refresh_token).await?;
    Ok(Json(SUCCESS))
}

/// Ask for a password reset link by email.
#[utoipa::path(
    post,
    path = "/forgot-password",
    tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "The same answer whether or not the email is known", body = MessageResponse),
        ApiErrors
    )
)]
async fn forgot_password(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(req): ApiJson<ForgotPasswordRequest>,
) -> Result<(StatusCode, Json<MessageResponse>), ApiError> {
    let email = Email::parse(&req.email)?;
    state
        .engine
        .auth()
        .forgot_password(&email, &client.key())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageResponse {
            message: "If an account uses this email, a reset link has been sent to it.",
        }),
    ))
}

/// Set a new password with a reset token (single use).
#[utoipa::path(
    post,
    path = "/reset-password",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password changed; every session is revoked", body = Success),
        ApiErrors
    )
)]
async fn reset_password(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> Result<Json<Success>, ApiError> {
    let password = Password::parse_field(&req.new_password, "new_password")?;
    state
        .engine
        .auth()
        .reset_password(&req.token, &password)
        .await?;
    Ok(Json(SUCCESS))
}

/// Check an access token.
#[utoipa::path(
    get,
    path = "/session/check",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The access token is valid", body = SessionCheck),
        ApiErrors
    )
)]
async fn session_check(AuthUser(ctx): AuthUser) -> Json<SessionCheck> {
    Json(SessionCheck {
        valid: true,
        user_id: ctx.user_id,
        expires_at: ctx.expires_at,
    })
}

/// Exchange a refresh token for a new pair (rotation).
///
/// Reusing a spent refresh token revokes the whole session (401
/// `REFRESH_TOKEN_REUSED`).
#[utoipa::path(
    post,
    path = "/session/refresh",
    tag = "auth",
    request_body = RefreshTokenRequest,
    responses(
        (status = 200, description = "A new token pair; the old refresh token is spent", body = TokenResponse),
        ApiErrors
    )
)]
async fn session_refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshTokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state.engine.auth().refresh(&req.refresh_token).await?;
    Ok(Json(pair.into()))
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's own profile, with email and live presence", body = Profile),
        ApiErrors
    )
)]
async fn me(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
) -> Result<Json<Profile>, ApiError> {
    let user = state.engine.users().profile(ctx.user_id).await?;
    Ok(Json(Profile::seen_by(&state, user, ctx.user_id).await?))
}
