//! Conformance cases for [`StoreHealth`](crate::store::StoreHealth).

use std::sync::Arc;

use crate::store::Store;

/// A reachable store answers `ping`.
pub async fn health_ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}
