//! Bot tokens: long-lived bearer tokens for automated accounts (docs/api.md,
//! "Bots").
//!
//! A bot is an account without a password (provisioned, like an
//! embedding application's accounts) that holds bot tokens. Each token is
//! a session of its own whose one refresh token never rotates: the token
//! is presented where an access token goes, and is checked against the
//! store on every request (its hash, its session's revocation), so
//! revoking the session (`DELETE /admin/users/{id}/sessions`, or
//! deactivating the account) stops it at once, on every instance.

use std::time::Duration;

use super::sessions::refresh_record;
use super::{AuthContext, AuthService, ExternalUser, MAX_DEVICE_INFO};
use crate::auth::secrets;
use crate::domain::{DisplayName, Email, Username};
use crate::error::{ChatError, Result};
use crate::ids::{SessionId, UserId};
use crate::model::{Credential, NewSession, User};

/// What every bot token starts with, so a transport tells it from an
/// access token at a glance.
pub const BOT_TOKEN_PREFIX: &str = "cbt_";

/// How long a bot token lasts unless revoked (ten years).
pub const BOT_TOKEN_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A bot token, shown once: only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken {
    /// The bot.
    pub user_id: UserId,
    /// The token's session: revoking it revokes the token.
    pub session_id: SessionId,
    /// The bearer token (`cbt_...`).
    pub token: String,
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// Creates a bot account (no password; its email is
    /// `{username}@bots.invalid`) and its first token.
    ///
    /// # Errors
    /// `USERNAME_TAKEN`; store errors.
    pub async fn create_bot(
        &self,
        username: Username,
        display_name: Option<DisplayName>,
    ) -> Result<(User, BotToken)> {
        let d = &self.inner.deps;
        if d.users
            .credentials_by_username(&username.key())
            .await?
            .is_some()
        {
            return Err(ChatError::UsernameTaken);
        }
        let email = Email::parse(&format!("{}@bots.invalid", username.key()))?;
        let user = self
            .create_account(
                ExternalUser {
                    username,
                    email,
                    display_name,
                },
                Credential::External,
                true,
            )
            .await?;
        let token = self.issue_bot_token(user.id, "first token").await?;
        tracing::info!(user_id = %user.id, "bot created");
        Ok((user, token))
    }

    /// A new token for an existing bot (to rotate tokens without a gap:
    /// issue one, deploy it, revoke the old session).
    ///
    /// # Errors
    /// `USER_NOT_FOUND` for an unknown or deactivated account, or one that
    /// logs in with a password (a person's: never given a bot token).
    pub async fn issue_bot_token(&self, user: UserId, name: &str) -> Result<BotToken> {
        let d = &self.inner.deps;
        let creds = d
            .users
            .credentials_by_id(user)
            .await?
            .filter(|c| c.user.is_active && c.credential == Credential::External)
            .ok_or(ChatError::UserNotFound)?;
        let now = d.clock.now();
        let session_id = SessionId::new();
        let secret = secrets::generate()?;
        let token = format!("{BOT_TOKEN_PREFIX}{secret}");
        let device_info = format!("bot token: {name}")
            .chars()
            .take(MAX_DEVICE_INFO)
            .collect();
        d.sessions
            .create_session(
                NewSession {
                    id: session_id,
                    user_id: creds.user.id,
                    created_at: now,
                    device_info: Some(device_info),
                },
                refresh_record(creds.user.id, session_id, &token, now, BOT_TOKEN_TTL),
            )
            .await?;
        Ok(BotToken {
            user_id: creds.user.id,
            session_id,
            token,
        })
    }

    /// Authenticates a bot token: a known, unexpired token of a session
    /// that was not revoked (the store's word, and this instance's
    /// revocation set).
    pub(super) async fn authenticate_bot(&self, token: &str) -> Result<AuthContext> {
        let d = &self.inner.deps;
        let record = d
            .sessions
            .refresh_token_by_hash(&secrets::hash(token))
            .await?
            .filter(|r| r.rotated_at.is_none())
            .ok_or(ChatError::InvalidToken)?;
        if record.session_revoked_at.is_some() || self.inner.revoked.is_revoked(record.session_id) {
            return Err(ChatError::SessionRevoked);
        }
        if record.expires_at <= d.clock.now() {
            return Err(ChatError::TokenExpired);
        }
        Ok(AuthContext {
            user_id: record.user_id,
            session_id: record.session_id,
            expires_at: record.expires_at,
        })
    }
}
