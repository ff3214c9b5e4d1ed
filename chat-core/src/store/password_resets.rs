use async_trait::async_trait;

use crate::error::Result;
use crate::model::{NewPasswordReset, ResetConsumption};
use crate::time::Timestamp;

/// Password reset tokens, stored hashed.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// Stores a reset token.
    async fn create_password_reset(&self, reset: NewPasswordReset) -> Result<()>;

    /// Uses the token with this hash, atomically: at most one caller ever
    /// gets [`ResetConsumption::Consumed`] for a token. On success every
    /// other outstanding token of the same user is spent as well.
    async fn consume_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<ResetConsumption>;
}
