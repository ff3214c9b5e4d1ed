//! The task that sweeps attachments: uploads never sent, and the bytes of
//! removed ones (`AttachmentService::sweep`).

use std::time::Duration;

use chat_core::ChatEngine;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the sweep runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Sweeps every [`SWEEP_INTERVAL`] (the first time at once) until
/// `shutdown` turns true. [`serve`](crate::serve) runs it; an application
/// that serves [`app`](crate::app) itself should too. Several instances
/// may run it at once.
pub fn spawn_sweeper(engine: ChatEngine, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
            sweep_all(&engine).await;
        }
    })
}

/// Sweep passes until one finds less than a batch of work.
async fn sweep_all(engine: &ChatEngine) {
    let attachments = engine.attachments();
    loop {
        match attachments.sweep().await {
            Ok(report) => {
                if report.abandoned + report.blobs_removed + report.blobs_failed > 0 {
                    tracing::info!(
                        abandoned = report.abandoned,
                        blobs_removed = report.blobs_removed,
                        blobs_failed = report.blobs_failed,
                        "swept attachments"
                    );
                }
                if !attachments.more_to_sweep(&report) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the attachment sweep failed; retrying later");
                return;
            }
        }
    }
}
