//! `/api/v1/users/*`: profiles and search.

use axum::Json;
use axum::extract::State;
use chat_core::model::{ProfileUpdate, User, UserSummary};
use chat_core::realtime::PresenceStatus;
use chat_core::{DisplayName, Email, Password, Timestamp, UserId};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The user routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(update_me))
        .routes(routes!(profile))
        .nest("/me/blocks", super::blocks::router())
}

/// A user's profile; `email` only when the caller is that user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    user_id: UserId,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    display_name: Option<String>,
    /// A bot account (docs/api.md, "Bots").
    is_bot: bool,
    created_at: Timestamp,
    last_seen: Option<Timestamp>,
    /// True while the user has a live WebSocket connection (always false,
    /// with no `last_seen`, for a user the caller blocked).
    online: bool,
    /// True when the caller blocked this user.
    blocked: bool,
    /// In the caller's own profile: whether they hold the admin role
    /// (the `/api/v1/admin` API); absent in others' profiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    is_admin: Option<bool>,
}

impl Profile {
    /// Adds live presence: `online`, and `last_seen` when presence saw the
    /// user more recently than the account record did.
    pub fn with_presence(mut self, status: PresenceStatus) -> Self {
        self.online = status.online;
        self.last_seen = self.last_seen.max(status.last_seen);
        self
    }

    /// The view of a user by someone else.
    pub fn public(u: User) -> Self {
        Self {
            user_id: u.id,
            username: u.username,
            email: None,
            display_name: u.display_name,
            is_bot: u.is_bot,
            created_at: u.created_at,
            last_seen: u.last_seen,
            online: false,
            blocked: false,
            is_admin: None,
        }
    }

    /// The view of a user by themself.
    pub fn private(u: User) -> Self {
        let email = Some(u.email.clone());
        Self {
            email,
            ..Self::public(u)
        }
    }

    /// `user` as `viewer` sees them (with `email` only when they are the
    /// same), with live presence. Every route that answers a profile
    /// (`/auth/me`, `/users/{id}`, `PUT /users/me`) answers this, so
    /// `online` means the same in all of them (docs/api.md).
    pub async fn seen_by(state: &AppState, user: User, viewer: UserId) -> Result<Self, ApiError> {
        let engine = &state.engine;
        let status = engine.delivery().statuses(viewer, &[user.id]).await?;
        let mut profile = if user.id == viewer {
            let is_admin = engine.admin().holds_admin_role(&user);
            Self {
                is_admin: Some(is_admin),
                ..Self::private(user)
            }
        } else if engine.moderation().has_blocked(viewer, user.id).await? {
            // The blocker stops seeing the blocked user's presence.
            Self {
                blocked: true,
                last_seen: None,
                ..Self::public(user)
            }
        } else {
            Self::public(user)
        };
        if let Some(s) = status.first() {
            profile = profile.with_presence(*s);
        }
        Ok(profile)
    }
}

/// One search hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    user_id: UserId,
    username: String,
    display_name: Option<String>,
    /// A bot account (docs/api.md, "Bots").
    is_bot: bool,
}

impl From<UserSummary> for SearchHit {
    fn from(u: UserSummary) -> Self {
        Self {
            user_id: u.id,
            username: u.username,
            display_name: u.display_name,
            is_bot: u.is_bot,
        }
    }
}

/// `GET /users/search` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    users: Vec<SearchHit>,
}

/// `GET /users/search?q=` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The start of a username or display name (1 to 100 characters,
    /// case-insensitive).
    #[serde(default)]
    q: String,
}

/// `PUT /users/me` body. Every field is optional; `display_name: null`
/// clears the display name. A new password needs the current one.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// New display name; `null` or blank clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    display_name: Option<Option<String>>,
    /// New email address (needs `current_password`).
    #[serde(default)]
    email: Option<String>,
    /// The current password, required to set a new email or password.
    #[serde(default)]
    current_password: Option<String>,
    /// New password.
    #[serde(default)]
    new_password: Option<String>,
}

/// Tells a field that is absent (`None`) from one that is `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A user's profile.
#[utoipa::path(
    get,
    path = "/{user_id}",
    tag = "users",
    params(("user_id" = UserId, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile, with live presence; `email` only for the caller", body = Profile),
        ApiErrors
    )
)]
async fn profile(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Json<Profile>, ApiError> {
    let user = state.engine.users().profile(user_id).await?;
    Ok(Json(Profile::seen_by(&state, user, ctx.user_id).await?))
}

/// Active users whose username or display name starts with `q` (at
/// most 20).
#[utoipa::path(
    get,
    path = "/search",
    tag = "users",
    params(SearchQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Matching users, best first", body = SearchResponse),
        ApiErrors
    )
)]
async fn search(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    let users = state.engine.users().search(&query.q).await?;
    Ok(Json(SearchResponse {
        users: users.into_iter().map(SearchHit::from).collect(),
    }))
}

/// Change the caller's display name, email or password.
///
/// A new email or password needs `current_password` (an access token alone
/// must not take the account over); changing the password revokes the
/// other sessions, and a new email is announced to the old address. A
/// user may attempt 10 email or password changes an hour
/// (`CHAT_ACCOUNT_CHANGES_PER_HOUR`), then `429 RATE_LIMITED`.
#[utoipa::path(
    put,
    path = "/me",
    tag = "users",
    request_body = UpdateMeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated profile", body = Profile),
        ApiErrors
    )
)]
async fn update_me(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<Json<Profile>, ApiError> {
    let display_name = match req.display_name {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) if d.trim().is_empty() => Some(None),
        Some(Some(d)) => Some(Some(DisplayName::parse(&d)?)),
    };
    let email = req.email.as_deref().map(Email::parse).transpose()?;
    let new_password = req
        .new_password
        .as_deref()
        .map(|p| Password::parse_field(p, "new_password"))
        .transpose()?;
    let user = state
        .engine
        .auth()
        .update_account(
            &ctx,
            ProfileUpdate {
                display_name,
                email,
            },
            req.current_password.as_deref(),
            new_password.as_ref(),
        )
        .await?;
    Ok(Json(Profile::seen_by(&state, user, ctx.user_id).await?))
}
