//! The loop every background worker over [`DueWork`] runs (the push
//! notifier, the webhook dispatcher): claim a batch of due keys, handle
//! them concurrently, and again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{JoinHandle, JoinSet};

use super::{DueWork, WorkKind};
use crate::error::Result;
use crate::log_throttle::{Throttle, WARN_INTERVAL, cause};

/// How a worker claims its keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claims {
    /// Which keys.
    pub(crate) kind: WorkKind,
    /// How long a key's first mark must wait before it is claimed.
    pub(crate) settle: Duration,
    /// How long a claim lasts.
    pub(crate) lease: Duration,
    /// Keys claimed, and handled concurrently, per round.
    pub(crate) batch: usize,
}

/// How long after a failure (the store out of reach) a key is handled
/// again: soon, rather than when its lease runs out.
pub(crate) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// One round: claims up to `claims.batch` keys and runs `handle` on each
/// concurrently, waiting for all. A handler releases its key when it is
/// done. A key whose handling fails is logged and marked due again, then
/// released after [`RETRY_AFTER_FAILURE`] (the round does not wait for
/// that), so any instance retries it then. Returns how many keys were
/// claimed.
///
/// # Errors
/// The claim's.
pub(crate) async fn round<H, F>(due: &Arc<dyn DueWork>, claims: Claims, handle: H) -> Result<usize>
where
    H: Fn(String) -> F,
    F: Future<Output = Result<()>> + Send + 'static,
{
    let keys = due
        .claim_due(claims.kind, claims.settle, claims.lease, claims.batch)
        .await?;
    let claimed = keys.len();
    let mut tasks = JoinSet::new();
    for key in keys {
        let work = handle(key.clone());
        let due = due.clone();
        tasks.spawn(async move {
            if let Err(e) = work.await {
                static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
                if let Some(held_back) = THROTTLE.check() {
                    tracing::warn!(error = %cause(&e), kind = claims.kind.as_str(), %key, held_back, "background work failed; retried in a second");
                }
                tokio::spawn(retry_later(due, claims.kind, key));
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(claimed)
}

/// Marks a failed key due again and releases it after
/// [`RETRY_AFTER_FAILURE`]. If the backend is out of reach for that too,
/// the claim's lease runs out instead.
async fn retry_later(due: Arc<dyn DueWork>, kind: WorkKind, key: String) {
    tokio::time::sleep(RETRY_AFTER_FAILURE).await;
    let again = std::slice::from_ref(&key);
    if due.mark_due(kind, again).await.is_ok() {
        let _ = due.release(kind, &key).await;
    }
}

/// Runs `next_round` until the runtime stops: again at once after a full
/// round (`batch` keys), after `poll` otherwise, and after at least a
/// second when claiming failed (the backend is out of reach).
pub(crate) fn spawn_loop<R, F>(
    kind: WorkKind,
    poll: Duration,
    batch: usize,
    next_round: R,
) -> JoinHandle<()>
where
    R: Fn() -> F + Send + 'static,
    F: Future<Output = Result<usize>> + Send,
{
    tokio::spawn(async move {
        loop {
            match next_round().await {
                Ok(n) if n >= batch => continue,
                Ok(_) => tokio::time::sleep(poll).await,
                Err(e) => {
                    static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
                    if let Some(held_back) = THROTTLE.check() {
                        tracing::warn!(error = %cause(&e), kind = kind.as_str(), held_back, "cannot claim background work");
                    }
                    tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ChatError;
    use crate::memory::MemoryDueWork;

    #[tokio::test]
    async fn a_failed_key_is_claimable_again_soon_not_after_its_lease() {
        let due: Arc<dyn DueWork> = Arc::new(MemoryDueWork::new());
        let claims = Claims {
            kind: WorkKind::Webhooks,
            settle: Duration::ZERO,
            lease: Duration::from_secs(3600),
            batch: 10,
        };
        let key = "k".to_owned();
        due.mark_due(claims.kind, std::slice::from_ref(&key))
            .await
            .expect("mark");
        let claimed = round(&due, claims, |_| async {
            Err(ChatError::internal("the store is down"))
        })
        .await
        .expect("round");
        assert_eq!(claimed, 1);
        let held = due
            .claim_due(claims.kind, Duration::ZERO, claims.lease, 10)
            .await
            .expect("claim");
        assert!(held.is_empty(), "held until the retry");
        tokio::time::sleep(RETRY_AFTER_FAILURE + Duration::from_millis(300)).await;
        let again = due
            .claim_due(claims.kind, Duration::ZERO, claims.lease, 10)
            .await
            .expect("claim");
        assert_eq!(again, [key], "well before the hour-long lease");
    }
}
