//! `/api/v1/admin/webhooks`: outgoing webhooks, for operators (the admin
//! role; anyone else gets `403 PERMISSION_DENIED`). docs/api.md,
//! "Webhooks", says what is delivered and how it is signed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chat_core::ids::{DeadLetterId, WebhookId};
use chat_core::model::{DeadLetter, Webhook, WebhookEvent};
use chat_core::webhooks::{DeliveryOutcome, WebhookRequest};
use chat_core::{ConversationId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The webhook routes (nested under `/admin/webhooks`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(dead_letters))
        .routes(routes!(replay))
}

/// `POST /admin/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are posted: an `https` URL of a public address.
    url: String,
    /// The events it wants, at least one.
    events: Vec<WebhookEvent>,
    /// Only this conversation's events (default: every conversation).
    #[serde(default)]
    conversation_id: Option<ConversationId>,
    /// The signing secret, at least 16 characters (default: one is
    /// generated and returned once, in this answer).
    #[serde(default)]
    secret: Option<String>,
}

/// A webhook as listed (without its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBody {
    webhook_id: WebhookId,
    url: String,
    events: Vec<WebhookEvent>,
    conversation_id: Option<ConversationId>,
    created_by: Option<UserId>,
    created_at: Timestamp,
}

impl From<Webhook> for WebhookBody {
    fn from(h: Webhook) -> Self {
        Self {
            webhook_id: h.id,
            url: h.url,
            events: h.events,
            conversation_id: h.conversation_id,
            created_by: h.created_by,
            created_at: h.created_at,
        }
    }
}

/// `POST /admin/webhooks` answer: the webhook and its secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookBody,
    /// The key of every delivery's `Chat-Signature`: keep it; it is not
    /// shown again.
    secret: String,
}

/// `GET /admin/webhooks` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    webhooks: Vec<WebhookBody>,
}

/// A delivery that failed for good.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterBody {
    dead_letter_id: DeadLetterId,
    event: WebhookEvent,
    conversation_id: ConversationId,
    seq: u64,
    /// The JSON body as it was posted (a replay posts it again).
    body: String,
    attempts: u32,
    /// What the last attempt got.
    last_error: String,
    failed_at: Timestamp,
}

impl From<DeadLetter> for DeadLetterBody {
    fn from(l: DeadLetter) -> Self {
        Self {
            dead_letter_id: l.id,
            event: l.event,
            conversation_id: l.conversation_id,
            seq: l.seq,
            body: l.body,
            attempts: l.attempts,
            last_error: l.last_error,
            failed_at: l.failed_at,
        }
    }
}

/// `GET /admin/webhooks/{id}/dead-letters` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterList {
    /// Oldest first.
    dead_letters: Vec<DeadLetterBody>,
}

/// `GET /admin/webhooks/{id}/dead-letters` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// 1 to 100 (default 50).
    limit: Option<u32>,
}

/// `POST .../replay` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayBody {
    /// Whether the receiver took it (the letter is then deleted).
    delivered: bool,
    /// What went wrong, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Every webhook, oldest first.
#[utoipa::path(
    get,
    path = "",
    tag = "admin",
    operation_id = "admin_list_webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The webhooks", body = WebhookList),
        ApiErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
) -> Result<Json<WebhookList>, ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    let hooks = state.engine.webhooks().webhooks().await?;
    Ok(Json(WebhookList {
        webhooks: hooks.into_iter().map(WebhookBody::from).collect(),
    }))
}

/// Register a webhook. It is told of conversation log entries from now
/// on.
#[utoipa::path(
    post,
    path = "",
    tag = "admin",
    operation_id = "admin_create_webhook",
    security(("bearer" = [])),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Registered; the secret is shown this once", body = CreatedWebhook),
        ApiErrors
    )
)]
async fn create(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    let request = WebhookRequest {
        url: body.url,
        events: body.events,
        conversation_id: body.conversation_id,
        secret: body.secret,
    };
    let hook = state
        .engine
        .webhooks()
        .register(Some(ctx.user_id), request)
        .await?;
    let secret = hook.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: hook.into(),
            secret,
        }),
    ))
}

/// Delete a webhook, its progress and its dead letters.
#[utoipa::path(
    delete,
    path = "/{webhook_id}",
    tag = "admin",
    operation_id = "admin_delete_webhook",
    params(("webhook_id" = WebhookId, Path, description = "The webhook")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        ApiErrors
    )
)]
async fn delete(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<WebhookId>,
) -> Result<StatusCode, ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    state.engine.webhooks().delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries that failed for good, oldest first.
#[utoipa::path(
    get,
    path = "/{webhook_id}/dead-letters",
    tag = "admin",
    operation_id = "admin_list_dead_letters",
    params(("webhook_id" = WebhookId, Path, description = "The webhook"), DeadLetterQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dead letters", body = DeadLetterList),
        ApiErrors
    )
)]
async fn dead_letters(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath(id): ApiPath<WebhookId>,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> Result<Json<DeadLetterList>, ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    let letters = state
        .engine
        .webhooks()
        .dead_letters(id, query.limit.unwrap_or(50))
        .await?;
    Ok(Json(DeadLetterList {
        dead_letters: letters.into_iter().map(DeadLetterBody::from).collect(),
    }))
}

/// Post a dead letter's body again, freshly signed; delivered, the letter
/// is deleted.
#[utoipa::path(
    post,
    path = "/{webhook_id}/dead-letters/{dead_letter_id}/replay",
    tag = "admin",
    operation_id = "admin_replay_dead_letter",
    params(
        ("webhook_id" = WebhookId, Path, description = "The webhook"),
        ("dead_letter_id" = DeadLetterId, Path, description = "The dead letter")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the receiver said", body = ReplayBody),
        ApiErrors
    )
)]
async fn replay(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, letter)): ApiPath<(WebhookId, DeadLetterId)>,
) -> Result<Json<ReplayBody>, ApiError> {
    state.engine.admin().require_admin(ctx.user_id).await?;
    let outcome = state.engine.webhooks().replay(id, letter).await?;
    Ok(Json(match outcome {
        DeliveryOutcome::Delivered => ReplayBody {
            delivered: true,
            error: None,
        },
        DeliveryOutcome::Retry { reason, .. } | DeliveryOutcome::Failed { reason } => ReplayBody {
            delivered: false,
            error: Some(reason),
        },
    }))
}
