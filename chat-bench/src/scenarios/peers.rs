//! What the scenarios that send on a schedule (`direct`, `group`) share:
//! the schedule ([`Plan`]), the shared [`Counters`], and a sender's two
//! tasks, the writer (the open-loop schedule) and the reader
//! (`message.sent`, `error`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use chat_client::{ClientFrame, ConversationId, ServerFrame, UserId, WsReceiver, WsSender, frames};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::report::{self, Output, RssSample};
use crate::verify::IndexSet;

/// The schedule every sender follows, and the measurement window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Time zero of every timestamp in message contents.
    pub(crate) epoch: Instant,
    /// Senders, each on its own schedule.
    pub(crate) senders: usize,
    /// Time between two messages of one sender.
    pub(crate) period: Duration,
    /// Messages scheduled before this are warm-up: sent and checked, not
    /// measured.
    pub(crate) warmup: Duration,
    /// No message is scheduled at or after this.
    pub(crate) end: Duration,
}

impl Plan {
    /// `senders` senders sharing `rate` messages per second, `warmup`
    /// seconds then `duration` measured ones, starting shortly.
    pub(crate) fn new(senders: usize, rate: f64, warmup: u64, duration: u64) -> Self {
        Self {
            epoch: Instant::now() + Duration::from_millis(300),
            senders,
            period: Duration::from_secs_f64(senders as f64 / rate),
            warmup: Duration::from_secs(warmup),
            end: Duration::from_secs(warmup + duration),
        }
    }

    /// The most messages one sender sends.
    pub(crate) fn per_sender(&self) -> u64 {
        (self.end.as_secs_f64() / self.period.as_secs_f64()).ceil() as u64 + 1
    }

    /// When (since the epoch) message `k` of sender `sender` is due.
    /// Senders are staggered evenly over one period.
    pub(crate) fn due(&self, sender: usize, k: u64) -> Duration {
        let offset = self.period.mul_f64(sender as f64 / self.senders as f64);
        offset + self.period.mul_f64(k as f64)
    }

    /// Whether `t` (since the epoch) is in the measurement window.
    pub(crate) fn measured(&self, t: Duration) -> bool {
        t >= self.warmup && t < self.end
    }

    /// Now, since the epoch.
    pub(crate) fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.epoch)
    }
}

/// Time between the cut-off (messages acknowledged so far must be
/// delivered) and the end of reading.
const CUTOFF_GRACE: Duration = Duration::from_secs(2);

/// Totals shared by every task, for progress and for the drain.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) sent_in_window: AtomicU64,
    pub(crate) acked_in_window: AtomicU64,
    pub(crate) delivered_in_window: AtomicU64,
}

/// What became of the messages sent, all senders together.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct SendTotals {
    pub(crate) sent: u64,
    pub(crate) acked: u64,
    pub(crate) refused: u64,
    /// Sent, but neither acknowledged nor refused before the drain ended.
    pub(crate) unanswered: u64,
}

impl SendTotals {
    /// Whether some message was refused or never answered.
    pub(crate) fn incomplete(&self) -> bool {
        self.refused > 0 || self.unanswered > 0
    }

    /// `sent / acked / refused / unanswered`, for a table.
    pub(crate) fn cell(&self) -> String {
        format!(
            "{} / {} / {} / {}",
            self.sent, self.acked, self.refused, self.unanswered
        )
    }
}

impl Counters {
    /// The totals so far.
    pub(crate) fn totals(&self) -> SendTotals {
        let sent = self.sent.load(Ordering::Relaxed);
        let acked = self.acked.load(Ordering::Relaxed);
        let refused = self.refused.load(Ordering::Relaxed);
        SendTotals {
            sent,
            acked,
            refused,
            unanswered: sent.saturating_sub(acked + refused),
        }
    }
}

/// What a sender's writer did.
#[derive(Debug)]
pub(crate) struct WriterResult {
    pub(crate) sent: u64,
    /// How late each send left, against its schedule.
    pub(crate) lag: Histogram<u64>,
    pub(crate) error: Option<String>,
}

/// Where a sender's messages go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// `message.send` to this user.
    Direct(UserId),
    /// `message.group.send` to this group.
    Group(ConversationId),
}

impl Target {
    fn frame(self, content: &str, client_msg_id: &str) -> ClientFrame {
        match self {
            Self::Direct(to) => frames::send_direct(to, content, Some(client_msg_id)),
            Self::Group(group) => frames::send_group(group, content, Some(client_msg_id)),
        }
    }
}

