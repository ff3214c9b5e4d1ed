//! Changes to one's own account: profile, email and password.
//!
//! An access token alone must not be enough to take an account over: a
//! new email would let its holder reset the password. So changing the
//! email, like the password, needs the current password; such changes
//! are counted per user ([`AuthConfig::account_change_limit`]), so the
//! endpoint can neither guess passwords nor probe which emails are taken
//! in bulk; and the old address is told of a new one.
//!
//! [`AuthConfig::account_change_limit`]: crate::auth::AuthConfig::account_change_limit

use super::{AuthContext, AuthService};
use crate::domain::Password;
use crate::error::{ChatError, Result, ValidationError};
use crate::mailer::OutgoingMail;
use crate::model::{ProfileUpdate, User};
use crate::rate_limit::RateDecision;

impl AuthService {
    /// Updates the caller's profile and, optionally, email and password,
    /// all or nothing as far as the caller can cause: everything that can
    /// be refused (the limit, the current password, then the profile's own
    /// checks such as a taken email) is settled before anything is
    /// written. A new email or password needs `current_password`. A
    /// password change revokes every other session of the user; an email
    /// change is mailed to the old address.
    ///
    /// # Errors
    /// `CURRENT_PASSWORD_REQUIRED` (validation), `INVALID_CURRENT_PASSWORD`,
    /// `RATE_LIMITED`, `EMAIL_TAKEN`, `USER_NOT_FOUND`.
    pub async fn update_account(
        &self,
        ctx: &AuthContext,
        profile: ProfileUpdate,
        current_password: Option<&str>,
        new_password: Option<&Password>,
    ) -> Result<User> {
        let d = &self.inner.deps;
        let creds = d
            .users
            .credentials_by_id(ctx.user_id)
            .await?
            .filter(|c| c.user.is_active)
            .ok_or(ChatError::UserNotFound)?;
        let old_email = creds.user.email.clone();
        let new_email = profile
            .email
            .as_ref()
            .filter(|e| e.key() != old_email.to_lowercase())
            .map(|e| e.as_str().to_owned());
        if new_email.is_some() || new_password.is_some() {
            let limit = self.inner.config.account_change_limit;
            let key = format!("account-change:{}", ctx.user_id);
            if let RateDecision::Limited { retry_after } = d.limiter.hit(&key, limit).await? {
                return Err(ChatError::RateLimited { retry_after });
            }
            let current = current_password.ok_or_else(|| {
                ValidationError::new(
                    "current_password",
                    "CURRENT_PASSWORD_REQUIRED",
                    "changing the email or the password requires the current password",
                )
            })?;
            if !self
                .inner
                .hasher
                .verify(current, Some(&creds.password_hash))
                .await?
            {
                return Err(ChatError::InvalidCurrentPassword);
            }
        }
        let new_hash = match new_password {
            Some(p) => Some(self.inner.hasher.hash(p.expose()).await?),
            None => None,
        };
        let user = if profile.is_empty() {
            creds.user
        } else {
            d.users.update_profile(ctx.user_id, profile).await?
        };
        if let Some(hash) = new_hash {
            d.users.set_password_hash(ctx.user_id, hash).await?;
            self.revoke_user_sessions(ctx.user_id, Some(ctx.session_id))
                .await?;
        }
        if let Some(new_email) = new_email {
            self.tell_old_address(old_email, &new_email, &user.username);
        }
        Ok(user)
    }

    /// Mails the old address that the account's email changed, in the
    /// background (the change is made; a slow mail server must not hold
    /// the answer).
    fn tell_old_address(&self, old_email: String, new_email: &str, username: &str) {
        let mail = OutgoingMail {
            to: old_email,
            subject: "Your chat account's email address was changed".to_owned(),
            body: format!(
                "Hello {username},\n\nThe email address of your account was changed to {new_email}. \
                 Password reset links now go there.\n\n\
                 If it was not you, reset your password now, and contact the service's operators.\n"
            ),
        };
        let mailer = self.inner.deps.mailer.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(mail).await {
                tracing::error!(error = %e, "could not tell the old address of an email change");
            }
        });
    }
}
