//! The one error type of `chat-core`, with stable machine codes.
//!
//! Every variant has a code (see [`ChatError::code`]) that clients can match
//! on; codes never change meaning once published. Transports map variants to
//! their own status codes (`chat-server` maps them to HTTP); the core knows
//! nothing of HTTP. Causes of internal failures are kept as `source` for the
//! log and are never part of the message a client sees.

use std::time::Duration;

/// A boxed error used as the hidden cause of internal failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used throughout the crate.
pub type Result<T, E = ChatError> = std::result::Result<T, E>;

/// A field of client input that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Name of the offending field as the client sent it (`"password"`).
    pub field: &'static str,
    /// Stable machine code (`"WEAK_PASSWORD"`).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ValidationError {
    /// Builds a validation error.
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

/// Everything that can go wrong in the chat engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// Input failed validation; the inner error names the field and code.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// `USERNAME_TAKEN`: another account has this username (case-insensitive).
    #[error("this username is already taken")]
    UsernameTaken,
    /// `EMAIL_TAKEN`: another account has this email (case-insensitive).
    #[error("this email is already registered")]
    EmailTaken,
    /// `INVALID_CREDENTIALS`: unknown login or wrong password (deliberately
    /// not saying which).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// `INVALID_CURRENT_PASSWORD`: a password change gave the wrong current password.
    #[error("the current password is incorrect")]
    InvalidCurrentPassword,
    /// `UNAUTHENTICATED`: no credentials were presented.
    #[error("authentication required")]
    Unauthenticated,
    /// `INVALID_TOKEN`: the access token is malformed, tampered with, signed
    /// with another algorithm or key, or not yet valid.
    #[error("invalid access token")]
    InvalidToken,
    /// `TOKEN_EXPIRED`: the access token is past its `exp`.
    #[error("access token expired")]
    TokenExpired,
    /// `SESSION_REVOKED`: the token's session was logged out or revoked.
    #[error("session has been revoked")]
    SessionRevoked,
    /// `INVALID_REFRESH_TOKEN`: unknown refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// `REFRESH_TOKEN_EXPIRED`: the refresh token is past its lifetime.
    #[error("refresh token expired")]
    RefreshTokenExpired,
    /// `REFRESH_TOKEN_REUSED`: a refresh token that was already rotated away
    /// was presented again; the whole session has been revoked.
    #[error("refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    /// `INVALID_RESET_TOKEN`: unknown, used or expired password reset token.
    #[error("invalid or expired password reset token")]
    InvalidResetToken,
    /// `USER_NOT_FOUND`: no such (active) user.
    #[error("user not found")]
    UserNotFound,
    /// `CONVERSATION_NOT_FOUND`: no such conversation or group, or the
    /// caller is not a member (the two are not told apart, so membership
    /// does not leak).
    #[error("conversation not found")]
    ConversationNotFound,
    /// `MESSAGE_NOT_FOUND`: no such message in this conversation.
    #[error("message not found")]
    MessageNotFound,
    /// `MESSAGE_DELETED`: the message was deleted and takes no more
    /// changes (edits, reactions, replies).
    #[error("this message was deleted")]
    MessageDeleted,
    /// `EDIT_WINDOW_CLOSED`: the message is older than the edit window.
    #[error("this message can no longer be edited")]
    EditWindowClosed,
    /// `MEMBER_NOT_FOUND`: the user is not a member of the group.
    #[error("this user is not a member of the group")]
    MemberNotFound,
    /// `INVALID_RECIPIENT`: the recipient of a direct message is unknown,
    /// inactive, or the sender themself.
    #[error("{0}")]
    InvalidRecipient(&'static str),
    /// `USER_BLOCKED`: the caller blocked this user; they must lift the
    /// block before starting a direct conversation with them or sending
    /// them direct messages.
    #[error("you have blocked this user; unblock them to send messages")]
    UserBlocked,
    /// `RECIPIENT_UNAVAILABLE`: the recipient does not accept direct
    /// messages from the caller (they blocked them). Deliberately says no
    /// more than that.
    #[error("this user is not accepting your messages")]
    RecipientUnavailable,
    /// `POSTING_RESTRICTED`: only the group's owner and admins may post.
    #[error("only the group's owner and admins can post here")]
    PostingRestricted,
    /// `MESSAGE_REFUSED`: the server's moderation hook refused the
    /// message (docs/api.md, "Moderation hook"); the reason is the hook's.
    #[error("{reason}")]
    MessageRefused {
        /// Why, as the hook put it (or a standard sentence).
        reason: String,
    },
    /// `MODERATION_UNAVAILABLE`: the moderation hook could not be asked
    /// and the server is set to refuse messages then; retrying later may
    /// work.
    #[error("messages cannot be checked right now; try again shortly")]
    ModerationUnavailable,
    /// `REPORT_NOT_FOUND`: no such report.
    #[error("report not found")]
    ReportNotFound,
    /// `PERMISSION_DENIED`: the caller is a member but their role does not
    /// allow this.
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// `GROUP_FULL`: the group would exceed its member limit.
    #[error("a group holds at most {max} members")]
    GroupFull {
        /// The configured limit.
        max: u32,
    },
    /// `INVALID_PAGINATION`: `limit`, `offset` or `before` is out of range
    /// or names no message of the conversation. The inner error names the
    /// parameter.
    #[error("{}", .0.message)]
    InvalidPagination(ValidationError),
    /// `INVALID_QUERY`: a query parameter the service refuses (a blank or
    /// over-long search). Transports answer it as they answer a query
    /// parameter they cannot parse. The inner error names the parameter.
    #[error("{}", .0.message)]
    InvalidQuery(ValidationError),
    /// `SEARCH_TOO_BROAD`: every word of a search across all
    /// conversations is too common to rank (docs/api.md, "Search"); a
    /// rarer word, or a search of one conversation, works.
    #[error(
        "every word of this search is too common to search all conversations; \
         add a less common word, or search one conversation"
    )]
    SearchTooBroad,
    /// `ATTACHMENT_TOO_LARGE`: an upload past the size limit; nothing of
    /// it is kept.
    #[error("an attachment may be at most {max} bytes")]
    AttachmentTooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// `ATTACHMENT_NOT_FOUND`: no such attachment for the caller: never
    /// uploaded, uploaded by someone else, or (to send) sent already; to
    /// download, not in a conversation the caller may read, or its
    /// message was deleted. The cases are not told apart, so another
    /// user's uploads do not leak.
    #[error("attachment not found")]
    AttachmentNotFound,
    /// `PUSH_SUBSCRIPTION_NOT_FOUND`: no such push subscription of the
    /// caller.
    #[error("push subscription not found")]
    PushSubscriptionNotFound,
    /// `TOO_MANY_PUSH_SUBSCRIPTIONS`: the user has as many push
    /// subscriptions as one may keep; delete one first.
    #[error("a user keeps at most {max} push subscriptions; delete one first")]
    TooManyPushSubscriptions {
        /// The limit.
        max: usize,
    },
    /// `WEBHOOK_NOT_FOUND`: no such webhook.
    #[error("webhook not found")]
    WebhookNotFound,
    /// `DEAD_LETTER_NOT_FOUND`: no such dead letter of this webhook.
    #[error("dead letter not found")]
    DeadLetterNotFound,
    /// `RATE_LIMITED`: too many attempts; retry after the given delay.
    #[error("too many requests; retry in {} seconds", retry_after.as_secs().max(1))]
    RateLimited {
        /// How long until the limit resets.
        retry_after: Duration,
    },
    /// `INVALID_CONFIG`: the engine was configured with an unusable value.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// `STORE_UNAVAILABLE`: the store could not be reached; retrying may work.
    #[error("the store is unavailable")]
    StoreUnavailable(#[source] BoxError),
    /// `INTERNAL`: a bug or an unexpected failure; the cause is only logged.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ChatError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(v) => v.code,
            Self::UsernameTaken => "USERNAME_TAKEN",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidCurrentPassword => "INVALID_CURRENT_PASSWORD",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::SessionRevoked => "SESSION_REVOKED",
            Self::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Self::RefreshTokenExpired => "REFRESH_TOKEN_EXPIRED",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::InvalidResetToken => "INVALID_RESET_TOKEN",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::ConversationNotFound => "CONVERSATION_NOT_FOUND",
            Self::MessageNotFound => "MESSAGE_NOT_FOUND",
            Self::MessageDeleted => "MESSAGE_DELETED",
            Self::EditWindowClosed => "EDIT_WINDOW_CLOSED",
            Self::MemberNotFound => "MEMBER_NOT_FOUND",
            Self::InvalidRecipient(_) => "INVALID_RECIPIENT",
            Self::UserBlocked => "USER_BLOCKED",
            Self::RecipientUnavailable => "RECIPIENT_UNAVAILABLE",
            Self::PostingRestricted => "POSTING_RESTRICTED",
            Self::MessageRefused { .. } => "MESSAGE_REFUSED",
            Self::ModerationUnavailable => "MODERATION_UNAVAILABLE",
            Self::ReportNotFound => "REPORT_NOT_FOUND",
            Self::PermissionDenied(_) => "PERMISSION_DENIED",
            Self::GroupFull { .. } => "GROUP_FULL",
            Self::InvalidPagination(_) => "INVALID_PAGINATION",
            Self::InvalidQuery(_) => "INVALID_QUERY",
            Self::SearchTooBroad => "SEARCH_TOO_BROAD",
            Self::AttachmentTooLarge { .. } => "ATTACHMENT_TOO_LARGE",
            Self::AttachmentNotFound => "ATTACHMENT_NOT_FOUND",
            Self::PushSubscriptionNotFound => "PUSH_SUBSCRIPTION_NOT_FOUND",
            Self::TooManyPushSubscriptions { .. } => "TOO_MANY_PUSH_SUBSCRIPTIONS",
            Self::WebhookNotFound => "WEBHOOK_NOT_FOUND",
            Self::DeadLetterNotFound => "DEAD_LETTER_NOT_FOUND",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::InvalidConfig(_) => "INVALID_CONFIG",
            Self::StoreUnavailable(_) => "STORE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// Wraps any error as [`ChatError::Internal`].
    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self::Internal(e.into())
    }

    /// The field or parameter the error concerns, if any. Every error about
    /// one input field names it, conflicts included (`USERNAME_TAKEN` names
    /// `username`), so a client can show it beside that field
    /// (docs/api.md).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Validation(v) | Self::InvalidPagination(v) | Self::InvalidQuery(v) => {
                Some(v.field)
            }
            Self::InvalidRecipient(_) => Some("recipient_id"),
            Self::SearchTooBroad => Some("q"),
            Self::UsernameTaken => Some("username"),
            Self::EmailTaken => Some("email"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_carry_their_own_code_and_field() {
        let err: ChatError = ValidationError::new("password", "WEAK_PASSWORD", "too short").into();
        assert_eq!(err.code(), "WEAK_PASSWORD");
        assert_eq!(err.field(), Some("password"));
        assert_eq!(err.to_string(), "too short");
    }

    #[test]
    fn conflicts_name_the_field_they_concern() {
        assert_eq!(ChatError::UsernameTaken.field(), Some("username"));
        assert_eq!(ChatError::EmailTaken.field(), Some("email"));
        assert_eq!(ChatError::UserNotFound.field(), None);
    }

    #[test]
    fn internal_errors_do_not_show_their_cause_in_the_message() {
        let err = ChatError::internal("connection string with secret");
        assert_eq!(err.to_string(), "internal error");
        assert_eq!(err.code(), "INTERNAL");
    }
}
