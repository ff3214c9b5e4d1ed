//! `direct`: `--pairs` sender/receiver pairs, each user on its own
//! WebSocket, exchanging direct messages at a fixed total `--rate` (an open
//! loop: each sender follows a schedule and never waits for answers, so a
//! slow server shows up as latency, not as a lower send rate).
//!
//! Each message carries its due time and index. Receivers time every
//! `message.new` against the due time (so the client's own lateness counts
//! too; it is reported separately as send lag), acknowledge with
//! `messages.ack` like a real client, and check exactly-once, in-order
//! delivery ([`crate::verify`]). Senders count `message.sent` and `error`
//! frames.

mod max;
mod receiver;
mod summary;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokio::sync::watch;

use self::receiver::Receiver;
use super::peers::{self, Counters, Plan, SendTotals, Target};
use crate::report::{self, LatencySummary, Output, ServerMemory, TargetCheck, Targets};
use crate::setup::Bench;
use crate::verify::Verdict;

/// `direct` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Sender/receiver pairs (two users and two WebSockets each).
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Messages per second over all pairs together.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of sending before the measurement starts.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Most seconds to wait, once sending stops, for the answers still
    /// outstanding.
    #[arg(long, default_value_t = 10)]
    drain: u64,
    /// Receivers acknowledge every this many messages ...
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    ack_every: u64,
    /// ... or every this many milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    ack_interval_ms: u64,
    /// Extra bytes of content per message.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Find the highest sustained rate: run at --rate, then at
    /// --step-factor times more, with fresh users each time, until a run
    /// falls short (delivers under 95% of its rate, leaves a message
    /// unanswered or refused, or has a p99 over --max-p99-ms).
    #[arg(long)]
    max: bool,
    /// With --max: each step's rate over the previous one.
    #[arg(long, default_value_t = 1.25, value_parser = at_least_one_and_a_bit)]
    step_factor: f64,
    /// With --max: the p99 send-to-receive latency a sustained rate must
    /// keep, milliseconds.
    #[arg(long, default_value_t = 50.0)]
    max_p99_ms: f64,
    /// With --max: most steps.
    #[arg(long, default_value_t = 12)]
    max_steps: usize,
    #[command(flatten)]
    targets: Targets,
}

fn at_least_one_and_a_bit(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f >= 1.01 => Ok(f),
        _ => Err("must be a number of at least 1.01".to_owned()),
    }
}

/// The `direct` report.
#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    instances: usize,
    pairs: usize,
    target_rate: f64,
    duration_secs: u64,
    warmup_secs: u64,
    #[serde(flatten)]
    totals: SendTotals,
    delivered: u64,
    sent_per_sec: f64,
    acked_per_sec: f64,
    delivered_per_sec: f64,
    /// Due time to `message.new` at the receiver.
    delivery_latency: LatencySummary,
    /// Due time to `message.sent` at the sender.
    ack_latency: LatencySummary,
    /// How late the sends left against the schedule (the tool's own lag).
    send_lag: LatencySummary,
    /// Error frames by code.
    errors: BTreeMap<String, u64>,
    verify: Verdict,
    duplicate_acks: u64,
    unexpected_messages: u64,
    receipts: u64,
    acks_sent: u64,
    /// Connections the server closed and the receiver reopened, by the
    /// server's close code and reason.
    reconnects: BTreeMap<String, u64>,
    /// Connections that ended for good before the run did, by reason.
    connections_ended: BTreeMap<String, u64>,
    servers: Vec<ServerMemory>,
    /// The targets given and how the run fared.
    targets: Vec<TargetCheck>,
}

/// Runs the scenario: one run at `--rate`, or with `--max` a search for
/// the highest rate sustained.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.pairs > 0, "--pairs must be at least 1");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(args.duration > 0, "--duration must be at least 1");
    if args.max {
        return max::search(bench, out, args).await;
    }
    let r = measure(bench, out, args, args.rate).await?;
    if out.json {
        report::print_json(&r)?;
    } else {
        print!("{}", summary::table(&r).render());
    }
    summary::explain(&r, out);
    Ok(r.exit_code())
}

