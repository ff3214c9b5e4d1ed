use std::collections::HashSet;

use async_trait::async_trait;
use chat_core::model::{
    Credential, NewUser, ProfileUpdate, User, UserCredentials, UserListQuery, UserSummary,
};
use chat_core::store::UserStore;
use chat_core::{ChatError, Result, Timestamp, UserId};
use sqlx::error::ErrorKind;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use crate::{SqliteStore, push_id_list, to_chat_error};

/// The columns [`UserRow`] reads, as a literal so queries stay `'static`.
macro_rules! user_columns {
    () => {
        "user_id, username, email, display_name, created_at, last_seen, is_active, is_bot"
    };
}

#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: Uuid,
    username: String,
    email: String,
    display_name: Option<String>,
    created_at: i64,
    last_seen: Option<i64>,
    is_active: bool,
    is_bot: bool,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId::from_uuid(row.user_id),
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            created_at: Timestamp::from_millis(row.created_at),
            last_seen: row.last_seen.map(Timestamp::from_millis),
            is_active: row.is_active,
            is_bot: row.is_bot,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl From<CredentialsRow> for UserCredentials {
    fn from(row: CredentialsRow) -> Self {
        UserCredentials {
            user: row.user.into(),
            credential: Credential::from_stored(row.password_hash),
        }
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    user_id: Uuid,
    username: String,
    display_name: Option<String>,
    is_bot: bool,
}

impl From<SummaryRow> for UserSummary {
    fn from(row: SummaryRow) -> Self {
        UserSummary {
            id: UserId::from_uuid(row.user_id),
            username: row.username,
            display_name: row.display_name,
            is_bot: row.is_bot,
        }
    }
}

/// How many ids one `user_summaries` query binds at most.
const SUMMARY_CHUNK: usize = 500;

/// Maps a unique violation on `users` to the error naming the taken field.
/// SQLite reports no constraint name, but its message names the column
/// (`UNIQUE constraint failed: users.email_key`).
fn user_error(e: sqlx::Error) -> ChatError {
    let unique_violation = e
        .as_database_error()
        .filter(|db| matches!(db.kind(), ErrorKind::UniqueViolation))
        .map(|db| db.message());
    match unique_violation {
        Some(message) if message.contains("users.username_key") => ChatError::UsernameTaken,
        Some(message) if message.contains("users.email_key") => ChatError::EmailTaken,
        _ => to_chat_error(e),
    }
}

/// A LIKE pattern matching strings that start with `prefix`, with `\` as the
/// escape character so `%`, `_` and `\` in the prefix match literally.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl UserStore for SqliteStore {
    /// Inserts a new account.
    async fn create_user(&self, new: NewUser) -> Result<User> {
        let display_name = new.display_name.as_ref().map(|d| d.as_str().to_owned());
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (user_id, username, username_key, email, email_key, \
                 display_name, display_name_key, password_hash, created_at, is_bot) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             RETURNING ",
            user_columns!()
        ))
        .bind(new.id.as_uuid())
        .bind(new.username.as_str())
        .bind(new.username.key())
        .bind(new.email.as_str())
        .bind(new.email.key())
        .bind(display_name)
        .bind(new.display_name.as_ref().map(|d| d.key()))
        .bind(new.credential.as_stored())
        .bind(new.created_at.as_millis())
        .bind(new.is_bot)
        .fetch_one(&self.pool)
        .await
        .map_err(user_error)?;
        Ok(row.into())
    }

    /// Fetches an account by id, active or not.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE user_id = ?1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(User::from))
    }

    /// Fetches an account and its password hash by case-folded username.
    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<UserCredentials>> {
        let row: Option<CredentialsRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE username_key = ?1"
        ))
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(UserCredentials::from))
    }

    /// Fetches an account and its password hash by case-folded email.
    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<UserCredentials>> {
        let row: Option<CredentialsRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE email_key = ?1"
        ))
        .bind(email_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(UserCredentials::from))
    }

    /// Fetches an account and its password hash by id.
    async fn credentials_by_id(&self, id: UserId) -> Result<Option<UserCredentials>> {
        let row: Option<CredentialsRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE user_id = ?1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(UserCredentials::from))
    }

    /// Applies a profile update and returns the updated account.
    async fn update_profile(&self, id: UserId, update: ProfileUpdate) -> Result<User> {
        if update.is_empty() {
            return self.user_by_id(id).await?.ok_or(ChatError::UserNotFound);
        }
        // One statement, so there is no read-then-write to make atomic: the
        // unique index refuses a taken email and leaves the row unchanged.
        let set_display_name = update.display_name.is_some();
        let display_name = update.display_name.flatten();
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET \
                 display_name = CASE WHEN ?2 THEN ?3 ELSE display_name END, \
                 display_name_key = CASE WHEN ?2 THEN ?4 ELSE display_name_key END, \
                 email = COALESCE(?5, email), \
                 email_key = COALESCE(?6, email_key) \
             WHERE user_id = ?1 \
             RETURNING ",
            user_columns!()
        ))
        .bind(id.as_uuid())
        .bind(set_display_name)
        .bind(display_name.as_ref().map(|d| d.as_str().to_owned()))
        .bind(display_name.as_ref().map(|d| d.key()))
        .bind(update.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(update.email.as_ref().map(|e| e.key()))
        .fetch_optional(&self.pool)
        .await
        .map_err(user_error)?;
        row.map(User::from).ok_or(ChatError::UserNotFound)
    }

    /// Replaces the password hash.
    async fn set_password_hash(&self, id: UserId, password_hash: String) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = ?2 WHERE user_id = ?1")
            .bind(id.as_uuid())
            .bind(password_hash)
            .execute(&self.pool)
            .await
            .map_err(to_chat_error)?;
        if done.rows_affected() == 0 {
            return Err(ChatError::UserNotFound);
        }
        Ok(())
    }

    async fn set_active(&self, id: UserId, active: bool) -> Result<()> {
        let done = sqlx::query("UPDATE users SET is_active = ?2 WHERE user_id = ?1")
            .bind(id.as_uuid())
            .bind(active)
            .execute(&self.pool)
            .await
            .map_err(to_chat_error)?;
        if done.rows_affected() == 0 {
            return Err(ChatError::UserNotFound);
        }
        Ok(())
    }

    /// Active users whose case-folded username or display name starts with
    /// `prefix_key` (already lowercase), ordered by username, at most `limit`.
    async fn search_users(&self, prefix_key: &str, limit: u32) -> Result<Vec<UserSummary>> {
        // SQLite's LIKE folds ASCII case; the keys and `prefix_key` are
        // lowercase, so that changes nothing (see the migration's indexes).
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT user_id, username, display_name, is_bot FROM users \
             WHERE is_active = 1 \
               AND (username_key LIKE ?1 ESCAPE '\\' OR display_name_key LIKE ?1 ESCAPE '\\') \
             ORDER BY username_key \
             LIMIT ?2",
        )
        .bind(prefix_pattern(prefix_key))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(UserSummary::from).collect())
    }

    /// Accounts for the admin API: those whose case-folded username,
    /// display name or email starts with the prefix (all when there is
    /// none), inactive ones only when asked, ordered by case-folded
    /// username (then id), skipping `offset`, at most `limit`.
    async fn list_users(&self, query: UserListQuery) -> Result<Vec<User>> {
        // The same escaped prefix LIKE as `search_users`, so `%` and `_`
        // match literally; the keys and the prefix are lowercase already.
        let pattern = query.prefix_key.as_deref().map(prefix_pattern);
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users \
              WHERE (?1 OR is_active = 1) \
                AND (?2 IS NULL OR username_key LIKE ?2 ESCAPE '\\' \
                     OR display_name_key LIKE ?2 ESCAPE '\\' \
                     OR email_key LIKE ?2 ESCAPE '\\') \
              ORDER BY username_key, user_id \
              LIMIT ?3 OFFSET ?4"
        ))
        .bind(query.include_inactive)
        .bind(pattern)
        .bind(i64::from(query.limit))
        .bind(i64::from(query.offset))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// The active users among `ids`, in no particular order; unknown and
    /// inactive ids are left out.
    async fn user_summaries(&self, ids: &[UserId]) -> Result<Vec<UserSummary>> {
        let mut seen = HashSet::new();
        let ids: Vec<Uuid> = ids
            .iter()
            .filter(|id| seen.insert(**id))
            .map(|id| id.as_uuid())
            .collect();
        let mut found = Vec::with_capacity(ids.len());
        // One `IN (?, ?, ...)` list per chunk, well under SQLite's limit on
        // bound parameters.
        for chunk in ids.chunks(SUMMARY_CHUNK) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT user_id, username, display_name, is_bot FROM users \
                 WHERE is_active = 1 AND user_id IN ",
            );
            push_id_list(&mut query, chunk.iter().copied());
            let rows: Vec<SummaryRow> = query
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(to_chat_error)?;
            found.extend(rows.into_iter().map(UserSummary::from));
        }
        Ok(found)
    }

    /// Records that the user was seen at `at` (never moves backwards).
    async fn touch_last_seen(&self, id: UserId, at: Timestamp) -> Result<()> {
        sqlx::query(
            "UPDATE users SET last_seen = ?2 \
             WHERE user_id = ?1 AND (last_seen IS NULL OR last_seen < ?2)",
        )
        .bind(id.as_uuid())
        .bind(at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns_escape_wildcards_and_the_escape_character() {
        assert_eq!(prefix_pattern("al"), "al%");
        assert_eq!(prefix_pattern("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(prefix_pattern(""), "%");
    }
}
