use async_trait::async_trait;
use chat_core::Result;
use chat_core::store::StoreHealth;

use crate::{PgStore, to_chat_error};

#[async_trait]
impl StoreHealth for PgStore {
    /// Checks that the store answers a trivial query.
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(to_chat_error)?;
        Ok(())
    }
}
