use serde::Serialize;

use crate::domain::{DisplayName, Email, Username};
use crate::ids::UserId;
use crate::time::Timestamp;

/// A user account as stored (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Username as entered at signup.
    pub username: String,
    /// Email address as entered.
    pub email: String,
    /// Optional display name.
    pub display_name: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// Last time the user was seen (login or activity), if ever.
    pub last_seen: Option<Timestamp>,
    /// False once the account is deactivated; inactive users cannot log in.
    pub is_active: bool,
}

/// The public view of a user, as returned by search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// Username.
    pub username: String,
    /// Display name, if set.
    pub display_name: Option<String>,
}

/// A user together with the password hash, for login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// PHC-format argon2 hash.
    pub password_hash: String,
}

/// A user to insert.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id chosen by the service.
    pub id: UserId,
    /// Validated username.
    pub username: Username,
    /// Validated email.
    pub email: Email,
    /// Optional display name.
    pub display_name: Option<DisplayName>,
    /// PHC-format argon2 hash.
    pub password_hash: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Changes to a profile; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New display name; `Some(None)` clears it.
    pub display_name: Option<Option<DisplayName>>,
    /// New email address.
    pub email: Option<Email>,
}

impl ProfileUpdate {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.email.is_none()
    }
}
