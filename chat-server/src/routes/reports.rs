//! `POST /api/v1/conversations/{id}/messages/{message_id}/reports`: a
//! member reports a message to the server's operators, who see it through
//! `/api/v1/admin/reports`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::domain::ReportReason;
use chat_core::model::Report;
use chat_core::{ConversationId, MessageId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The report route (nested under `/conversations`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}

/// `POST .../reports` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReportBody {
    /// Why, for the operators: up to 1,000 characters (optional).
    #[serde(default)]
    reason: String,
}

/// Report a message of a conversation the caller is in. The report keeps
/// a copy of the message, so deleting or editing it later does not take
/// the evidence away. Reporting the same message again answers the first
/// report with `200`. The body may be omitted. At most 30 reports per user
/// and hour.
#[utoipa::path(
    post,
    path = "/{conversation_id}/messages/{message_id}/reports",
    tag = "conversations",
    operation_id = "report_message",
    request_body = ReportBody,
    params(("conversation_id" = ConversationId, Path, description = "The conversation"), ("message_id" = MessageId, Path, description = "The message")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Reported", body = Report),
        (status = 200, description = "Reported before: the first report", body = Report),
        ApiErrors
    )
)]
async fn report(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiPath((id, message_id)): ApiPath<(ConversationId, MessageId)>,
    body: Option<ApiJson<ReportBody>>,
) -> Result<Response, ApiError> {
    let reason = body.map(|ApiJson(b)| b.reason).unwrap_or_default();
    let reason = ReportReason::parse(&reason)?;
    let (report, created) = state
        .engine
        .moderation()
        .report(ctx.user_id, id, message_id, reason)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}