impl Report {
    /// 2 for a lost, duplicated or reordered message; 3 when every check
    /// passed but something else went wrong; 4 when only a target was
    /// missed; 0 otherwise.
    fn exit_code(&self) -> ExitCode {
        if !self.verify.ok() || self.duplicate_acks > 0 {
            ExitCode::from(2)
        } else if self.totals.incomplete()
            || !self.errors.is_empty()
            || self.verify.unreachable > 0
            || !self.connections_ended.is_empty()
        {
            ExitCode::from(3)
        } else if !report::all_met(&self.targets) {
            ExitCode::from(report::TARGET_MISSED)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// One run at `rate` messages per second with fresh users.
async fn measure(bench: &Bench, out: &Output, args: &Args, rate: f64) -> anyhow::Result<Report> {
    let users = bench.create_users(args.pairs * 2).await?;

    out.progress(&format!("opening {} WebSockets", users.len()));
    let mut conns: Vec<_> = bench
        .connect_all(users.iter().enumerate())
        .await?
        .into_iter()
        .map(Some)
        .collect();

    let before = out.sample_servers();
    let per_sender = rate / args.pairs as f64;
    let plan = Plan::new(args.pairs, rate, args.warmup, args.duration);
    out.progress(&format!(
        "sending {} msg/s ({per_sender:.2}/s per sender) for {} s warm-up + {} s",
        rate, args.warmup, args.duration
    ));
    let counters = Arc::new(Counters::default());
    let (cutoff_tx, cutoff_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let padding = if args.pad > 0 {
        format!(";p={}", "x".repeat(args.pad))
    } else {
        String::new()
    };
    let (mut writers, mut senders, mut receivers) = (vec![], vec![], vec![]);
    for pair in 0..args.pairs {
        let (sender, receiver) = (&users[2 * pair], &users[2 * pair + 1]);
        let sender_conn = conns[2 * pair].take().expect("one connection per user");
        let receiver_conn = conns[2 * pair + 1].take().expect("one connection per user");
        let (tx, rx) = sender_conn.split();
        writers.push(tokio::spawn(peers::write(
            tx,
            plan,
            pair,
            Target::Direct(receiver.session.user_id),
            bench.prefix().to_owned(),
            padding.clone(),
            counters.clone(),
        )));
        senders.push(tokio::spawn(peers::read_sender(
            rx,
            plan,
            pair,
            counters.clone(),
            cutoff_rx.clone(),
            stop_rx.clone(),
        )));
        let cfg = Receiver {
            bench: bench.clone(),
            conn_index: 2 * pair + 1,
            user: receiver.clone(),
            from: sender.session.user_id,
            ack_every: args.ack_every,
            ack_interval: Duration::from_millis(args.ack_interval_ms),
        };
        receivers.push(tokio::spawn(receiver::receive(
            cfg,
            receiver_conn,
            plan,
            counters.clone(),
            stop_rx.clone(),
        )));
    }

    let progress = tokio::spawn(peers::print_progress(counters.clone(), plan));
    let written = peers::join_writers(writers).await?;
    let drain = Duration::from_secs(args.drain);
    let after = peers::settle(&counters, 1, drain, out, &cutoff_tx, &stop_tx).await;
    progress.abort();
    let mut ended = written.ended;

    let mut r = Report {
        scenario: "direct",
        instances: bench.instances(),
        pairs: args.pairs,
        target_rate: rate,
        duration_secs: args.duration,
        warmup_secs: args.warmup,
        totals: counters.totals(),
        delivered: counters.delivered.load(Ordering::Relaxed),
        sent_per_sec: peers::window_rate(&counters.sent_in_window, args.duration),
        acked_per_sec: peers::window_rate(&counters.acked_in_window, args.duration),
        delivered_per_sec: peers::window_rate(&counters.delivered_in_window, args.duration),
        delivery_latency: LatencySummary::of(&report::histogram()),
        ack_latency: LatencySummary::of(&report::histogram()),
        send_lag: LatencySummary::of(&written.lag),
        errors: BTreeMap::new(),
        verify: Verdict::default(),
        duplicate_acks: 0,
        unexpected_messages: 0,
        receipts: 0,
        acks_sent: 0,
        reconnects: BTreeMap::new(),
        connections_ended: BTreeMap::new(),
        servers: report::server_memory(&before, &after),
        targets: Vec::new(),
    };
    let (mut delivery, mut acking) = (report::histogram(), report::histogram());
    for (s, v) in senders.into_iter().zip(receivers) {
        let s = s.await.context("a sender task failed")?;
        let v = v.await.context("a receiver task failed")?;
        report::merge(&mut acking, &s.ack_latency);
        report::merge(&mut delivery, &v.latency);
        let connected = v.ended.is_none();
        r.verify
            .add(&v.check.finish(&s.settled, &s.acked, connected));
        r.duplicate_acks += s.duplicate_acks;
        r.unexpected_messages += v.unexpected;
        r.receipts += s.receipts;
        r.acks_sent += v.acks_sent;
        for why in v.reconnects {
            *r.reconnects.entry(format!("receiver: {why}")).or_default() += 1;
        }
        for (code, n) in s.errors {
            *r.errors.entry(code).or_default() += n;
        }
        for e in [
            s.ended.map(|e| format!("sender: {e}")),
            v.ended.map(|e| format!("receiver: {e}")),
        ]
        .into_iter()
        .flatten()
        {
            *ended.entry(e).or_default() += 1;
        }
    }
    for tx in written.halves {
        let _ = tx.close().await;
    }
    r.delivery_latency = LatencySummary::of(&delivery);
    r.ack_latency = LatencySummary::of(&acking);
    r.connections_ended = ended;
    r.targets = args.targets.check(
        "send -> message.new",
        r.delivery_latency.p99_ms,
        "delivered/s",
        r.delivered_per_sec,
    );
    Ok(r)
}
