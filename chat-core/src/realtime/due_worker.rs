//! The loop every background worker over [`DueWork`] runs (the push
//! notifier, the webhook dispatcher): claim due keys, handle them
//! concurrently, renewing each claim while its key is handled.
//!
//! The loop keeps up to a batch of keys in hand and claims more as soon as
//! any is done, so one slow key (a webhook receiver being retried for
//! half a minute) holds one slot, never the others.

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
    /// How long a claim lasts unless renewed; it is renewed every third
    /// of it while its key is handled.
    pub(crate) lease: Duration,
    /// Keys claimed, and handled concurrently, at most.
    pub(crate) batch: usize,
}

/// How long after a failure (the store out of reach) a key is handled
/// again: soon, rather than when its lease runs out.
pub(crate) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// One round: claims up to `claims.batch` keys and runs `handle` on each
/// concurrently, waiting for all (what tests and embedders that drive the
/// workers themselves call). Returns how many keys were claimed.
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
        tasks.spawn(handle_claimed(
            due.clone(),
            claims,
            key.clone(),
            handle(key),
        ));
    }
    while tasks.join_next().await.is_some() {}
    Ok(claimed)
}

/// Runs `work` on a claimed key, renewing the claim every third of its
/// lease until the work is done, so no other worker takes the key over
/// however long the work takes. A key whose handling fails is logged and
/// marked due again, then released after [`RETRY_AFTER_FAILURE`] (without
/// waiting for that here), so any instance retries it then. The work
/// releases its key itself when it succeeds.
async fn handle_claimed<F>(due: Arc<dyn DueWork>, claims: Claims, key: String, work: F)
where
    F: Future<Output = Result<()>>,
{
    let every = (claims.lease / 3).max(Duration::from_millis(10));
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut work = std::pin::pin!(work);
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = renewals.tick() => {
                if let Err(e) = due.renew(claims.kind, &key, claims.lease).await {
                    static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
                    if let Some(held_back) = THROTTLE.check() {
                        tracing::warn!(error = %cause(&e), kind = claims.kind.as_str(), %key, held_back, "cannot renew a claim; another worker may take the key over when it runs out");
                    }
                }
            }
        }
    };
    if let Err(e) = outcome {
        static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
        if let Some(held_back) = THROTTLE.check() {
            tracing::warn!(error = %cause(&e), kind = claims.kind.as_str(), %key, held_back, "background work failed; retried in a second");
        }
        tokio::spawn(retry_later(due, claims.kind, key));
    }
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

/// Handles due keys until the runtime stops: up to `claims.batch` at
/// once, each as soon as it is claimed. With every slot busy it claims
/// again as soon as one frees up; otherwise after `poll` (nothing more was
/// due), or at least a second after a failed claim (the backend is out of
/// reach). Dropping the loop (aborting its handle) drops the work in hand;
/// its claims run out and other workers take the keys over.
pub(crate) fn spawn_loop<H, F>(
    due: Arc<dyn DueWork>,
    claims: Claims,
    poll: Duration,
    handle: H,
) -> JoinHandle<()>
where
    H: Fn(String) -> F + Send + 'static,
    F: Future<Output = Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        let batch = claims.batch.max(1);
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let free = batch.saturating_sub(running.len());
            match due
                .claim_due(claims.kind, claims.settle, claims.lease, free)
                .await
            {
                Ok(keys) => {
                    for key in keys {
                        running.spawn(handle_claimed(
                            due.clone(),
                            claims,
                            key.clone(),
                            handle(key),
                        ));
                    }
                }
                Err(e) => {
                    static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
                    if let Some(held_back) = THROTTLE.check() {
                        tracing::warn!(error = %cause(&e), kind = claims.kind.as_str(), held_back, "cannot claim background work");
                    }
                    tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                    continue;
                }
            }
            if running.len() >= batch {
                running.join_next().await;
            } else {
                tokio::time::sleep(poll).await;
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
