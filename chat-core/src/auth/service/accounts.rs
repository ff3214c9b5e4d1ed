//! Accounts: signup, provisioning by an embedding application, login,
//! deactivation, and changes to one's own account (profile, email,
//! password).
//!
//! An access token alone must not be enough to take an account over: a
//! new email would let its holder reset the password. So changing the
//! email, like the password, needs the current password; such changes
//! are counted per user
//! ([`AuthConfig::account_change_limit`](crate::auth::AuthConfig::account_change_limit)), so the
//! endpoint can neither guess passwords nor probe which emails are taken
//! in bulk; and the old address is told of a new one.

use super::{AuthContext, AuthService, ExternalUser, Signup, TokenPair};
use crate::domain::Password;
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::UserId;
use crate::mailer::OutgoingMail;
use crate::model::{Credential, NewUser, ProfileUpdate, User};
use crate::rate_limit::RateDecision;

impl AuthService {
    /// [`signup`](Self::signup) on behalf of a network client (`client`:
    /// its address), at most
    /// [`signup_client_limit`](crate::auth::AuthConfig::signup_client_limit) times per
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
        let user = self
            .create_account(profile, Credential::Password(password_hash), false)
            .await?;
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
            return if creds.credential == Credential::External {
                Ok(creds.user)
            } else {
                Err(ChatError::UsernameTaken)
            };
        }
        let user = self
            .create_account(req, Credential::External, false)
            .await?;
        tracing::info!(user_id = %user.id, "user provisioned by the application");
        Ok(user)
    }

    /// Stores a new account (a bot's when `is_bot`); the store's unique
    /// constraints settle races over the username and email.
    pub(super) async fn create_account(
        &self,
        profile: ExternalUser,
        credential: Credential,
        is_bot: bool,
    ) -> Result<User> {
        let d = &self.inner.deps;
        d.users
            .create_user(NewUser {
                id: UserId::new(),
                username: profile.username,
                email: profile.email,
                display_name: profile.display_name,
                credential,
                is_bot,
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
        // An account without a password (provisioned by the application)
        // is checked against the dummy hash, as an unknown user is: the
        // answer and its time are those of a wrong password.
        let hash = creds.as_ref().and_then(|c| c.credential.password_hash());
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
                .verify(current, creds.credential.password_hash())
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
