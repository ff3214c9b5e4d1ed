use async_trait::async_trait;
use chat_core::model::{NewPasswordReset, ResetConsumption};
use chat_core::store::PasswordResetStore;
use chat_core::{Result, Timestamp, UserId};
use uuid::Uuid;

use crate::{SqliteStore, to_chat_error};

#[async_trait]
impl PasswordResetStore for SqliteStore {
    /// Stores a reset token.
    async fn create_password_reset(&self, reset: NewPasswordReset) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_reset_tokens \
                 (token_id, user_id, token_hash, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(reset.id.as_uuid())
        .bind(reset.user_id.as_uuid())
        .bind(&reset.token_hash)
        .bind(reset.created_at.as_millis())
        .bind(reset.expires_at.as_millis())
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
        // Read, decide, write under the write lock taken at BEGIN: no other
        // consumer can read the token between our read and our write.
        let mut tx = self.begin_write().await?;
        let token: Option<(Uuid, bool, i64)> = sqlx::query_as(
            "SELECT user_id, used, expires_at FROM password_reset_tokens WHERE token_hash = ?1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        let outcome = match token {
            None => ResetConsumption::Unknown,
            Some((_, true, _)) => ResetConsumption::AlreadyUsed,
            Some((_, false, expires_at)) if expires_at <= now.as_millis() => {
                ResetConsumption::Expired
            }
            Some((user_id, false, _)) => {
                sqlx::query(
                    "UPDATE password_reset_tokens SET used = 1 WHERE user_id = ?1 AND used = 0",
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