/// Sends sender `sender`'s messages on schedule until the plan ends, never
/// waiting for answers. Content is `t=<nanos due since the epoch>;i=<k>`,
/// the `client_msg_id` `<prefix>-<sender>-<k>`.
pub(crate) async fn write(
    mut tx: WsSender,
    plan: Plan,
    sender: usize,
    to: Target,
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
        let due = plan.due(sender, k);
        if due >= plan.end {
            break;
        }
        tokio::time::sleep_until(plan.epoch + due).await;
        report::record(&mut result.lag, plan.now().saturating_sub(due));
        let content = format!("t={};i={k}{padding}", due.as_nanos());
        let id = format!("{prefix}-{sender}-{k}");
        if let Err(e) = tx.send(&to.frame(&content, &id)).await {
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
pub(crate) struct SenderResult {
    /// Indexes the server acknowledged with `message.sent`.
    pub(crate) acked: IndexSet,
    /// Those acknowledged before the cut-off: their `message.new` must
    /// have arrived by the end.
    pub(crate) settled: IndexSet,
    pub(crate) duplicate_acks: u64,
    /// Error frames by code.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Due time to `message.sent`.
    pub(crate) ack_latency: Histogram<u64>,
    /// `message.delivered` receipts.
    pub(crate) receipts: u64,
    pub(crate) other_frames: u64,
    pub(crate) ended: Option<String>,
}

/// Reads the sender's connection until `stop`; at `cutoff`, notes which
/// messages were acknowledged so far.
pub(crate) async fn read_sender(
    mut rx: WsReceiver,
    plan: Plan,
    sender: usize,
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
                let (due, now) = (plan.due(sender, k), plan.now());
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

/// What the writers left behind.
pub(crate) struct Written {
    /// How late the sends left, all writers together.
    pub(crate) lag: Histogram<u64>,
    /// The sending halves, to close once reading is over.
    pub(crate) halves: Vec<WsSender>,
    /// Why writers stopped early, by reason.
    pub(crate) ended: BTreeMap<String, u64>,
}

/// Waits for every writer to finish its schedule.
///
/// # Errors
/// When a writer task panicked.
pub(crate) async fn join_writers(
    writers: Vec<JoinHandle<(WsSender, WriterResult)>>,
) -> anyhow::Result<Written> {
    let mut w = Written {
        lag: report::histogram(),
        halves: Vec::with_capacity(writers.len()),
        ended: BTreeMap::new(),
    };
    for writer in writers {
        let (tx, result) = writer.await.context("a sender task failed")?;
        report::merge(&mut w.lag, &result.lag);
        if let Some(e) = result.error {
            *w.ended.entry(format!("sender: {e}")).or_default() += 1;
        }
        w.halves.push(tx);
    }
    Ok(w)
}

/// Once sending is over: drains (see [`drain`]), samples the servers,
/// then moves the cut-off (what is acknowledged now was fanned out before
/// its acknowledgement, so it must arrive within the grace period even
/// when the drain gave up on a server still working through a backlog)
/// and finally stops the readers. Returns the servers' samples.
pub(crate) async fn settle(
    counters: &Counters,
    fanout: u64,
    limit: Duration,
    out: &Output,
    cutoff: &watch::Sender<bool>,
    stop: &watch::Sender<bool>,
) -> Vec<RssSample> {
    drain(counters, fanout, limit, out).await;
    let after = out.sample_servers();
    let _ = cutoff.send(true);
    tokio::time::sleep(CUTOFF_GRACE).await;
    let _ = stop.send(true);
    after
}

/// Waits until every message sent was answered and every acknowledged one
/// delivered (`fanout` deliveries each), or `limit` passed.
async fn drain(c: &Counters, fanout: u64, limit: Duration, out: &Output) {
    let started = Instant::now();
    loop {
        let sent = c.sent.load(Ordering::Relaxed);
        let acked = c.acked.load(Ordering::Relaxed);
        let answered = acked + c.refused.load(Ordering::Relaxed);
        let delivered = c.delivered.load(Ordering::Relaxed);
        if answered >= sent && delivered >= acked * fanout {
            // A little longer, so that late duplicates are seen too.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        }
        if started.elapsed() >= limit {
            out.progress(&format!(
                "drain: gave up after {limit:?}: {} unanswered, {} deliveries of acknowledged messages missing",
                sent.saturating_sub(answered),
                (acked * fanout).saturating_sub(delivered)
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Prints totals every second.
pub(crate) async fn print_progress(c: Arc<Counters>, plan: Plan) {
    tokio::time::sleep_until(plan.epoch).await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let phase = if plan.now() < plan.warmup {
            "warm-up"
        } else if plan.now() < plan.end {
            "measuring"
        } else {
            "draining"
        };
        eprintln!(
            "  {:>5.1} s {phase}: sent {}, acked {}, refused {}, delivered {}",
            plan.now().as_secs_f64(),
            c.sent.load(Ordering::Relaxed),
            c.acked.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed),
            c.delivered.load(Ordering::Relaxed),
        );
    }
}

/// A counter of the measurement window, per second of it.
pub(crate) fn window_rate(counter: &AtomicU64, secs: u64) -> f64 {
    report::per_second(counter.load(Ordering::Relaxed), secs as f64)
}

/// The index `k` of a `client_msg_id` `<prefix>-<sender>-<k>`.
fn index_of(client_msg_id: &str) -> Option<u64> {
    client_msg_id.rsplit('-').next()?.parse().ok()
}

/// The due time and index of a content `t=<nanos>;i=<k>[;pad]`.
pub(crate) fn parse_content(content: &str) -> Option<(Duration, u64)> {
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
            senders: 4,
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
