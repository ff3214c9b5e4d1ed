use async_trait::async_trait;
use chat_core::model::{NewPasswordReset, ResetConsumption};
use chat_core::store::PasswordResetStore;
use chat_core::{Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{PgStore, to_chat_error};

#[async_trait]
impl PasswordResetStore for PgStore {
    /// Stores a reset token.
    async fn create_password_reset(&self, reset: NewPasswordReset) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_reset_tokens \
                 (token_id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(reset.id.as_uuid())
        .bind(reset.user_id.as_uuid())
        .bind(&reset.token_hash)
        .bind(reset.created_at.as_datetime())
        .bind(reset.expires_at.as_datetime())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }

    /// Uses the token with this hash, atomically: at most one caller ever
    /// gets [`ResetConsumption::Consumed`] for a token. On success every
    /// other outstanding token of the same user is spent as well.
    async fn consume_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<ResetConsumption> {
        let mut tx = self.pool.begin().await.map_err(to_chat_error)?;
        // Consumers of the same user's tokens queue on the user's row, so
        // each one reads the tokens only after the previous one committed.
        // Locking just the presented token would not do: two consumers of
        // two different tokens would each lock their own, then wait for the
        // other's while spending the rest, and deadlock. NO KEY UPDATE does
        // not block inserts that reference the user (sessions, tokens).
        let user_id: Option<Uuid> = sqlx::query_scalar(
            "SELECT u.user_id FROM users u \
             JOIN password_reset_tokens r ON r.user_id = u.user_id \
             WHERE r.token_hash = $1 \
             FOR NO KEY UPDATE OF u",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        let Some(user_id) = user_id else {
            tx.rollback().await.map_err(to_chat_error)?;
            return Ok(ResetConsumption::Unknown);
        };
        // A new statement under READ COMMITTED sees every commit made before
        // the lock was granted, including an earlier consumer's; from here
        // on, read, decide and write exactly as the reference store does.
        let token: Option<(bool, DateTime<Utc>)> = sqlx::query_as(
            "SELECT used, expires_at FROM password_reset_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        let outcome = match token {
            None => ResetConsumption::Unknown,
            Some((true, _)) => ResetConsumption::AlreadyUsed,
            Some((false, expires_at)) if expires_at <= now.as_datetime() => {
                ResetConsumption::Expired
            }
            Some((false, _)) => {
                sqlx::query(
                    "UPDATE password_reset_tokens SET used = TRUE WHERE user_id = $1 AND NOT used",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(to_chat_error)?;
                ResetConsumption::Consumed(UserId::from_uuid(user_id))
            }
        };
        tx.commit().await.map_err(to_chat_error)?;
        Ok(outcome)
    }
}
