//! [`BackgroundRuntime`]: a thread of its own, at a lower scheduling
//! priority, for outgoing HTTP that no user waits on, and
//! [`OnBackground`], which sends a [`Pusher`]'s pushes or a
//! [`WebhookSender`]'s posts there (the server runs one thread,
//! `chat-outbound`, for both).
//!
//! On the request runtime those posts competed with the message path for
//! its two worker threads: with a webhook following 1,000 messages a
//! second on 2 cores, message p99 went from about 4 ms to about 12 ms,
//! though the server's CPU barely grew (docs/benchmarks.md, "Webhooks").
//! Run on this thread instead, at nice 10 on Linux, the kernel gives the
//! message path the CPU first, and the posts take what is left.
//!
//! Only the sends run here (a push's encryption too; their connections,
//! TLS and DNS belong to this runtime); store reads and writes stay on
//! the caller's runtime, so no database connection is ever driven by this
//! lower-priority thread, and so do checks made while someone waits (a
//! subscription or webhook being registered).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::Result;
use chat_core::model::{NewPushSubscription, PushSubscription};
use chat_core::push::{PushOutcome, PushRequest, Pusher};
use chat_core::webhooks::{Delivery, DeliveryOutcome, WebhookSender};
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// How much lower than the process the thread runs (Linux `nice`).
const NICENESS: i32 = 10;

/// A current-thread runtime on a thread of its own; it stops when the last
/// clone is dropped (what runs on it then is dropped too).
#[derive(Debug, Clone)]
pub struct BackgroundRuntime {
    handle: Handle,
    _stop: Arc<oneshot::Sender<()>>,
}

impl BackgroundRuntime {
    /// Starts the thread, named `name`, at a lower priority where the
    /// platform lets a thread have its own (Linux); elsewhere at the
    /// process's.
    ///
    /// # Errors
    /// The thread or its runtime could not be started.
    pub fn start(name: &str) -> std::io::Result<Self> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                lower_priority();
                let runtime = match Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                // Until every clone is gone (the sender is dropped).
                runtime.block_on(async {
                    let _ = stop_rx.await;
                });
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| std::io::Error::other("the background thread ended at start"))??;
        Ok(Self {
            handle,
            _stop: Arc::new(stop_tx),
        })
    }

    /// Runs `work` on the background thread and waits for it; `None` when
    /// it could not finish there (the runtime is stopping, or it panicked).
    pub async fn run<F>(&self, work: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(work).await.ok()
    }
}

/// Why a send that could not run is tried again later.
const STOPPING: &str = "the outgoing HTTP thread is stopping";

/// A [`Pusher`] or [`WebhookSender`] whose sends run on a
/// [`BackgroundRuntime`]; everything else it does runs where it is called.
#[derive(Debug, Clone)]
pub struct OnBackground<T> {
    inner: Arc<T>,
    runtime: BackgroundRuntime,
}

impl<T> OnBackground<T> {
    /// `inner`, sending on `runtime`.
    pub fn new(inner: T, runtime: BackgroundRuntime) -> Self {
        Self {
            inner: Arc::new(inner),
            runtime,
        }
    }
}

#[async_trait]
impl<T: Pusher + 'static> Pusher for OnBackground<T> {
    fn public_key(&self) -> Option<String> {
        self.inner.public_key()
    }

    async fn check(&self, subscription: &NewPushSubscription) -> Result<()> {
        self.inner.check(subscription).await
    }

    async fn send(&self, subscription: &PushSubscription, push: &PushRequest) -> PushOutcome {
        let (inner, subscription, push) = (self.inner.clone(), subscription.clone(), push.clone());
        self.runtime
            .run(async move { inner.send(&subscription, &push).await })
            .await
            .unwrap_or_else(|| PushOutcome::Retry {
                after: None,
                reason: STOPPING.to_owned(),
            })
    }
}

#[async_trait]
impl<T: WebhookSender + 'static> WebhookSender for OnBackground<T> {
    async fn check(&self, url: &str) -> Result<()> {
        self.inner.check(url).await
    }

    async fn post(&self, url: &str, delivery: &Delivery) -> DeliveryOutcome {
        let (inner, url, delivery) = (self.inner.clone(), url.to_owned(), delivery.clone());
        self.runtime
            .run(async move { inner.post(&url, &delivery).await })
            .await
            .unwrap_or_else(|| DeliveryOutcome::Retry {
                after: None,
                reason: STOPPING.to_owned(),
            })
    }
}

/// Lowers the calling thread's priority: on Linux `setpriority` with
/// `PRIO_PROCESS` and no pid acts on the calling thread alone.
#[cfg(target_os = "linux")]
fn lower_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, NICENESS) {
        tracing::debug!(error = %e, "cannot lower the background thread's priority");
    }
}

/// Elsewhere the same call would lower the whole process: left alone.
#[cfg(not(target_os = "linux"))]
fn lower_priority() {
    let _ = NICENESS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_named_thread_until_the_last_clone_goes() {
        let background = BackgroundRuntime::start("chat-test-bg").expect("start");
        let name = background
            .run(async { std::thread::current().name().map(str::to_owned) })
            .await
            .expect("ran");
        assert_eq!(name.as_deref(), Some("chat-test-bg"));
        let handle = background.handle.clone();
        let clone = background.clone();
        drop(background);
        assert_eq!(clone.run(async { 1 }).await, Some(1), "a clone keeps it");
        drop(clone);
        // The runtime shuts down once the thread sees the stop.
        let mut stopped = false;
        for _ in 0..200 {
            if handle.spawn(async {}).await.is_err() {
                stopped = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(stopped, "the runtime stops when the last clone is dropped");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_thread_runs_at_a_lower_priority_and_the_caller_does_not() {
        let before = rustix::process::getpriority_process(None).expect("priority");
        let background = BackgroundRuntime::start("chat-test-nice").expect("start");
        let inside = background
            .run(async { rustix::process::getpriority_process(None).expect("priority") })
            .await
            .expect("ran");
        assert_eq!(inside, (before + NICENESS).min(19));
        assert_eq!(
            rustix::process::getpriority_process(None).expect("priority"),
            before
        );
    }
}
