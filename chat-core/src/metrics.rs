//! The engine's counters, gauges and histograms, rendered in the Prometheus
//! text format (`chat-server` serves them at `GET /metrics`).
//!
//! Every engine has its own [`Metrics`] (no global registry), so several
//! engines in one process, or tests running side by side, never mix their
//! figures. Recording is a few relaxed atomic operations with no lock and no
//! allocation, cheap enough for the message path; only errors, which are not
//! on that path, take a lock (to count by code).
//!
//! `docs/operations.md` lists every series.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets.
const LATENCY_BOUNDS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Upper bounds of the batch size histogram's buckets.
const SIZE_BOUNDS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Upper bounds of the catch-up backlog histogram's buckets (messages).
const BACKLOG_BOUNDS: [f64; 7] = [0.0, 1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0];

/// A store read the engine times, by the store method it calls (the `op`
/// label of `chat_store_read_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreRead {
    /// `ConversationStore::direct_between`.
    DirectBetween,
    /// `ConversationStore::membership`: every authorization check.
    Membership,
    /// `ConversationStore::members`.
    Members,
    /// `ConversationStore::overviews`: conversation lists, connects.
    Overviews,
    /// `ConversationStore::overview`.
    Overview,
    /// `MessageStore::message`.
    Message,
    /// `MessageStore::messages_by_ids`: acknowledgements, receipts.
    MessagesByIds,
    /// `MessageStore::messages_before`: history pages, catch-up, sync.
    MessagesBefore,
    /// `MessageStore::unread_messages`.
    UnreadMessages,
    /// `MessageStore::log_between`: catch-up, sync and gap fills.
    LogBetween,
    /// `MessageStore::reactions`: history pages.
    Reactions,
    /// `MessageStore::search_messages`.
    Search,
    /// `MessageStore::messages_after`: pages around a message.
    MessagesAfter,
    /// `MessageStore::search_word_counts`: before every search.
    SearchWordCounts,
}

impl StoreRead {
    /// Every variant, in declaration order (so `op as usize` indexes it).
    const ALL: [StoreRead; 14] = [
        StoreRead::DirectBetween,
        StoreRead::Membership,
        StoreRead::Members,
        StoreRead::Overviews,
        StoreRead::Overview,
        StoreRead::Message,
        StoreRead::MessagesByIds,
        StoreRead::MessagesBefore,
        StoreRead::UnreadMessages,
        StoreRead::LogBetween,
        StoreRead::Reactions,
        StoreRead::Search,
        StoreRead::MessagesAfter,
        StoreRead::SearchWordCounts,
    ];

    fn label(self) -> &'static str {
        match self {
            StoreRead::DirectBetween => "direct_between",
            StoreRead::Membership => "membership",
            StoreRead::Members => "members",
            StoreRead::Overviews => "overviews",
            StoreRead::Overview => "overview",
            StoreRead::Message => "message",
            StoreRead::MessagesByIds => "messages_by_ids",
            StoreRead::MessagesBefore => "messages_before",
            StoreRead::UnreadMessages => "unread_messages",
            StoreRead::LogBetween => "log_between",
            StoreRead::Reactions => "reactions",
            StoreRead::Search => "search_messages",
            StoreRead::MessagesAfter => "messages_after",
            StoreRead::SearchWordCounts => "search_word_counts",
        }
    }
}

/// A histogram with fixed buckets: counts per bucket, a count and a sum.
#[derive(Debug)]
struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    /// Per bucket (not cumulative), plus one for `+Inf`.
    buckets: [AtomicU64; N],
    overflow: AtomicU64,
    count: AtomicU64,
    /// Sum of the observations, in millionths of the unit.
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: &'static [f64; N]) -> Self {
        Self {
            bounds,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            overflow: AtomicU64::new(0),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        match self.bounds.iter().position(|b| value <= *b) {
            Some(i) => self.buckets[i].fetch_add(1, Relaxed),
            None => self.overflow.fetch_add(1, Relaxed),
        };
        self.count.fetch_add(1, Relaxed);
        // Saturating float-to-int: a negative or absurd value adds 0 or MAX.
        self.sum_micros
            .fetch_add((value * 1e6).round() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        self.render_series(out, name, "");
    }

    /// The buckets, sum and count, each with `labels` (`key="value",`
    /// pairs, each followed by a comma) before their own.
    fn render_series(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.overflow.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {cumulative}");
        let plain = labels.trim_end_matches(',');
        let braces = if plain.is_empty() {
            String::new()
        } else {
            format!("{{{plain}}}")
        };
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {}", self.count.load(Relaxed));
    }
}

