//! The HTTP face of errors: status codes and the JSON error body.
//!
//! Every error leaves the server as
//! `{"error": {"code": "USERNAME_TAKEN", "message": "...", "field": "username"?}}`.
//! [`ApiError`] wraps [`ChatError`] (and the transport's own failures, such
//! as malformed JSON); only this module knows HTTP status codes. Causes of
//! 5xx errors are never sent: [`ApiError::into_response`] stores them in the
//! response's extensions and the logging middleware writes them to the log.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::ChatError;
use serde::Serialize;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub enum ApiError {
    /// A failure of the engine.
    Chat(ChatError),
    /// A request the transport could not read: bad JSON, wrong content
    /// type, an unknown route, a body too large.
    Request {
        /// HTTP status.
        status: StatusCode,
        /// Stable machine code.
        code: &'static str,
        /// Human-readable message.
        message: String,
        /// The offending field or parameter, if known.
        field: Option<String>,
    },
}

impl ApiError {
    /// A transport-level error.
    pub fn request(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Request {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Chat(e) => e.code(),
            Self::Request { code, .. } => code,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Chat(e) => status_of(e),
            Self::Request { status, .. } => *status,
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        Self::Chat(e)
    }
}

impl From<chat_core::ValidationError> for ApiError {
    fn from(e: chat_core::ValidationError) -> Self {
        Self::Chat(e.into())
    }
}

/// The status code each engine error is answered with.
///
/// - 422: validation failures (`WEAK_PASSWORD`, `INVALID_EMAIL`,
///   `EMPTY_CONTENT`, ...) and `INVALID_RECIPIENT`
/// - 400: `INVALID_RESET_TOKEN`, `INVALID_PAGINATION`, `INVALID_QUERY` (as
///   for a query parameter that does not parse, see [`crate::extract::ApiQuery`]),
///   `SEARCH_TOO_BROAD`
/// - 401: missing, invalid, expired or revoked credentials
/// - 403: `INVALID_CURRENT_PASSWORD`, `PERMISSION_DENIED`,
///   `MESSAGE_REFUSED`
/// - 404: `USER_NOT_FOUND`, `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`,
///   `MEMBER_NOT_FOUND`
/// - 409: `USERNAME_TAKEN`, `EMAIL_TAKEN`, `GROUP_FULL`
/// - 413: `ATTACHMENT_TOO_LARGE`
/// - 429: `RATE_LIMITED` (with `Retry-After`)
/// - 503: `STORE_UNAVAILABLE`, `MODERATION_UNAVAILABLE`; 500: everything
///   else
pub fn status_of(e: &ChatError) -> StatusCode {
    match e {
        ChatError::Validation(_) | ChatError::InvalidRecipient(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ChatError::InvalidResetToken
        | ChatError::InvalidPagination(_)
        | ChatError::InvalidQuery(_)
        | ChatError::SearchTooBroad => StatusCode::BAD_REQUEST,
        ChatError::UsernameTaken
        | ChatError::EmailTaken
        | ChatError::GroupFull { .. }
        | ChatError::TooManyPushSubscriptions { .. }
        | ChatError::MessageDeleted => StatusCode::CONFLICT,
        ChatError::InvalidCredentials
        | ChatError::Unauthenticated
        | ChatError::InvalidToken
        | ChatError::TokenExpired
        | ChatError::SessionRevoked
        | ChatError::InvalidRefreshToken
        | ChatError::RefreshTokenExpired
        | ChatError::RefreshTokenReused => StatusCode::UNAUTHORIZED,
        ChatError::InvalidCurrentPassword
        | ChatError::PermissionDenied(_)
        | ChatError::EditWindowClosed
        | ChatError::UserBlocked
        | ChatError::RecipientUnavailable
        | ChatError::PostingRestricted
        | ChatError::MessageRefused { .. } => StatusCode::FORBIDDEN,
        ChatError::UserNotFound
        | ChatError::ConversationNotFound
        | ChatError::MessageNotFound
        | ChatError::AttachmentNotFound
        | ChatError::PushSubscriptionNotFound
        | ChatError::WebhookNotFound
        | ChatError::DeadLetterNotFound
        | ChatError::MemberNotFound
        | ChatError::ReportNotFound => StatusCode::NOT_FOUND,
        ChatError::AttachmentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ChatError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ChatError::StoreUnavailable(_) | ChatError::ModerationUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// What went wrong.
    error: ErrorDetail<'a>,
}

/// An error: a stable machine code and a message for people.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable machine code, e.g. `INVALID_CREDENTIALS` (docs/api.md lists them).
    code: &'a str,
    /// What went wrong, for people; may change between versions.
    message: &'a str,
    /// The request field at fault, for an error about one field
    /// (validation errors, `USERNAME_TAKEN`, `EMAIL_TAKEN`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// Seconds to wait before trying again (`RATE_LIMITED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The code of an error answer, left on the response for the metrics
/// layer (see [`crate::middleware`]).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Details of a server-side failure, left in the response extensions for
/// the logging middleware.
#[derive(Debug, Clone)]
pub struct FailureCause(pub Arc<str>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let mut cause = None;
        let mut retry_after = None;
        let (message, field) = match &self {
            ApiError::Chat(e) => {
                if status.is_server_error() {
                    cause = Some(error_chain(e));
                }
                if let ChatError::RateLimited { retry_after: r } = e {
                    retry_after = Some(r.as_secs().max(1));
                }
                (e.to_string(), e.field().map(str::to_owned))
            }
            ApiError::Request { message, field, .. } => (message.clone(), field.clone()),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: &message,
                field: field.as_deref(),
                retry_after,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(FailureCause(cause.into()));
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// "error: cause: cause's cause", for the log.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::ValidationError;

    async fn body_of(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn validation_errors_name_the_field() {
        let e: ChatError = ValidationError::new("password", "WEAK_PASSWORD", "too short").into();
        let r = ApiError::from(e).into_response();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body_of(r).await;
        assert_eq!(body["error"]["code"], "WEAK_PASSWORD");
        assert_eq!(body["error"]["field"], "password");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause_from_the_client() {
        let r = ApiError::from(ChatError::internal("password=hunter2 in a DSN")).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = r
            .extensions()
            .get::<FailureCause>()
            .cloned()
            .expect("cause kept for the log");
        assert!(cause.0.contains("hunter2"));
        let text = body_of(r).await.to_string();
        assert!(!text.contains("hunter2"));
        assert!(text.contains("\"INTERNAL\""));
    }

    #[tokio::test]
    async fn rate_limits_say_when_to_retry() {
        let r = ApiError::from(ChatError::RateLimited {
            retry_after: std::time::Duration::from_secs(42),
        })
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
        assert_eq!(body_of(r).await["error"]["retry_after"], 42);
    }
}
