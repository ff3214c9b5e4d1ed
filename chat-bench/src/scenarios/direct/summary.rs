//! The `direct` report in words: the table, and what went wrong, on
//! stderr.

use super::Report;
use crate::report::{Output, Table};

/// The report as a table.
pub(super) fn table(r: &Report) -> Table {
    let mut t = Table::new();
    t.section(&format!(
        "direct: {} pairs, {} instance(s), target {} msg/s, {} s measured after {} s warm-up",
        r.pairs, r.instances, r.target_rate, r.duration_secs, r.warmup_secs
    ))
    .row("sent / acked / refused / unanswered", r.totals.cell())
    .row("delivered", r.delivered)
    .row("sent/s (measured window)", format!("{:.1}", r.sent_per_sec))
    .row("acked/s", format!("{:.1}", r.acked_per_sec))
    .row("delivered/s", format!("{:.1}", r.delivered_per_sec))
    .section("latency p50 / p90 / p99 / p99.9 / max")
    .row("send -> message.new (receiver)", r.delivery_latency.cell())
    .row("send -> message.sent (sender)", r.ack_latency.cell())
    .row("send lag (tool behind schedule)", r.send_lag.cell())
    .section("checks")
    .verdict(&r.verify, "receiver")
    .row("delivered, never acked", r.verify.received_unacked)
    .row("duplicate message.sent", r.duplicate_acks)
    .row("unexpected message.new", r.unexpected_messages)
    .row(
        "messages.ack sent / receipts back",
        format!("{} / {}", r.acks_sent, r.receipts),
    );
    for (code, n) in &r.errors {
        t.row(format!("error frames {code}"), n);
    }
    for (why, n) in &r.reconnects {
        t.row(format!("reconnected x{n} after close"), why);
    }
    for (why, n) in &r.connections_ended {
        t.row(format!("connection ended x{n}"), why);
    }
    t.servers(&r.servers, 0, "");
    t.targets(&r.targets);
    t
}

/// Explains on stderr what went wrong, in words.
pub(super) fn explain(r: &Report, out: &Output) {
    if let Some(n) = r.errors.get("RATE_LIMITED") {
        out.progress(&format!(
            "RATE LIMITED: the server refused {n} messages with RATE_LIMITED. Its per-user limit \
             (CHAT_MESSAGES_PER_MINUTE, default 100) is below {:.0}/min per sender: restart it \
             with e.g. CHAT_MESSAGES_PER_MINUTE=100000000.",
            r.target_rate / r.pairs as f64 * 60.0
        ));
    }
    if !r.verify.ok() {
        out.progress(&format!(
            "DELIVERY CHECK FAILED: {} lost, {} duplicated, {} out of seq order, {} out of send order",
            r.verify.lost,
            r.verify.duplicates,
            r.verify.seq_reorders,
            r.verify.send_order_inversions
        ));
    }
    if !r.reconnects.is_empty() {
        out.progress(&format!(
            "note: the server closed {} receiver connection(s) that the tool reopened (see \
             `reconnected`); their missed messages came in the catch-up",
            r.reconnects.values().sum::<u64>()
        ));
    }
    if r.verify.unreachable > 0 {
        out.progress(&format!(
            "note: {} acknowledged messages never reached receivers whose connections ended \
             for good (see `connection ended`)",
            r.verify.unreachable
        ));
    }
    if r.send_lag.p99_ms > 50.0 {
        out.progress(&format!(
            "note: sends left up to {:.0} ms late (p99 {:.1} ms): chat-bench itself could not keep \
             the schedule (CPU shared with the server?); latencies include that lag",
            r.send_lag.max_ms, r.send_lag.p99_ms
        ));
    }
}
