use async_trait::async_trait;

use crate::error::Result;
use crate::ids::UserId;
use crate::model::{NewUser, ProfileUpdate, User, UserCredentials, UserListQuery, UserSummary};
use crate::time::Timestamp;

/// User accounts.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a new account.
    ///
    /// # Errors
    /// `USERNAME_TAKEN` or `EMAIL_TAKEN` when the case-folded username or
    /// email already exists (enforced by a unique constraint).
    async fn create_user(&self, user: NewUser) -> Result<User>;

    /// Fetches an account by id, active or not.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;

    /// Fetches an account and its password hash by case-folded username.
    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<UserCredentials>>;

    /// Fetches an account and its password hash by case-folded email.
    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<UserCredentials>>;

    /// Fetches an account and its password hash by id.
    async fn credentials_by_id(&self, id: UserId) -> Result<Option<UserCredentials>>;

    /// Applies a profile update and returns the updated account.
    ///
    /// # Errors
    /// `USER_NOT_FOUND`; `EMAIL_TAKEN` when the new email belongs to another account.
    async fn update_profile(&self, id: UserId, update: ProfileUpdate) -> Result<User>;

    /// Replaces the password hash.
    ///
    /// # Errors
    /// `USER_NOT_FOUND`.
    async fn set_password_hash(&self, id: UserId, password_hash: String) -> Result<()>;

    /// Deactivates (`false`) or reactivates (`true`) an account. An
    /// inactive account cannot log in and is left out of searches and
    /// summaries; its messages stay.
    ///
    /// # Errors
    /// `USER_NOT_FOUND`.
    async fn set_active(&self, id: UserId, active: bool) -> Result<()>;

    /// Active users whose case-folded username or display name starts with
    /// `prefix_key` (already lowercase), ordered by username, at most `limit`.
    async fn search_users(&self, prefix_key: &str, limit: u32) -> Result<Vec<UserSummary>>;

    /// Accounts for the admin API, as [`UserListQuery`] says, ordered by
    /// case-folded username.
    async fn list_users(&self, query: UserListQuery) -> Result<Vec<User>>;

    /// The active users among `ids`, in no particular order; unknown and
    /// inactive ids are left out.
    async fn user_summaries(&self, ids: &[UserId]) -> Result<Vec<UserSummary>>;

    /// Records that the user was seen at `at` (never moves backwards).
    async fn touch_last_seen(&self, id: UserId, at: Timestamp) -> Result<()>;
}