#[derive(Debug)]
struct Registry {
    connections: AtomicI64,
    connections_opened: AtomicU64,
    messages_accepted: AtomicU64,
    messages_delivered: AtomicU64,
    write_queue: AtomicI64,
    write_batch_size: Histogram<9>,
    store_write_seconds: Histogram<14>,
    /// One per [`StoreRead`], in [`StoreRead::ALL`] order.
    store_read_seconds: [Histogram<14>; StoreRead::ALL.len()],
    fanout_seconds: Histogram<14>,
    offline_queued: AtomicU64,
    gap_fills: AtomicU64,
    catch_up_backlog: Histogram<7>,
    /// Pushes by outcome: delivered, gone, retry, refused.
    push_outcomes: [AtomicU64; 4],
    /// Webhook attempts by outcome: delivered, retry, failed.
    webhook_outcomes: [AtomicU64; 3],
    /// Moderation hook answers by outcome: allow, rewrite, refuse, error.
    hook_outcomes: [AtomicU64; 4],
    hook_seconds: Histogram<14>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// The `outcome` labels of `chat_push_notifications_total`, in the order
/// of `Registry::push_outcomes`.
const PUSH_OUTCOMES: [&str; 4] = ["delivered", "gone", "retry", "refused"];

/// The `outcome` labels of `chat_webhook_deliveries_total`, in the order
/// of `Registry::webhook_outcomes`.
const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retry", "failed"];

/// The `outcome` labels of `chat_message_hook_total`, in the order of
/// `Registry::hook_outcomes`.
const HOOK_OUTCOMES: [&str; 4] = ["allow", "rewrite", "refuse", "error"];

/// The engine's metrics. Cheap to clone; clones share the figures.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All figures at zero.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Registry {
                connections: AtomicI64::new(0),
                connections_opened: AtomicU64::new(0),
                messages_accepted: AtomicU64::new(0),
                messages_delivered: AtomicU64::new(0),
                write_queue: AtomicI64::new(0),
                write_batch_size: Histogram::new(&SIZE_BOUNDS),
                store_write_seconds: Histogram::new(&LATENCY_BOUNDS),
                store_read_seconds: std::array::from_fn(|_| Histogram::new(&LATENCY_BOUNDS)),
                fanout_seconds: Histogram::new(&LATENCY_BOUNDS),
                offline_queued: AtomicU64::new(0),
                gap_fills: AtomicU64::new(0),
                catch_up_backlog: Histogram::new(&BACKLOG_BOUNDS),
                push_outcomes: std::array::from_fn(|_| AtomicU64::new(0)),
                webhook_outcomes: std::array::from_fn(|_| AtomicU64::new(0)),
                hook_outcomes: std::array::from_fn(|_| AtomicU64::new(0)),
                hook_seconds: Histogram::new(&LATENCY_BOUNDS),
                errors: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// A real-time connection (a WebSocket) opened.
    pub fn connection_opened(&self) {
        self.inner.connections.fetch_add(1, Relaxed);
        self.inner.connections_opened.fetch_add(1, Relaxed);
    }

    /// A real-time connection closed.
    pub fn connection_closed(&self) {
        self.inner.connections.fetch_sub(1, Relaxed);
    }

    /// A new message was stored (a repeated `client_msg_id` does not count).
    pub fn message_accepted(&self) {
        self.inner.messages_accepted.fetch_add(1, Relaxed);
    }

    /// `n` writes counted by [`write_queued`](Self::write_queued) never
    /// reached a writer (it had stopped).
    pub(crate) fn write_batch_abandoned(&self, n: i64) {
        self.inner.write_queue.fetch_sub(n, Relaxed);
    }

    /// `n` messages went out to a device (live, in a catch-up or a sync).
    pub fn messages_delivered(&self, n: u64) {
        self.inner.messages_delivered.fetch_add(n, Relaxed);
    }

    /// A write joined a writer's queue.
    pub(crate) fn write_queued(&self) {
        self.inner.write_queue.fetch_add(1, Relaxed);
    }

    /// A writer took `size` writes off its queue and committed them in
    /// `elapsed`.
    pub(crate) fn write_batch(&self, size: usize, elapsed: Duration) {
        self.inner.write_queue.fetch_sub(size as i64, Relaxed);
        self.inner.write_batch_size.observe(size as f64);
        self.inner
            .store_write_seconds
            .observe(elapsed.as_secs_f64());
    }

    /// A store read of kind `op` took `elapsed` (successful or not).
    pub(crate) fn store_read(&self, op: StoreRead, elapsed: Duration) {
        // `ALL` lists the variants in declaration order.
        self.inner.store_read_seconds[op as usize].observe(elapsed.as_secs_f64());
    }

    /// A message joined the offline queues of `users` members.
    pub(crate) fn offline_queued(&self, users: usize) {
        self.inner.offline_queued.fetch_add(users as u64, Relaxed);
    }

