//! Builders for test records.

use std::time::Duration;

use crate::domain::{DisplayName, Email, Username};
use crate::ids::{PasswordResetId, RefreshTokenId, SessionId, UserId};
use crate::model::{NewPasswordReset, NewRefreshToken, NewSession, NewUser, User};
use crate::store::Store;
use crate::time::Timestamp;

/// A fixed point in time for tests (2026-01-08T10:30:00.123Z).
pub fn t0() -> Timestamp {
    Timestamp::from_millis(1_767_868_200_123)
}

/// `t0` plus `secs` seconds.
pub fn at(secs: u64) -> Timestamp {
    t0().plus(Duration::from_secs(secs))
}

/// A new user named `username` with email `{username}@example.com`.
///
/// # Panics
/// When `username` is not a valid username.
pub fn new_user(username: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        username: Username::parse(username).expect("valid username"),
        email: Email::parse(&format!("{username}@example.com")).expect("valid email"),
        display_name: None,
        password_hash: format!("hash-of-{username}"),
        created_at: t0(),
    }
}

/// Like [`new_user`] with a display name.
pub fn new_user_named(username: &str, display_name: &str) -> NewUser {
    NewUser {
        display_name: Some(DisplayName::parse(display_name).expect("valid display name")),
        ..new_user(username)
    }
}

/// Inserts a user and returns it.
pub async fn create_user(store: &dyn Store, username: &str) -> User {
    store
        .create_user(new_user(username))
        .await
        .expect("create user")
}

/// A refresh token record for `session` with the given hash, valid 7 days.
pub fn refresh_token(user: UserId, session: SessionId, hash: &str) -> NewRefreshToken {
    NewRefreshToken {
        id: RefreshTokenId::new(),
        session_id: session,
        user_id: user,
        token_hash: hash.to_owned(),
        created_at: t0(),
        expires_at: at(7 * 24 * 3600),
    }
}

/// Creates a session for `user` with a first token hashed as `hash`.
pub async fn create_session(store: &dyn Store, user: UserId, hash: &str) -> SessionId {
    let id = SessionId::new();
    store
        .create_session(
            NewSession {
                id,
                user_id: user,
                created_at: t0(),
                device_info: Some("test-device".to_owned()),
            },
            refresh_token(user, id, hash),
        )
        .await
        .expect("create session");
    id
}

/// A reset token for `user` hashed as `hash`, expiring at `t0 + 1h`.
pub fn password_reset(user: UserId, hash: &str) -> NewPasswordReset {
    NewPasswordReset {
        id: PasswordResetId::new(),
        user_id: user,
        token_hash: hash.to_owned(),
        created_at: t0(),
        expires_at: at(3600),
    }
}
