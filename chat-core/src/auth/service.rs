//! [`AuthService`]: signup, login, sessions, refresh rotation and resets.

use std::sync::Arc;

use super::AuthConfig;
use super::password::PasswordHasher;
use super::revocation::RevocationList;
use super::secrets;
use super::tokens::TokenSigner;
use crate::domain::{DisplayName, Email, Password, Username};
use crate::error::{ChatError, Result};
use crate::ids::{PasswordResetId, RefreshTokenId, SessionId, UserId};
use crate::mailer::{Mailer, OutgoingMail};
use crate::model::{
    NewPasswordReset, NewRefreshToken, NewSession, NewUser, RefreshTokenRecord, ResetConsumption,
    User,
};
use crate::rate_limit::{RateDecision, RateLimiter};
use crate::realtime::{Event, EventBus, Notice};
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

/// The stored "password hash" of an account the application authenticates:
/// not a PHC string, so no password ever verifies against it.
const EXTERNAL_ACCOUNT: &str = "!external";

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

mod account;
mod liveness;

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

    /// [`signup`](Self::signup) on behalf of a network client (`client`:
    /// its address), at most
    /// [`signup_client_limit`](AuthConfig::signup_client_limit) times per
    /// window. Every attempt counts, refused or not, and the limit is
    /// checked before the password is hashed.
    ///
    /// # Errors
    /// `RATE_LIMITED` past the limit; then as [`signup`](Self::signup).
    pub async fn signup_from(
        &self,
        req: Signup,
        device_info: Option<&str>,
        client: &str,
    ) -> Result<TokenPair> {
        let limit = self.inner.config.signup_client_limit;
        if let RateDecision::Limited { retry_after } = self
            .inner
            .deps
            .limiter
            .hit(&format!("signup:{client}"), limit)
            .await?
        {
            return Err(ChatError::RateLimited { retry_after });
        }
        self.signup(req, device_info).await
    }

    /// Creates an account and logs it in (no limit: for the application's
    /// own code; network clients go through [`signup_from`](Self::signup_from)).
    ///
    /// # Errors
    /// `USERNAME_TAKEN`, `EMAIL_TAKEN`, store errors.
    pub async fn signup(&self, req: Signup, device_info: Option<&str>) -> Result<TokenPair> {
        let d = &self.inner.deps;
        // Cheap early answers for the common conflict; the unique
        // constraints in the store still decide races.
        if d.users
            .credentials_by_username(&req.username.key())
            .await?
            .is_some()
        {
            return Err(ChatError::UsernameTaken);
        }
        if d.users
            .credentials_by_email(&req.email.key())
            .await?
            .is_some()
        {
            return Err(ChatError::EmailTaken);
        }
        let password_hash = self.inner.hasher.hash(req.password.expose()).await?;
        let profile = ExternalUser {
            username: req.username,
            email: req.email,
            display_name: req.display_name,
        };
        let user = self.create_account(profile, password_hash).await?;
        tracing::info!(user_id = %user.id, "user signed up");
        self.start_session(user.id, device_info).await
    }

    /// The chat account of a person the embedding application has
    /// authenticated itself, created on first use.
    ///
    /// Such an account has no password: the built-in login, password change
    /// and password reset all refuse it, so only the application can start
    /// its sessions (with [`issue_tokens`](Self::issue_tokens)). A second
    /// call with the same username returns the same account, but only if it
    /// was provisioned: an account someone created with the built-in signup
    /// is never handed to the application's user (`USERNAME_TAKEN`).
    ///
    /// # Errors
    /// `USERNAME_TAKEN` (a signed-up account holds the username),
    /// `EMAIL_TAKEN`, store errors.
    pub async fn provision_user(&self, req: ExternalUser) -> Result<User> {
        let d = &self.inner.deps;
        if let Some(creds) = d.users.credentials_by_username(&req.username.key()).await? {
            return if creds.password_hash == EXTERNAL_ACCOUNT {
                Ok(creds.user)
            } else {
                Err(ChatError::UsernameTaken)
            };
        }
        let user = self
            .create_account(req, EXTERNAL_ACCOUNT.to_owned())
            .await?;
        tracing::info!(user_id = %user.id, "user provisioned by the application");
        Ok(user)
    }

    /// Stores a new account; the store's unique constraints settle races
    /// over the username and email.
    async fn create_account(&self, profile: ExternalUser, password_hash: String) -> Result<User> {
        let d = &self.inner.deps;
        d.users
            .create_user(NewUser {
                id: UserId::new(),
                username: profile.username,
                email: profile.email,
                display_name: profile.display_name,
                password_hash,
                created_at: d.clock.now(),
            })
            .await
    }

    /// Starts a session for an existing, active user without a password, as
    /// a login would: for an application that authenticates its people
    /// itself and hands them chat tokens.
    ///
    /// # Errors
    /// `USER_NOT_FOUND` for an unknown or deactivated user; store errors.
    pub async fn issue_tokens(
        &self,
        user_id: UserId,
        device_info: Option<&str>,
    ) -> Result<TokenPair> {
        let d = &self.inner.deps;
        match d.users.user_by_id(user_id).await? {
            Some(user) if user.is_active => {
                d.users.touch_last_seen(user.id, d.clock.now()).await?;
                self.start_session(user.id, device_info).await
            }
            _ => Err(ChatError::UserNotFound),
        }
    }

    /// Deactivates an account (an administrator's or the embedding
    /// application's decision, e.g. a deleted or banned user): it can no
    /// longer log in or be given tokens, every session is revoked at once
    /// (its tokens answer `SESSION_REVOKED` and its sockets close with
    /// 4001), and it leaves searches. Its messages stay in history.
    ///
    /// # Errors
    /// `USER_NOT_FOUND`; store errors.
    pub async fn deactivate_user(&self, user_id: UserId) -> Result<()> {
        self.inner.deps.users.set_active(user_id, false).await?;
        self.revoke_user_sessions(user_id, None).await?;
        tracing::info!(%user_id, "account deactivated; all sessions revoked");
        Ok(())
    }

    /// Reactivates an account [`deactivate_user`](Self::deactivate_user)
    /// turned off; it logs in again as before.
    ///
    /// # Errors
    /// `USER_NOT_FOUND`; store errors.
    pub async fn reactivate_user(&self, user_id: UserId) -> Result<()> {
        self.inner.deps.users.set_active(user_id, true).await
    }

    /// Logs in with a username or an email address.
    ///
    /// `client` identifies the caller for the failed-login limit (its IP).
    ///
    /// # Errors
    /// `RATE_LIMITED` after too many failures from `client`;
    /// `INVALID_CREDENTIALS` for an unknown login, a wrong password or an
    /// inactive account.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client: &str,
        device_info: Option<&str>,
    ) -> Result<TokenPair> {
        let d = &self.inner.deps;
        let limit_key = format!("login:{client}");
        let limit = self.inner.config.login_limit;
        if let RateDecision::Limited { retry_after } = d.limiter.peek(&limit_key, limit).await? {
            return Err(ChatError::RateLimited { retry_after });
        }
        let login = login.trim();
        let creds = if login.contains('@') {
            d.users.credentials_by_email(&login.to_lowercase()).await?
        } else {
            d.users
                .credentials_by_username(&login.to_ascii_lowercase())
                .await?
        };
        let hash = creds.as_ref().map(|c| c.password_hash.as_str());
        let verified = self.inner.hasher.verify(password, hash).await?;
        match creds {
            Some(c) if verified && c.user.is_active => {
                d.users.touch_last_seen(c.user.id, d.clock.now()).await?;
                self.start_session(c.user.id, device_info).await
            }
            _ => {
                d.limiter.hit(&limit_key, limit).await?;
                Err(ChatError::InvalidCredentials)
            }
        }
    }

    /// Ends the session the refresh token belongs to.
    ///
    /// # Errors
    /// `INVALID_REFRESH_TOKEN` for an unknown token.
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let record = self.find_refresh_token(refresh_token).await?;
        self.revoke_session(record.user_id, record.session_id)
            .await?;
        tracing::info!(user_id = %record.user_id, session_id = %record.session_id, "logged out");
        Ok(())
    }

    /// Exchanges a refresh token for a new pair, rotating the refresh token.
    ///
    /// Presenting a token that was already rotated away revokes the whole
    /// session, unless it happens within the grace window after the
    /// rotation (two concurrent refreshes by one client): then a further
    /// token is issued for the same session.
    ///
    /// # Errors
    /// `INVALID_REFRESH_TOKEN`, `REFRESH_TOKEN_EXPIRED`, `SESSION_REVOKED`,
    /// `REFRESH_TOKEN_REUSED`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let d = &self.inner.deps;
        let record = self.find_refresh_token(refresh_token).await?;
        let now = d.clock.now();
        if record.session_revoked_at.is_some() {
            return Err(ChatError::SessionRevoked);
        }
        if record.expires_at <= now {
            return Err(ChatError::RefreshTokenExpired);
        }
        let (secret, new) = self.new_refresh_token(record.user_id, record.session_id, now)?;
        if record.rotated_at.is_none()
            && d.sessions
                .rotate_refresh_token(record.id, now, new.clone())
                .await?
        {
            return self.issue_pair(record.user_id, record.session_id, secret, now);
        }
        // Rotated already: by this client a moment ago, or by a thief.
        let rotated_at = match record.rotated_at {
            Some(at) => at,
            None => match d
                .sessions
                .refresh_token_by_hash(&secrets::hash(refresh_token))
                .await?
            {
                Some(r) if r.session_revoked_at.is_some() => return Err(ChatError::SessionRevoked),
                Some(r) => r.rotated_at.unwrap_or(now),
                None => return Err(ChatError::InvalidRefreshToken),
            },
        };
        if now.since(rotated_at) <= self.inner.config.refresh_reuse_grace {
            if d.sessions.add_refresh_token(new).await? {
                return self.issue_pair(record.user_id, record.session_id, secret, now);
            }
            return Err(ChatError::SessionRevoked);
        }
        tracing::warn!(
            user_id = %record.user_id,
            session_id = %record.session_id,
            "refresh token reused after rotation; revoking the session"
        );
        self.revoke_session(record.user_id, record.session_id)
            .await?;
        Err(ChatError::RefreshTokenReused)
    }

    /// Verifies an access token: signature, expiry and revocation, with no
    /// store access.
    ///
    /// # Errors
    /// `INVALID_TOKEN`, `TOKEN_EXPIRED`, `SESSION_REVOKED`.
    pub fn authenticate(&self, access_token: &str) -> Result<AuthContext> {
        let claims = self
            .inner
            .tokens
            .verify(access_token, self.inner.deps.clock.now())?;
        if self.inner.revoked.is_revoked(claims.sid) {
            return Err(ChatError::SessionRevoked);
        }
        Ok(AuthContext {
            user_id: claims.sub,
            session_id: claims.sid,
            expires_at: Timestamp::from_unix_seconds(claims.exp),
        })
    }

    /// Starts a password reset: if an active account has this email, a
    /// single-use link is mailed to it. The answer, and the time it takes,
    /// are the same whether or not the account exists: the lookup and the
    /// mail happen in a background task. At most
    /// [`reset_email_limit`](AuthConfig::reset_email_limit) emails go to one
    /// address per window; further requests send nothing, silently.
    ///
    /// # Errors
    /// `RATE_LIMITED` past [`reset_client_limit`](AuthConfig::reset_client_limit)
    /// requests from `client`.
    pub async fn forgot_password(&self, email: &Email, client: &str) -> Result<()> {
        let limiter = &self.inner.deps.limiter;
        let per_client = self.inner.config.reset_client_limit;
        if let RateDecision::Limited { retry_after } =
            limiter.hit(&format!("reset:{client}"), per_client).await?
        {
            return Err(ChatError::RateLimited { retry_after });
        }
        let this = self.clone();
        let email = email.clone();
        tokio::spawn(async move {
            let per_email = this.inner.config.reset_email_limit;
            // Hashed: the limiter's keys (in Redis) should not list addresses.
            let key = format!("reset-email:{}", secrets::hash(&email.key()));
            match this.inner.deps.limiter.hit(&key, per_email).await {
                Ok(RateDecision::Allowed { .. }) => {}
                Ok(RateDecision::Limited { .. }) => {
                    tracing::info!(
                        "password reset emails to this address are over their limit; not sending"
                    );
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not count a password reset request");
                    return;
                }
            }
            if let Err(e) = this.send_reset_link(&email).await {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "could not send a password reset email");
            }
        });
        Ok(())
    }

    /// Sets a new password with a reset token and revokes every session of
    /// the user.
    ///
    /// # Errors
    /// `INVALID_RESET_TOKEN` for an unknown, used or expired token.
    pub async fn reset_password(&self, token: &str, new_password: &Password) -> Result<()> {
        let d = &self.inner.deps;
        let now = d.clock.now();
        let user_id = match d
            .resets
            .consume_password_reset(&secrets::hash(token), now)
            .await?
        {
            ResetConsumption::Consumed(user_id) => user_id,
            ResetConsumption::Unknown
            | ResetConsumption::AlreadyUsed
            | ResetConsumption::Expired => {
                return Err(ChatError::InvalidResetToken);
            }
        };
        let hash = self.inner.hasher.hash(new_password.expose()).await?;
        d.users.set_password_hash(user_id, hash).await?;
        self.revoke_user_sessions(user_id, None).await?;
        tracing::info!(%user_id, "password reset; all sessions revoked");
        Ok(())
    }

    /// Loads sessions revoked within the last access-token lifetime into
    /// the revocation set, so tokens logged out before a restart stay dead.
    ///
    /// # Errors
    /// Store errors.
    pub async fn restore_revocations(&self) -> Result<usize> {
        let now = self.inner.deps.clock.now();
        let ttl = self.inner.config.access_ttl;
        let ids = self
            .inner
            .deps
            .sessions
            .sessions_revoked_since(now.minus(ttl))
            .await?;
        for id in &ids {
            self.inner.revoked.revoke(*id, now.plus(ttl), now);
        }
        Ok(ids.len())
    }

    async fn start_session(&self, user_id: UserId, device_info: Option<&str>) -> Result<TokenPair> {
        let d = &self.inner.deps;
        let now = d.clock.now();
        let session_id = SessionId::new();
        let (secret, token) = self.new_refresh_token(user_id, session_id, now)?;
        let device_info = device_info.map(|s| s.chars().take(MAX_DEVICE_INFO).collect());
        d.sessions
            .create_session(
                NewSession {
                    id: session_id,
                    user_id,
                    created_at: now,
                    device_info,
                },
                token,
            )
            .await?;
        self.issue_pair(user_id, session_id, secret, now)
    }

    fn new_refresh_token(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: Timestamp,
    ) -> Result<(String, NewRefreshToken)> {
        let secret = secrets::generate()?;
        let token = NewRefreshToken {
            id: RefreshTokenId::new(),
            session_id,
            user_id,
            token_hash: secrets::hash(&secret),
            created_at: now,
            expires_at: now.plus(self.inner.config.refresh_ttl),
        };
        Ok((secret, token))
    }

    fn issue_pair(
        &self,
        user_id: UserId,
        session_id: SessionId,
        refresh_token: String,
        now: Timestamp,
    ) -> Result<TokenPair> {
        let (access_token, access_expires_at) =
            self.inner.tokens.issue(user_id, session_id, now)?;
        Ok(TokenPair {
            user_id,
            session_id,
            access_token,
            refresh_token,
            access_expires_at,
            expires_in: self.inner.tokens.ttl().as_secs(),
        })
    }

    async fn find_refresh_token(&self, refresh_token: &str) -> Result<RefreshTokenRecord> {
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(ChatError::InvalidRefreshToken);
        }
        self.inner
            .deps
            .sessions
            .refresh_token_by_hash(&secrets::hash(refresh_token))
            .await?
            .ok_or(ChatError::InvalidRefreshToken)
    }

    async fn revoke_session(&self, user_id: UserId, session_id: SessionId) -> Result<()> {
        let now = self.inner.deps.clock.now();
        self.inner
            .deps
            .sessions
            .revoke_session(session_id, now)
            .await?;
        self.mark_revoked(user_id, &[session_id], now).await;
        Ok(())
    }

    async fn revoke_user_sessions(&self, user_id: UserId, except: Option<SessionId>) -> Result<()> {
        let now = self.inner.deps.clock.now();
        let ids = self
            .inner
            .deps
            .sessions
            .revoke_user_sessions(user_id, except, now)
            .await?;
        self.mark_revoked(user_id, &ids, now).await;
        Ok(())
    }

    /// The one place sessions are revoked after the store recorded it:
    /// every instance adds them to its revocation set (this one before the
    /// announcement returns), and their live connections, wherever they
    /// are, close with code 4001.
    async fn mark_revoked(&self, user_id: UserId, ids: &[SessionId], now: Timestamp) {
        let until = now.plus(self.inner.config.access_ttl);
        let bus = &self.inner.deps.bus;
        for id in ids {
            // Directly, not only through the notice: the service must hold
            // its own revocations whatever handlers the bus has (the
            // engine's handler adds the same entry again, harmlessly).
            self.inner.revoked.revoke(*id, until, now);
            let notice = Notice::SessionRevoked {
                session_id: *id,
                until,
            };
            if let Err(e) = bus.announce(notice).await {
                // Other instances reload revocations from the store when
                // the bus comes back (a resync).
                tracing::warn!(error = %e, %user_id, "could not announce a session revocation");
            }
            if let Err(e) = bus.publish(&[user_id], Event::session_revoked(*id)).await {
                tracing::warn!(error = %e, %user_id, "could not close a revoked session's sockets");
            }
        }
    }

    /// Acts on an instance-wide notice: a session revoked on another
    /// instance joins this one's revocation set; after a resync the set is
    /// reloaded from the store.
    pub(crate) fn on_notice(&self, notice: &Notice) {
        match notice {
            Notice::SessionRevoked { session_id, until } => {
                let now = self.inner.deps.clock.now();
                self.inner.revoked.revoke(*session_id, *until, now);
            }
            Notice::Resync => {
                let auth = self.clone();
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(e) = auth.restore_revocations().await {
                            tracing::warn!(error = %e, "could not reload revoked sessions after a resync");
                        }
                    });
                }
            }
            Notice::MembersChanged { .. } => {}
        }
    }

    async fn send_reset_link(&self, email: &Email) -> Result<()> {
        let d = &self.inner.deps;
        let Some(creds) = d.users.credentials_by_email(&email.key()).await? else {
            tracing::info!("password reset requested for an unknown email");
            return Ok(());
        };
        if !creds.user.is_active || creds.password_hash == EXTERNAL_ACCOUNT {
            // The application that provisioned the account owns its login.
            return Ok(());
        }
        let now = d.clock.now();
        let secret = secrets::generate()?;
        d.resets
            .create_password_reset(NewPasswordReset {
                id: PasswordResetId::new(),
                user_id: creds.user.id,
                token_hash: secrets::hash(&secret),
                created_at: now,
                expires_at: now.plus(self.inner.config.reset_ttl),
            })
            .await?;
        let link = format!(
            "{}/#reset-token={secret}",
            self.inner.config.public_url.trim_end_matches('/')
        );
        let minutes = self.inner.config.reset_ttl.as_secs() / 60;
        d.mailer
            .send(OutgoingMail {
                to: creds.user.email.clone(),
                subject: "Reset your chat password".to_owned(),
                body: format!(
                    "Hello {},\n\nSomeone asked to reset the password of your account. \
                     To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
                     If it was not you, ignore this email; your password stays as it is.\n",
                    creds.user.username
                ),
            })
            .await?;
        tracing::info!(user_id = %creds.user.id, "password reset email sent");
        Ok(())
    }
}
