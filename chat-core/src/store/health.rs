use async_trait::async_trait;

use crate::error::Result;

/// Liveness of the backing database.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait StoreHealth: Send + Sync {
    /// Checks that the store answers a trivial query.
    ///
    /// # Errors
    /// `STORE_UNAVAILABLE` when it cannot be reached.
    async fn ping(&self) -> Result<()>;
}
