//! The schedule ([`Plan`]), the shared [`Counters`], and the sender's two
//! tasks: the writer (the open-loop schedule) and the reader
//! (`message.sent`, `error`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chat_client::{ServerFrame, UserId, WsReceiver, WsSender, frames};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::report;
use crate::verify::IndexSet;

/// The schedule every pair follows, and the measurement window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// Time zero of every timestamp in message contents.
    pub(super) epoch: Instant,
    /// Pairs.
    pub(super) pairs: usize,
    /// Time between two messages of one sender.
    pub(super) period: Duration,
    /// Messages scheduled before this are warm-up: sent and checked, not
    /// measured.
    pub(super) warmup: Duration,
    /// No message is scheduled at or after this.
    pub(super) end: Duration,
}

impl Plan {
    /// When (since the epoch) message `k` of pair `pair` is due. Senders
    /// are staggered evenly over one period.
    pub(super) fn due(&self, pair: usize, k: u64) -> Duration {
        let offset = self.period.mul_f64(pair as f64 / self.pairs as f64);
        offset + self.period.mul_f64(k as f64)
    }

    /// Whether `t` (since the epoch) is in the measurement window.
    pub(super) fn measured(&self, t: Duration) -> bool {
        t >= self.warmup && t < self.end
    }

    /// Now, since the epoch.
    pub(super) fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.epoch)
    }
}

/// Totals shared by every task, for progress and for the drain.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) sent: AtomicU64,
    pub(super) acked: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) sent_in_window: AtomicU64,
    pub(super) acked_in_window: AtomicU64,
    pub(super) delivered_in_window: AtomicU64,
}

/// What a sender's writer did.
#[derive(Debug)]
pub(super) struct WriterResult {
    pub(super) sent: u64,
    /// How late each send left, against its schedule.
    pub(super) lag: Histogram<u64>,
    pub(super) error: Option<String>,
}

/// Sends pair `pair`'s messages on schedule until the plan ends, never
/// waiting for answers. Content is `t=<nanos due since the epoch>;i=<k>`,
/// the `client_msg_id` `<prefix>-<pair>-<k>`.
pub(super) async fn write(
    mut tx: WsSender,
    plan: Plan,
    pair: usize,
    to: UserId,
    prefix: String,
    padding: String,
    counters: Arc<Counters>,
) -> (WsSender, WriterResult) {
    let mut result = WriterResult {
        sent: 0,
        lag: report::histogram(),
        error: None,
    };
    for k in 0.. {
        let due = plan.due(pair, k);
        if due >= plan.end {
            break;
        }
        tokio::time::sleep_until(plan.epoch + due).await;
        report::record(&mut result.lag, plan.now().saturating_sub(due));
        let content = format!("t={};i={k}{padding}", due.as_nanos());
        let id = format!("{prefix}-{pair}-{k}");
        if let Err(e) = tx.send(&frames::send_direct(to, &content, Some(&id))).await {
            result.error = Some(format!("{}: {e}", e.code()));
            break;
        }
        result.sent += 1;
        counters.sent.fetch_add(1, Ordering::Relaxed);
        if plan.measured(due) {
            counters.sent_in_window.fetch_add(1, Ordering::Relaxed);
        }
    }
    (tx, result)
}

/// What a sender's reader saw.
#[derive(Debug)]
pub(super) struct SenderResult {
    /// Indexes the server acknowledged with `message.sent`.
    pub(super) acked: IndexSet,
    /// Those acknowledged before the cut-off: their `message.new` must
    /// have arrived by the end.
    pub(super) settled: IndexSet,
    pub(super) duplicate_acks: u64,
    /// Error frames by code.
    pub(super) errors: BTreeMap<String, u64>,
    /// Due time to `message.sent`.
    pub(super) ack_latency: Histogram<u64>,
    /// `message.delivered` receipts.
    pub(super) receipts: u64,
    pub(super) other_frames: u64,
    pub(super) ended: Option<String>,
}

