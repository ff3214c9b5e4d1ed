//! Whether a session is still live when this instance may have missed
//! the announcement of its revocation.
//!
//! Revocations reach every instance through the event bus; each keeps
//! them in its revocation set, so [`AuthService::authenticate`] needs no
//! store access. While the bus is cut off (Redis out of reach), a logout
//! on another instance is not heard here. Then tokens are checked
//! against the store instead: at the WebSocket upgrade, on each REST
//! request, on each WebSocket send, and on each socket once per ping
//! interval; and when the link returns, every socket checks its session
//! once more (docs/security.md, "Tokens and sessions").

use super::{AuthContext, AuthService};
use crate::error::{ChatError, Result};
use crate::ids::SessionId;

impl AuthService {
    /// Whether revocations announced elsewhere may have been missed: the
    /// bus is cut off from the other instances.
    pub fn is_cut_off(&self) -> bool {
        !self.inner.deps.bus.is_linked()
    }

    /// [`authenticate`](AuthService::authenticate), then, while this
    /// instance is cut off from the others, the session's revocation in
    /// the store: what a transport calls for every request that presents
    /// an access token. A bot token (`cbt_...`) is checked in the store.
    ///
    /// # Errors
    /// As `authenticate`; `SESSION_REVOKED` from the store; store errors.
    pub async fn authenticate_live(&self, access_token: &str) -> Result<AuthContext> {
        if access_token.starts_with(super::BOT_TOKEN_PREFIX) {
            // Checked in the store every time, cut off or not.
            return self.authenticate_bot(access_token).await;
        }
        let ctx = self.authenticate(access_token)?;
        self.check_live_if_cut_off(&ctx).await?;
        Ok(ctx)
    }

    /// Checks `ctx`'s session against the store while this instance is
    /// cut off from the others; does nothing (no store access) otherwise.
    ///
    /// # Errors
    /// `SESSION_REVOKED` when the store says the session was revoked (it
    /// also joins this instance's revocation set); store errors.
    pub async fn check_live_if_cut_off(&self, ctx: &AuthContext) -> Result<()> {
        if self.is_cut_off() {
            self.check_live_in_store(ctx.session_id).await
        } else {
            Ok(())
        }
    }

    /// Checks a session against the store, whatever the bus says.
    ///
    /// # Errors
    /// `SESSION_REVOKED` when the session was revoked or is unknown (it
    /// also joins this instance's revocation set); store errors.
    pub async fn check_live_in_store(&self, session_id: SessionId) -> Result<()> {
        let session = self.inner.deps.sessions.session(session_id).await?;
        if session.is_some_and(|s| s.revoked_at.is_none()) {
            return Ok(());
        }
        let now = self.inner.deps.clock.now();
        self.inner
            .revoked
            .revoke(session_id, now.plus(self.inner.config.access_ttl), now);
        Err(ChatError::SessionRevoked)
    }
}
