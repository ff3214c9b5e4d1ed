//! The loop every background worker over [`DueWork`] runs (the push
//! notifier, the webhook dispatcher): claim a batch of due keys, handle
//! them concurrently, and again.

use std::future::Future;
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

/// One round: claims up to `claims.batch` keys and runs `handle` on each
/// concurrently, waiting for all. A key whose handling fails is logged and
/// left claimed: it is handled again once its lease runs out. Returns how
/// many keys were claimed.
///
/// # Errors
/// The claim's.
pub(crate) async fn round<H, F>(due: &dyn DueWork, claims: Claims, handle: H) -> Result<usize>
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
        tasks.spawn(async move {
            if let Err(e) = work.await {
                static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
                if let Some(held_back) = THROTTLE.check() {
                    tracing::warn!(error = %cause(&e), kind = claims.kind.as_str(), %key, held_back, "background work failed; retried when its claim runs out");
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(claimed)
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