/// Reads the sender's connection until `stop`; at `cutoff`, notes which
/// messages were acknowledged so far.
pub(super) async fn read_sender(
    mut rx: WsReceiver,
    plan: Plan,
    pair: usize,
    counters: Arc<Counters>,
    mut cutoff: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> SenderResult {
    let mut cut = false;
    let mut r = SenderResult {
        acked: IndexSet::default(),
        settled: IndexSet::default(),
        duplicate_acks: 0,
        errors: BTreeMap::new(),
        ack_latency: report::histogram(),
        receipts: 0,
        other_frames: 0,
        ended: None,
    };
    loop {
        let frame = tokio::select! {
            frame = rx.next() => frame,
            _ = cutoff.changed(), if !cut => {
                cut = true;
                r.settled = r.acked.clone();
                continue;
            }
            _ = stop.changed() => break,
        };
        match frame {
            Ok(Some(ServerFrame::MessageSent(sent))) => {
                let Some(k) = sent.client_msg_id.as_deref().and_then(index_of) else {
                    r.other_frames += 1;
                    continue;
                };
                if !r.acked.insert(k) {
                    r.duplicate_acks += 1;
                    continue;
                }
                counters.acked.fetch_add(1, Ordering::Relaxed);
                let (due, now) = (plan.due(pair, k), plan.now());
                if plan.measured(due) {
                    report::record(&mut r.ack_latency, now.saturating_sub(due));
                }
                if plan.measured(now) {
                    counters.acked_in_window.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(ServerFrame::Error(e))) => {
                *r.errors.entry(e.code).or_default() += 1;
                if e.client_msg_id.is_some() {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(ServerFrame::Delivered(_))) => r.receipts += 1,
            Ok(Some(_)) => r.other_frames += 1,
            Err(chat_client::ClientError::Decode(_)) => r.other_frames += 1,
            Ok(None) => {
                r.ended = Some("closed by the server".to_owned());
                break;
            }
            Err(e) => {
                r.ended = Some(format!("{}: {e}", e.code()));
                break;
            }
        }
    }
    if !cut {
        r.settled = r.acked.clone();
    }
    r
}

/// The index `k` of a `client_msg_id` `<prefix>-<pair>-<k>`.
fn index_of(client_msg_id: &str) -> Option<u64> {
    client_msg_id.rsplit('-').next()?.parse().ok()
}

/// The due time and index of a content `t=<nanos>;i=<k>[;pad]`.
pub(super) fn parse_content(content: &str) -> Option<(Duration, u64)> {
    let mut parts = content.split(';');
    let t: u64 = parts.next()?.strip_prefix("t=")?.parse().ok()?;
    let k = parts.next()?.strip_prefix("i=")?.parse().ok()?;
    Some((Duration::from_nanos(t), k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_ids_round_trip() {
        assert_eq!(
            parse_content("t=1500;i=42;p=xxxx"),
            Some((Duration::from_nanos(1500), 42))
        );
        assert_eq!(parse_content("hello"), None);
        assert_eq!(index_of("bab12cd-3-17"), Some(17));
        assert_eq!(index_of("nope"), None);
    }

    #[test]
    fn senders_are_staggered_within_a_period() {
        let plan = Plan {
            epoch: Instant::now(),
            pairs: 4,
            period: Duration::from_millis(100),
            warmup: Duration::from_secs(1),
            end: Duration::from_secs(3),
        };
        assert_eq!(plan.due(0, 0), Duration::ZERO);
        assert_eq!(plan.due(2, 0), Duration::from_millis(50));
        assert_eq!(plan.due(1, 10), Duration::from_millis(1025));
        assert!(!plan.measured(Duration::from_millis(999)));
        assert!(plan.measured(Duration::from_secs(1)));
        assert!(!plan.measured(Duration::from_secs(3)));
    }
}
