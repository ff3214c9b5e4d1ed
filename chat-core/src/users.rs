//! [`UserService`]: profiles and user search.

use std::sync::Arc;

use crate::domain::{DisplayName, Email};
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::UserId;
use crate::model::{ProfileUpdate, User, UserSummary};
use crate::store::UserStore;

/// Results returned by one search, at most.
pub const SEARCH_LIMIT: u32 = 20;
/// Longest accepted search query, in characters.
pub const MAX_QUERY_LEN: usize = 100;

/// Reads and updates user profiles.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserStore>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl UserService {
    /// A service over `users`.
    pub fn new(users: Arc<dyn UserStore>) -> Self {
        Self { users }
    }

    /// An active user's profile.
    ///
    /// # Errors
    /// `USER_NOT_FOUND` when there is no such active user.
    pub async fn profile(&self, id: UserId) -> Result<User> {
        match self.users.user_by_id(id).await? {
            Some(u) if u.is_active => Ok(u),
            _ => Err(ChatError::UserNotFound),
        }
    }

    /// Active users whose username or display name starts with `query`
    /// (case-insensitive), at most [`SEARCH_LIMIT`].
    ///
    /// # Errors
    /// `INVALID_QUERY` when the query is blank or longer than 100 characters.
    pub async fn search(&self, query: &str) -> Result<Vec<UserSummary>> {
        let q = query.trim();
        if q.is_empty() || q.chars().count() > MAX_QUERY_LEN || q.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "q",
                "INVALID_QUERY",
                "the search query must be 1 to 100 characters",
            )
            .into());
        }
        self.users
            .search_users(&q.to_lowercase(), SEARCH_LIMIT)
            .await
    }

    /// Updates the caller's display name and/or email.
    ///
    /// # Errors
    /// `EMAIL_TAKEN`, `USER_NOT_FOUND`.
    pub async fn update_profile(
        &self,
        id: UserId,
        display_name: Option<Option<DisplayName>>,
        email: Option<Email>,
    ) -> Result<User> {
        let update = ProfileUpdate {
            display_name,
            email,
        };
        if update.is_empty() {
            return self.profile(id).await;
        }
        self.users.update_profile(id, update).await
    }
}
