use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{RefreshTokenId, SessionId, UserId};
use crate::model::{NewRefreshToken, NewSession, RefreshTokenRecord, Session};
use crate::time::Timestamp;

/// Login sessions and their refresh tokens.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session together with its first refresh token, atomically.
    async fn create_session(&self, session: NewSession, token: NewRefreshToken) -> Result<()>;

    /// Fetches a session by id.
    async fn session(&self, id: SessionId) -> Result<Option<Session>>;

    /// Finds a refresh token by the hash of its value.
    async fn refresh_token_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>>;

    /// Marks `old` as rotated at `at` and inserts `new`, atomically, but only
    /// if `old` had not been rotated and its session is not revoked.
    ///
    /// Returns `false`, changing nothing, when another caller rotated `old`
    /// first or the session was revoked meanwhile.
    async fn rotate_refresh_token(
        &self,
        old: RefreshTokenId,
        at: Timestamp,
        new: NewRefreshToken,
    ) -> Result<bool>;

    /// Adds a further refresh token to a live session (used in the grace
    /// window after a rotation). Returns `false` when the session is revoked.
    async fn add_refresh_token(&self, token: NewRefreshToken) -> Result<bool>;

    /// Revokes a session. Returns `false` when it was already revoked or
    /// does not exist.
    async fn revoke_session(&self, id: SessionId, at: Timestamp) -> Result<bool>;

    /// Revokes every live session of a user except `except`, returning the
    /// ids it revoked.
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
        at: Timestamp,
    ) -> Result<Vec<SessionId>>;

    /// Sessions revoked at or after `since`, so a restarted instance can
    /// refuse access tokens that are still within their lifetime.
    async fn sessions_revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>>;
}
