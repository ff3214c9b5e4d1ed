//! [`AuthService`]: signup, login, sessions, refresh rotation and resets.

use std::sync::Arc;

use super::AuthConfig;
use super::password::PasswordHasher;
use super::revocation::RevocationList;
use super::tokens::TokenSigner;
use crate::domain::{DisplayName, Email, Password, Username};
use crate::error::Result;
use crate::ids::{SessionId, UserId};
use crate::mailer::Mailer;
use crate::rate_limit::RateLimiter;
use crate::realtime::EventBus;
use crate::store::{PasswordResetStore, SessionStore, UserStore};
use crate::time::{Clock, Timestamp};

/// A validated signup request.
#[derive(Debug, Clone)]
pub struct Signup {
    /// Username.
    pub username: Username,
    /// Email.
    pub email: Email,
    /// Password meeting the rules.
    pub password: Password,
    /// Optional display name.
    pub display_name: Option<DisplayName>,
}

/// A person the embedding application has authenticated itself, to be
/// given a chat account (see [`AuthService::provision_user`]).
#[derive(Debug, Clone)]
pub struct ExternalUser {
    /// Username shown in chat (and the key [`AuthService::provision_user`]
    /// finds the account by).
    pub username: Username,
    /// Email.
    pub email: Email,
    /// Optional display name.
    pub display_name: Option<DisplayName>,
}

/// Tokens handed to a client after signup, login or refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The authenticated user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// JWT access token.
    pub access_token: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Access token expiry.
    pub access_expires_at: Timestamp,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// Who a verified access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthContext {
    /// The user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// When the presented access token expires.
    pub expires_at: Timestamp,
}

mod accounts;
mod bots;
mod liveness;
mod password_reset;
mod sessions;

pub use bots::{BOT_TOKEN_PREFIX, BOT_TOKEN_TTL, BotToken};

/// The stores and helpers [`AuthService`] is built from.
pub(crate) struct AuthDeps {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub resets: Arc<dyn PasswordResetStore>,
    pub mailer: Arc<dyn Mailer>,
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: Arc<dyn Clock>,
    /// Where revocations are announced, so live connections close.
    pub bus: Arc<dyn EventBus>,
}

/// Authentication service. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    deps: AuthDeps,
    hasher: PasswordHasher,
    tokens: TokenSigner,
    revoked: RevocationList,
    config: AuthConfig,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Longest device description kept with a session.
const MAX_DEVICE_INFO: usize = 255;

impl AuthService {
    /// Builds the service.
    ///
    /// # Errors
    /// `INVALID_CONFIG` for a short JWT secret or bad argon2 parameters.
    pub(crate) fn new(deps: AuthDeps, config: AuthConfig, jwt_secret: &[u8]) -> Result<Self> {
        let hasher = PasswordHasher::new(config.argon2, config.max_concurrent_hashes)?;
        let tokens = TokenSigner::new(jwt_secret, config.access_ttl)?;
        Ok(Self {
            inner: Arc::new(Inner {
                deps,
                hasher,
                tokens,
                revoked: RevocationList::new(),
                config,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The password hasher (shared with anything else that hashes).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }
}
