//! Password reset: single-use, expiring links mailed to the account's
//! address, and the reset that ends every session.

use super::AuthService;
use crate::auth::secrets;
use crate::domain::{Email, Password};
use crate::error::{ChatError, Result};
use crate::ids::PasswordResetId;
use crate::mailer::OutgoingMail;
use crate::model::{Credential, NewPasswordReset, ResetConsumption};
use crate::rate_limit::RateDecision;

impl AuthService {
    /// Starts a password reset: if an active account has this email, a
    /// single-use link is mailed to it. The answer, and the time it takes,
    /// are the same whether or not the account exists: the lookup and the
    /// mail happen in a background task. At most
    /// [`reset_email_limit`](crate::auth::AuthConfig::reset_email_limit) emails go to one
    /// address per window; further requests send nothing, silently.
    ///
    /// # Errors
    /// `RATE_LIMITED` past [`reset_client_limit`](crate::auth::AuthConfig::reset_client_limit)
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

    pub(super) async fn send_reset_link(&self, email: &Email) -> Result<()> {
        let d = &self.inner.deps;
        let Some(creds) = d.users.credentials_by_email(&email.key()).await? else {
            tracing::info!("password reset requested for an unknown email");
            return Ok(());
        };
        if !creds.user.is_active || creds.credential == Credential::External {
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
