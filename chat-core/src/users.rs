//! [`UserService`]: profiles and user search. Profile updates go through
//! [`AuthService::update_account`](crate::AuthService::update_account),
//! because they may come with a password change.

use std::sync::Arc;

use crate::error::{ChatError, Result, ValidationError};
use crate::ids::UserId;
use crate::model::{User, UserSummary};
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
            return Err(ChatError::InvalidQuery(ValidationError::new(
                "q",
                "INVALID_QUERY",
                "the search query must be 1 to 100 characters",
            )));
        }
        self.users
            .search_users(&q.to_lowercase(), SEARCH_LIMIT)
            .await
    }
}
