use crate::ids::{PasswordResetId, RefreshTokenId, SessionId, UserId};
use crate::time::Timestamp;

/// A login session to create. A session lives from login to logout and
/// spans every refresh-token rotation in between; access tokens carry its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Session id (the `sid` claim).
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Free-form client description (User-Agent), truncated to 255 characters.
    pub device_info: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// When the session was revoked (logout, reset, reuse), if it was.
    pub revoked_at: Option<Timestamp>,
    /// Client description.
    pub device_info: Option<String>,
}

/// A refresh token to store. Only the SHA-256 of the token is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// Token id.
    pub id: RefreshTokenId,
    /// The session it refreshes.
    pub session_id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Hex SHA-256 of the opaque token.
    pub token_hash: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

/// A stored refresh token joined with its session's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// Token id.
    pub id: RefreshTokenId,
    /// Session it belongs to.
    pub session_id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry.
    pub expires_at: Timestamp,
    /// When it was exchanged for a successor, if it was.
    pub rotated_at: Option<Timestamp>,
    /// When its session was revoked, if it was.
    pub session_revoked_at: Option<Timestamp>,
}

/// A password reset token to store (hashed, like refresh tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasswordReset {
    /// Reset id.
    pub id: PasswordResetId,
    /// The account to reset.
    pub user_id: UserId,
    /// Hex SHA-256 of the emailed token.
    pub token_hash: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry (one hour after creation by default).
    pub expires_at: Timestamp,
}

/// Outcome of trying to use a password reset token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetConsumption {
    /// The token was valid and is now used; every other outstanding token of
    /// the user is spent too.
    Consumed(UserId),
    /// No token has that hash.
    Unknown,
    /// The token was used before.
    AlreadyUsed,
    /// The token is past its expiry.
    Expired,
}
