//! `/api/v1/push`: the server's Web Push key, and the caller's devices'
//! push subscriptions (docs/api.md, "Push notifications").
//!
//! A device that subscribed with the browser's `PushManager` (using the
//! key from `GET /push/config`) registers what it got here; while the user
//! has no live connection, each conversation with new messages sends it
//! one notification (not for muted conversations, and only direct
//! messages and mentions at level `mentions`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::Timestamp;
use chat_core::ids::PushSubscriptionId;
use chat_core::model::{PushLevel, PushSubscription};
use chat_core::push::SubscribeRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The push routes (nested under `/push`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(routes!(list, subscribe))
        .routes(routes!(update, unsubscribe))
}

/// `GET /push/config` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushConfigBody {
    /// The server's VAPID public key (uncompressed P-256 point,
    /// base64url): `applicationServerKey` for `PushManager.subscribe()`.
    /// `null` when this server sends no Web Push (an embedding that
    /// delivers notifications its own way).
    vapid_public_key: Option<String>,
}

/// The key devices subscribe with.
#[utoipa::path(
    get,
    path = "/config",
    tag = "push",
    operation_id = "push_config",
    responses(
        (status = 200, description = "The server's push key", body = PushConfigBody),
        ApiErrors
    )
)]
async fn config(State(state): State<AppState>) -> Json<PushConfigBody> {
    Json(PushConfigBody {
        vapid_public_key: state.engine.push().public_key(),
    })
}

/// The device's keys, as `PushSubscription.toJSON()` gives them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// The device's P-256 public key (base64url).
    p256dh: String,
    /// The device's 16-byte authentication secret (base64url).
    auth: String,
}

/// `POST /push/subscriptions` body: `PushSubscription.toJSON()` of the
/// browser (its `expirationTime` is ignored), and a level.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscribeBody {
    /// The push service's URL for the device (`https`).
    endpoint: String,
    /// The device's keys.
    keys: SubscriptionKeys,
    /// Which messages notify the device (default `all`).
    #[serde(default)]
    level: PushLevel,
}

/// `PATCH /push/subscriptions/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// Which messages notify the device.
    level: PushLevel,
}

/// A registered device (its keys are not shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    id: PushSubscriptionId,
    endpoint: String,
    level: PushLevel,
    created_at: Timestamp,
}

impl From<PushSubscription> for Subscription {
    fn from(s: PushSubscription) -> Self {
        Self {
            id: s.id,
            endpoint: s.endpoint,
            level: s.level,
            created_at: s.created_at,
        }
    }
}

/// `GET /push/subscriptions` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// Oldest first.
    subscriptions: Vec<Subscription>,
}

/// The caller's devices, oldest first.
#[utoipa::path(
    get,
    path = "/subscriptions",
    tag = "push",
    operation_id = "list_push_subscriptions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's push subscriptions", body = SubscriptionList),
        ApiErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
) -> Result<Json<SubscriptionList>, ApiError> {
    let subs = state.engine.push().subscriptions(ctx.user_id).await?;
    Ok(Json(SubscriptionList {
        subscriptions: subs.into_iter().map(Subscription::from).collect(),
    }))
}

/// Register a device. Registering its endpoint again updates it (keys,
/// level) and keeps its id; an endpoint registered by another account
/// moves to the caller (the device now signs in as them).
#[utoipa::path(
    post,
    path = "/subscriptions",
    tag = "push",
    operation_id = "create_push_subscription",
    security(("bearer" = [])),
    request_body = SubscribeBody,
    responses(
        (status = 201, description = "Registered", body = Subscription),
        ApiErrors
    )
)]
async fn subscribe(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(body): ApiJson<SubscribeBody>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let request = SubscribeRequest {
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh,
        auth: body.keys.auth,
        level: body.level,
    };
    let sub = state.engine.push().subscribe(ctx.user_id, request).await?;
    Ok((StatusCode::CREATED, Json(sub.into())))
}

/// Change which messages notify a device.
#[utoipa::path(
    patch,
    path = "/subscriptions/{subscription_id}",
    tag = "push",
    operation_id = "update_push_subscription",
    params(("subscription_id" = PushSubscriptionId, Path, description = "The subscription")),
    security(("bearer" = [])),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Updated", body = Subscription),
        ApiErrors
    )
)]
async fn update(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<PushSubscriptionId>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Subscription>, ApiError> {
    let sub = state
        .engine
        .push()
        .set_level(ctx.user_id, id, body.level)
        .await?;
    Ok(Json(sub.into()))
}

/// Remove a device (it signs out, or turns notifications off).
#[utoipa::path(
    delete,
    path = "/subscriptions/{subscription_id}",
    tag = "push",
    operation_id = "delete_push_subscription",
    params(("subscription_id" = PushSubscriptionId, Path, description = "The subscription")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        ApiErrors
    )
)]
async fn unsubscribe(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<PushSubscriptionId>,
) -> Result<StatusCode, ApiError> {
    state.engine.push().unsubscribe(ctx.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
