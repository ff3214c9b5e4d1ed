//! `/api/v1/auth/*`: signup, login, logout, password reset, sessions, me.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chat_core::{DisplayName, Email, Password, Signup, Timestamp, TokenPair, UserId, Username};
use serde::{Deserialize, Serialize};

use super::users::Profile;
use crate::error::ApiError;
use crate::extract::{ApiJson, AuthUser, ClientIp, UserAgent};
use crate::state::AppState;

/// The auth routes. Without `builtin_accounts` (an application that logs
/// its people in itself and issues their chat tokens) signup, login and the
/// password reset are left out; sessions, refresh, logout and `me` stay.
pub fn router(builtin_accounts: bool) -> Router<AppState> {
    let sessions = Router::new()
        .route("/logout", post(logout))
        .route("/session/check", get(session_check))
        .route("/session/refresh", post(session_refresh))
        .route("/me", get(me));
    if !builtin_accounts {
        return sessions;
    }
    sessions
        .route("/signup", post(signup))
        .route("/login", post(login))
        .route("/forgot-password", post(forgot_password))
        .route("/reset-password", post(reset_password))
}

/// `POST /auth/signup` body.
#[derive(Debug, Deserialize)]
pub struct SignupRequest {
    username: String,
    email: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// `POST /auth/login` body; `username` may be an email address.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// A body carrying a refresh token (logout, refresh).
#[derive(Debug, Deserialize)]
pub struct RefreshTokenRequest {
    refresh_token: String,
}

/// `POST /auth/forgot-password` body.
#[derive(Debug, Deserialize)]
pub struct ForgotPasswordRequest {
    email: String,
}

/// `POST /auth/reset-password` body.
#[derive(Debug, Deserialize)]
pub struct ResetPasswordRequest {
    token: String,
    new_password: String,
}

/// Tokens issued by signup, login and refresh.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub struct Success {
    success: bool,
}

const SUCCESS: Success = Success { success: true };

/// `{message}` of forgot-password.
#[derive(Debug, Serialize)]
pub struct MessageResponse {
    message: &'static str,
}

/// `GET /auth/session/check` answer.
#[derive(Debug, Serialize)]
pub struct SessionCheck {
    valid: bool,
    user_id: UserId,
    expires_at: Timestamp,
}

async fn signup(
    State(state): State<AppState>,
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
    let pair = state.engine.auth().signup(signup, agent.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(pair.into())))
}

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

async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshTokenRequest>,
) -> Result<Json<Success>, ApiError> {
    state.engine.auth().logout(&req.refresh_token).await?;
    Ok(Json(SUCCESS))
}

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

async fn session_check(AuthUser(ctx): AuthUser) -> Json<SessionCheck> {
    Json(SessionCheck {
        valid: true,
        user_id: ctx.user_id,
        expires_at: ctx.expires_at,
    })
}

async fn session_refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshTokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state.engine.auth().refresh(&req.refresh_token).await?;
    Ok(Json(pair.into()))
}

async fn me(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
) -> Result<Json<Profile>, ApiError> {
    let user = state.engine.users().profile(ctx.user_id).await?;
    Ok(Json(Profile::private(user)))
}
