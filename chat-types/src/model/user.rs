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
    /// True for a bot account (created by an operator, authenticating with
    /// bot tokens; docs/api.md, "Bots").
    pub is_bot: bool,
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
    /// True for a bot account.
    pub is_bot: bool,
}

/// A user together with how they log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    /// The account.
    pub user: User,
    /// How the account proves who it is.
    pub credential: Credential,
}

/// How an account proves who it is at login.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A PHC-format argon2 hash of the account's password.
    Password(String),
    /// No password here: the embedding application authenticates the
    /// person and asks for their tokens (an account it provisioned). Login
    /// and password reset refuse it.
    External,
}

/// What stores keep in the `password_hash` column for
/// [`Credential::External`]: no PHC hash starts with `!`.
const EXTERNAL: &str = "!external";

impl Credential {
    /// The credential a store read from its `password_hash` column.
    pub fn from_stored(stored: String) -> Self {
        if stored == EXTERNAL {
            Self::External
        } else {
            Self::Password(stored)
        }
    }

    /// What a store writes in its `password_hash` column.
    pub fn as_stored(&self) -> &str {
        match self {
            Self::Password(hash) => hash,
            Self::External => EXTERNAL,
        }
    }

    /// The password hash, if the account has a password.
    pub fn password_hash(&self) -> Option<&str> {
        match self {
            Self::Password(hash) => Some(hash),
            Self::External => None,
        }
    }
}

impl std::fmt::Debug for Credential {
    // A hash is not a secret, but it has no business in a log either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password(..)"),
            Self::External => f.write_str("External"),
        }
    }
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
    /// How the account logs in.
    pub credential: Credential,
    /// True for a bot account (its credential is [`Credential::External`]).
    pub is_bot: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_survives_the_store_column() {
        for credential in [
            Credential::Password("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            Credential::External,
        ] {
            let stored = credential.as_stored().to_owned();
            assert_eq!(Credential::from_stored(stored), credential);
        }
        assert_eq!(Credential::External.password_hash(), None);
    }
}