    /// A connection got a message past the next one it expected, and read
    /// the ones between from the store.
    pub(crate) fn gap_filled(&self) {
        self.inner.gap_fills.fetch_add(1, Relaxed);
    }

    /// A device connected with `messages` waiting for it (its catch-up).
    pub(crate) fn catch_up_backlog(&self, messages: u64) {
        self.inner.catch_up_backlog.observe(messages as f64);
    }

    /// A message's fan-out (events published, offline queue updated) took
    /// `elapsed`.
    pub(crate) fn fanout(&self, elapsed: Duration) {
        self.inner.fanout_seconds.observe(elapsed.as_secs_f64());
    }

    /// One attempt to push a notification ended with `outcome`, one of
    /// `delivered`, `gone`, `retry`, `refused` (others are not counted).
    pub(crate) fn push_outcome(&self, outcome: &str) {
        if let Some(i) = PUSH_OUTCOMES.iter().position(|o| *o == outcome) {
            self.inner.push_outcomes[i].fetch_add(1, Relaxed);
        }
    }

    /// One attempt to deliver a webhook event ended with `outcome`, one of
    /// `delivered`, `retry`, `failed` (others are not counted).
    pub(crate) fn webhook_outcome(&self, outcome: &str) {
        if let Some(i) = WEBHOOK_OUTCOMES.iter().position(|o| *o == outcome) {
            self.inner.webhook_outcomes[i].fetch_add(1, Relaxed);
        }
    }

    /// The moderation hook answered with `outcome`, one of `allow`,
    /// `rewrite`, `refuse`, `error` (others are not counted).
    pub(crate) fn hook_outcome(&self, outcome: &str) {
        if let Some(i) = HOOK_OUTCOMES.iter().position(|o| *o == outcome) {
            self.inner.hook_outcomes[i].fetch_add(1, Relaxed);
        }
    }

    /// Asking the moderation hook took `elapsed` (answered or not).
    pub(crate) fn hook_latency(&self, elapsed: Duration) {
        self.inner.hook_seconds.observe(elapsed.as_secs_f64());
    }

    /// A request or frame was refused with error `code` (a
    /// [`ChatError::code`](crate::ChatError::code) or a transport's own).
    pub fn error(&self, code: &str) {
        let mut errors = self.inner.errors.lock().unwrap_or_else(|e| e.into_inner());
        match errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                errors.insert(code.to_owned(), 1);
            }
        }
    }

    /// Open real-time connections now.
    pub fn connections(&self) -> i64 {
        self.inner.connections.load(Relaxed)
    }

    /// Every figure in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let r = &*self.inner;
        let mut out = String::with_capacity(4096);
        let single = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
            write_single(out, name, kind, help, value);
        };
        single(
            &mut out,
            "chat_connections",
            "gauge",
            "Open WebSocket connections.",
            r.connections.load(Relaxed).to_string(),
        );
        single(
            &mut out,
            "chat_connections_opened_total",
            "counter",
            "WebSocket connections opened since start.",
            r.connections_opened.load(Relaxed).to_string(),
        );
        single(
            &mut out,
            "chat_messages_accepted_total",
            "counter",
            "Messages stored (repeats of a client_msg_id excluded).",
            r.messages_accepted.load(Relaxed).to_string(),
        );
        single(
            &mut out,
            "chat_messages_delivered_total",
            "counter",
            "Messages sent to devices: live, in catch-up batches and in sync answers.",
            r.messages_delivered.load(Relaxed).to_string(),
        );
        single(
            &mut out,
            "chat_write_queue_length",
            "gauge",
            "Writes (messages, delivery cursors) waiting for a store writer.",
            r.write_queue.load(Relaxed).max(0).to_string(),
        );
        r.write_batch_size.render(
            &mut out,
            "chat_write_batch_size",
            "Writes committed together in one store transaction.",
        );
        r.store_write_seconds.render(
            &mut out,
            "chat_store_write_seconds",
            "Time to commit one batch of writes to the store.",
        );
        let _ = writeln!(
            out,
            "# HELP chat_store_read_seconds Time of one store read, by the store method (op) called.\n# TYPE chat_store_read_seconds histogram"
        );
        for (op, histogram) in StoreRead::ALL.iter().zip(&r.store_read_seconds) {
            let labels = format!("op=\"{}\",", op.label());
            histogram.render_series(&mut out, "chat_store_read_seconds", &labels);
        }
        single(
            &mut out,
            "chat_offline_queued_total",
            "counter",
            "Entries added to offline members' queues (one per message and member).",
            r.offline_queued.load(Relaxed).to_string(),
        );
        single(
            &mut out,
            "chat_gap_fills_total",
            "counter",
            "Live messages that reached a connection ahead of earlier ones, which it then read from the store.",
            r.gap_fills.load(Relaxed).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP chat_push_notifications_total Attempts to push a notification to a device, by outcome.\n# TYPE chat_push_notifications_total counter"
        );
        for (label, count) in PUSH_OUTCOMES.iter().zip(&r.push_outcomes) {
            let _ = writeln!(
                out,
                "chat_push_notifications_total{{outcome=\"{label}\"}} {}",
                count.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP chat_webhook_deliveries_total Attempts to deliver a webhook event, by outcome.\n# TYPE chat_webhook_deliveries_total counter"
        );
        for (label, count) in WEBHOOK_OUTCOMES.iter().zip(&r.webhook_outcomes) {
            let _ = writeln!(
                out,
                "chat_webhook_deliveries_total{{outcome=\"{label}\"}} {}",
                count.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP chat_message_hook_total Answers of the moderation hook to new messages and edits, by outcome.\n# TYPE chat_message_hook_total counter"
        );
        for (label, count) in HOOK_OUTCOMES.iter().zip(&r.hook_outcomes) {
            let _ = writeln!(
                out,
                "chat_message_hook_total{{outcome=\"{label}\"}} {}",
                count.load(Relaxed)
            );
        }
        r.hook_seconds.render(
            &mut out,
            "chat_message_hook_seconds",
            "Time the moderation hook took to answer (or to be given up on).",
        );
        r.catch_up_backlog.render(
            &mut out,
            "chat_catch_up_backlog_messages",
            "Messages waiting for a device when it connected (its catch-up).",
        );
        r.fanout_seconds.render(
            &mut out,
            "chat_fanout_seconds",
            "Time to publish a stored message to its members' connections and queue it for offline members.",
        );
        let errors = r.errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP chat_errors_total Requests and frames refused, by error code.\n# TYPE chat_errors_total counter"
        );
        for (code, n) in &errors {
            let _ = writeln!(out, "chat_errors_total{{code=\"{code}\"}} {n}");
        }
        let limited = errors.get("RATE_LIMITED").copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "# HELP chat_rate_limited_total Requests and frames refused by a rate limit.\n# TYPE chat_rate_limited_total counter\nchat_rate_limited_total {limited}"
        );
        out
    }
}

