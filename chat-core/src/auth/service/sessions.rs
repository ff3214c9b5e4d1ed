//! Sessions: tokens issued at login, refresh-token rotation, logout,
//! access-token checks, and revocations announced to every instance.

use super::{AuthContext, AuthService, MAX_DEVICE_INFO, TokenPair};
use crate::auth::secrets;
use crate::error::{ChatError, Result};
use crate::ids::{RefreshTokenId, SessionId, UserId};
use crate::model::{NewRefreshToken, NewSession, RefreshTokenRecord};
use crate::realtime::{Event, Notice};
use crate::time::Timestamp;

impl AuthService {
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
        if refresh_token.starts_with(super::BOT_TOKEN_PREFIX) {
            // A bot token is used as it is; refreshing would rotate it away.
            return Err(ChatError::InvalidRefreshToken);
        }
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

    pub(super) async fn start_session(
        &self,
        user_id: UserId,
        device_info: Option<&str>,
    ) -> Result<TokenPair> {
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

    pub(super) fn new_refresh_token(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: Timestamp,
    ) -> Result<(String, NewRefreshToken)> {
        let secret = secrets::generate()?;
        let token = refresh_record(
            user_id,
            session_id,
            &secret,
            now,
            self.inner.config.refresh_ttl,
        );
        Ok((secret, token))
    }

    pub(super) fn issue_pair(
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

    pub(super) async fn find_refresh_token(
        &self,
        refresh_token: &str,
    ) -> Result<RefreshTokenRecord> {
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

    pub(super) async fn revoke_session(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<()> {
        let now = self.inner.deps.clock.now();
        self.inner
            .deps
            .sessions
            .revoke_session(session_id, now)
            .await?;
        self.mark_revoked(user_id, &[session_id], now).await;
        Ok(())
    }

    /// Revokes every session of `user_id` (an operator's decision): each
    /// access token answers `SESSION_REVOKED` from now on, on every
    /// instance, and its sockets close with 4001. The account stays
    /// active and can log in again.
    ///
    /// # Errors
    /// Store failures.
    pub async fn revoke_all_sessions(&self, user_id: UserId) -> Result<()> {
        self.revoke_user_sessions(user_id, None).await?;
        tracing::info!(%user_id, "all sessions revoked");
        Ok(())
    }

    pub(super) async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<()> {
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
    pub(super) async fn mark_revoked(&self, user_id: UserId, ids: &[SessionId], now: Timestamp) {
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
            Notice::MembersChanged { .. }
            | Notice::BlocksChanged { .. }
            | Notice::WebhooksChanged => {}
        }
    }
}

/// The stored record of refresh token `secret` (only its hash is kept),
/// valid for `ttl` from `now`. Bot tokens are such records that never
/// rotate.
pub(super) fn refresh_record(
    user_id: UserId,
    session_id: SessionId,
    secret: &str,
    now: Timestamp,
    ttl: std::time::Duration,
) -> NewRefreshToken {
    NewRefreshToken {
        id: RefreshTokenId::new(),
        session_id,
        user_id,
        token_hash: secrets::hash(secret),
        created_at: now,
        expires_at: now.plus(ttl),
    }
}
