//! Start-up errors, and the mapping of Redis errors to [`ChatError`].

use chat_core::ChatError;

/// Why a [`RedisBackend`](crate::RedisBackend) could not start.
///
/// Failures after start-up are reported as [`ChatError`] instead (see
/// [`to_chat_error`]), or absorbed where a fallback exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisBackendError {
    /// `REDIS_INVALID_CONFIG`: a setting is out of range.
    #[error("invalid Redis configuration: {0}")]
    InvalidConfig(String),
    /// `REDIS_INVALID_URL`: the URL is not a valid Redis URL.
    #[error("invalid Redis URL")]
    InvalidUrl(#[source] redis::RedisError),
    /// `REDIS_CONNECT`: Redis could not be reached at start-up.
    #[error("cannot connect to Redis")]
    Connect(#[source] redis::RedisError),
}

impl RedisBackendError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidConfig(_) => "REDIS_INVALID_CONFIG",
            Self::InvalidUrl(_) => "REDIS_INVALID_URL",
            Self::Connect(_) => "REDIS_CONNECT",
        }
    }
}

/// Maps a Redis error to [`ChatError`]: I/O failures, timeouts, a closed
/// connection and a server that is loading or busy become
/// [`ChatError::StoreUnavailable`]; anything else is
/// [`ChatError::Internal`].
pub fn to_chat_error(e: redis::RedisError) -> ChatError {
    if is_unavailable(&e) {
        ChatError::StoreUnavailable(Box::new(e))
    } else {
        ChatError::internal(e)
    }
}

/// True when the error means Redis is out of reach rather than that the
/// command was wrong.
pub(crate) fn is_unavailable(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
        )
}