/// Writes one series with its `HELP` and `TYPE` lines.
pub(crate) fn write_single(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, series: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    /// Asserts the series' line reads `series value`.
    fn has(text: &str, series: &str, value: &str) {
        assert_eq!(line(text, series), format!("{series} {value}"));
    }

    #[test]
    fn counters_and_gauges_render_their_values() {
        let m = Metrics::new();
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        m.message_accepted();
        m.messages_delivered(3);
        let text = m.render();
        has(&text, "chat_connections", "1");
        has(&text, "chat_connections_opened_total", "2");
        has(&text, "chat_messages_accepted_total", "1");
        has(&text, "chat_messages_delivered_total", "3");
    }

    #[test]
    fn histograms_are_cumulative_with_count_and_sum() {
        let m = Metrics::new();
        m.write_queued();
        m.write_queued();
        m.write_queued();
        m.write_batch(2, Duration::from_millis(3));
        m.write_batch(1, Duration::from_secs(10));
        let text = m.render();
        has(&text, "chat_write_queue_length", "0");
        has(&text, "chat_store_write_seconds_bucket{le=\"0.0025\"}", "0");
        has(&text, "chat_store_write_seconds_bucket{le=\"0.005\"}", "1");
        has(&text, "chat_store_write_seconds_bucket{le=\"5\"}", "1");
        has(&text, "chat_store_write_seconds_bucket{le=\"+Inf\"}", "2");
        has(&text, "chat_store_write_seconds_count", "2");
        has(&text, "chat_store_write_seconds_sum", "10.003");
        has(&text, "chat_write_batch_size_bucket{le=\"2\"}", "2");
    }

    #[test]
    fn errors_count_by_code_and_rate_limits_apart() {
        let m = Metrics::new();
        m.error("RATE_LIMITED");
        m.error("RATE_LIMITED");
        m.error("INVALID_TOKEN");
        let text = m.render();
        has(&text, "chat_errors_total{code=\"RATE_LIMITED\"}", "2");
        has(&text, "chat_errors_total{code=\"INVALID_TOKEN\"}", "1");
        has(&text, "chat_rate_limited_total", "2");
    }

    #[test]
    fn store_reads_are_listed_in_declaration_order() {
        for (i, op) in StoreRead::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
        }
    }

    #[test]
    fn every_series_has_help_and_type() {
        let text = Metrics::new().render();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap_or_default();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            assert!(
                text.contains(&format!("# TYPE {base} ")),
                "{name} has no TYPE"
            );
            assert!(
                text.contains(&format!("# HELP {base} ")),
                "{name} has no HELP"
            );
        }
    }
}
