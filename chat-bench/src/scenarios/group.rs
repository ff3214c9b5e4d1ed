//! `group`: one group of `--members` users, every member connected; the
//! first `--senders` members send to it at a fixed total `--rate` (open
//! loop, the schedule of [`peers::Plan`]).
//!
//! Each sender sends from a second WebSocket of its own (another device),
//! so every member's main socket must receive every message of the run
//! exactly once, in seq order, its own included (the server sends a
//! message to the sender's other devices). The tool times each arrival
//! against the message's due time, and each message until its last member
//! had it: the figure a group chat feels. Frames are read with a small
//! borrowed parse of the fields the check needs, so the tool's own CPU
//! stays small next to the server's at hundreds of thousands of frames per
//! second; catch-up batches are parsed in full.

mod member;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use chat_client::{ConversationId, UserId};
use serde::Serialize;
use tokio::sync::watch;

use self::member::Member;
use super::peers::{self, Counters, Plan, SendTotals, Target};
use crate::report::{self, LatencySummary, Output, ServerMemory, Table, TargetCheck, Targets};
use crate::setup::{Bench, BenchUser};
use crate::verify::{IndexSet, Verdict};

/// Members added per request after the group is created (keeps each body
/// well under the server's 64 KiB limit).
const MEMBERS_PER_REQUEST: usize = 500;

/// `group` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Members of the group, each with one WebSocket (the server's
    /// CHAT_MAX_GROUP_MEMBERS, 1,000 by default, bounds it).
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Members that send (each from a second WebSocket).
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Messages per second over all senders together; each reaches every
    /// member, so deliveries per second are this times --members.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of sending before the measurement starts.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Most seconds to wait, once sending stops, for the answers and
    /// deliveries still outstanding.
    #[arg(long, default_value_t = 20)]
    drain: u64,
    /// Members acknowledge every this many messages ...
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    ack_every: u64,
    /// ... or every this many milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    ack_interval_ms: u64,
    #[command(flatten)]
    targets: Targets,
}

/// The `group` report.
#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    instances: usize,
    members: usize,
    senders: usize,
    target_rate: f64,
    duration_secs: u64,
    warmup_secs: u64,
    #[serde(flatten)]
    totals: SendTotals,
    /// Message frames the members' main sockets received (first arrivals).
    deliveries: u64,
    sent_per_sec: f64,
    deliveries_per_sec: f64,
    /// Due time to arrival, every member, every message measured.
    delivery_latency: LatencySummary,
    /// Due time to the arrival at the last member, per message measured.
    last_member_latency: LatencySummary,
    /// Messages measured that some member never received.
    incomplete_messages: u64,
    /// Due time to `message.sent` at the sender.
    ack_latency: LatencySummary,
    send_lag: LatencySummary,
    errors: BTreeMap<String, u64>,
    verify: Verdict,
    duplicate_acks: u64,
    unexpected_messages: u64,
    acks_sent: u64,
    /// `message.delivered` receipts on the senders' sockets (both
    /// devices).
    receipts: u64,
    connections_ended: BTreeMap<String, u64>,
    servers: Vec<ServerMemory>,
    /// The targets given and how the run fared.
    targets: Vec<TargetCheck>,
}

/// Per message (slot `k * senders + sender`): how many members have it,
/// and when the last one got it (microseconds since the epoch).
pub(super) struct Arrivals {
    senders: usize,
    count: Vec<AtomicU32>,
    last_micros: Vec<AtomicU64>,
}

impl Arrivals {
    fn new(senders: usize, per_sender: u64) -> Self {
        let slots = usize::try_from(per_sender)
            .ok()
            .and_then(|n| n.checked_mul(senders))
            .unwrap_or(0);
        Self {
            senders,
            count: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            last_micros: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn slot(&self, sender: usize, k: u64) -> Option<usize> {
        let slot = usize::try_from(k).ok()?.checked_mul(self.senders)? + sender;
        (slot < self.count.len()).then_some(slot)
    }

    /// Records that one more member has message `k` of `sender`, at `at`.
    pub(super) fn arrived(&self, sender: usize, k: u64, at: Duration) {
        if let Some(slot) = self.slot(sender, k) {
            self.count[slot].fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
            self.last_micros[slot].fetch_max(micros, Ordering::Relaxed);
        }
    }

    /// How many members have the message, and when the last got it.
    fn of(&self, sender: usize, k: u64) -> (u32, Duration) {
        self.slot(sender, k).map_or((0, Duration::ZERO), |slot| {
            (
                self.count[slot].load(Ordering::Relaxed),
                Duration::from_micros(self.last_micros[slot].load(Ordering::Relaxed)),
            )
        })
    }
}

/// Runs the scenario.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.members >= 2, "--members must be at least 2");
    anyhow::ensure!(
        (1..=args.members).contains(&args.senders),
        "--senders must be between 1 and --members"
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(args.duration > 0, "--duration must be at least 1");
    let users = bench.create_users(args.members).await?;
    let group = create_group(bench, &users).await?;

    out.progress(&format!(
        "opening {} member WebSockets and {} sender WebSockets",
        users.len(),
        args.senders
    ));
    // Members' sockets first, then each sender's second device.
    let devices = users.iter().chain(users.iter().take(args.senders));
    let mut conns = bench.connect_all(devices.enumerate()).await?;
    let sender_conns = conns.split_off(users.len());

    let before = out.sample_servers();
    let per_sender_rate = args.rate / args.senders as f64;
    let plan = Plan::new(args.senders, args.rate, args.warmup, args.duration);
    let arrivals = Arc::new(Arrivals::new(args.senders, plan.per_sender()));
    out.progress(&format!(
        "sending {} msg/s to {} members ({per_sender_rate:.2}/s per sender) for {} s warm-up + {} s",
        args.rate, args.members, args.warmup, args.duration
    ));
    let counters = Arc::new(Counters::default());
    let (cutoff_tx, cutoff_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let sender_ids: Arc<[UserId]> = users
        .iter()
        .take(args.senders)
        .map(|u| u.session.user_id)
        .collect();
    let mut receivers = Vec::with_capacity(users.len());
    for conn in conns {
        let member = Member {
            plan,
            group,
            senders: sender_ids.clone(),
            counters: counters.clone(),
            arrivals: arrivals.clone(),
            ack_every: args.ack_every,
            ack_interval: Duration::from_millis(args.ack_interval_ms),
        };
        receivers.push(tokio::spawn(member.receive(conn, stop_rx.clone())));
    }
    let (mut writers, mut readers) = (vec![], vec![]);
    for (sender, conn) in sender_conns.into_iter().enumerate() {
        let (tx, rx) = conn.split();
        writers.push(tokio::spawn(peers::write(
            tx,
            plan,
            sender,
            Target::Group(group),
            bench.prefix().to_owned(),
            String::new(),
            counters.clone(),
        )));
        readers.push(tokio::spawn(peers::read_sender(
            rx,
            plan,
            sender,
            counters.clone(),
            cutoff_rx.clone(),
            stop_rx.clone(),
        )));
    }

    let progress = tokio::spawn(peers::print_progress(counters.clone(), plan));
    let written = peers::join_writers(writers).await?;
    let fanout = args.members as u64;
    let drain = Duration::from_secs(args.drain);
    let after = peers::settle(&counters, fanout, drain, out, &cutoff_tx, &stop_tx).await;
    progress.abort();
    let mut ended = written.ended;

    let mut r = Report {
        scenario: "group",
        instances: bench.instances(),
        members: args.members,
        senders: args.senders,
        target_rate: args.rate,
        duration_secs: args.duration,
        warmup_secs: args.warmup,
        totals: counters.totals(),
        deliveries: counters.delivered.load(Ordering::Relaxed),
        sent_per_sec: peers::window_rate(&counters.sent_in_window, args.duration),
        deliveries_per_sec: peers::window_rate(&counters.delivered_in_window, args.duration),
        delivery_latency: LatencySummary::of(&report::histogram()),
        last_member_latency: LatencySummary::of(&report::histogram()),
        incomplete_messages: 0,
        ack_latency: LatencySummary::of(&report::histogram()),
        send_lag: LatencySummary::of(&written.lag),
        errors: BTreeMap::new(),
        verify: Verdict::default(),
        duplicate_acks: 0,
        unexpected_messages: 0,
        acks_sent: 0,
        receipts: 0,
        connections_ended: BTreeMap::new(),
        servers: report::server_memory(&before, &after),
        targets: Vec::new(),
    };

    let (mut settled, mut acked) = (Vec::new(), Vec::new());
    let mut acking = report::histogram();
    for reader in readers {
        let s = reader.await.context("a sender task failed")?;
        report::merge(&mut acking, &s.ack_latency);
        r.duplicate_acks += s.duplicate_acks;
        r.receipts += s.receipts;
        for (code, n) in s.errors {
            *r.errors.entry(code).or_default() += n;
        }
        if let Some(e) = s.ended {
            *ended.entry(format!("sender: {e}")).or_default() += 1;
        }
        settled.push(s.settled);
        acked.push(s.acked);
    }
    r.ack_latency = LatencySummary::of(&acking);
    let mut delivery = report::histogram();
    for receiver in receivers {
        let m = receiver.await.context("a member task failed")?;
        report::merge(&mut delivery, &m.latency);
        r.verify
            .add(&m.check.finish(&settled, &acked, m.ended.is_none()));
        r.unexpected_messages += m.unexpected;
        r.acks_sent += m.acks_sent;
        r.receipts += m.receipts;
        if let Some(e) = m.ended {
            *ended.entry(format!("member: {e}")).or_default() += 1;
        }
    }
    r.delivery_latency = LatencySummary::of(&delivery);
    let (last, incomplete) = last_member(&plan, &arrivals, &settled, fanout);
    r.last_member_latency = LatencySummary::of(&last);
    r.incomplete_messages = incomplete;
    r.connections_ended = ended;
    for tx in written.halves {
        let _ = tx.close().await;
    }

    r.targets = args.targets.check(
        "send -> last member has it",
        r.last_member_latency.p99_ms,
        "sent/s",
        r.sent_per_sec,
    );
    if out.json {
        report::print_json(&r)?;
    } else {
        print!("{}", table(&r).render());
    }
    Ok(
        if !r.verify.ok() || r.duplicate_acks > 0 || r.incomplete_messages > 0 {
            ExitCode::from(2)
        } else if r.totals.incomplete()
            || !r.errors.is_empty()
            || r.unexpected_messages > 0
            || !r.connections_ended.is_empty()
        {
            ExitCode::from(3)
        } else if !report::all_met(&r.targets) {
            ExitCode::from(report::TARGET_MISSED)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The group, owned by the first user, with every user in it.
async fn create_group(bench: &Bench, users: &[BenchUser]) -> anyhow::Result<ConversationId> {
    let owner = bench.client(0).user(&users[0].session);
    let others: Vec<UserId> = users[1..].iter().map(|u| u.session.user_id).collect();
    let mut chunks = others.chunks(MEMBERS_PER_REQUEST);
    let first = chunks.next().unwrap_or_default();
    let group = owner
        .create_group(&format!("{} group", bench.prefix()), first)
        .await
        .context("cannot create the group")?;
    for chunk in chunks {
        owner
            .add_members(group, chunk)
            .await
            .context("cannot add members to the group")?;
    }
    Ok(group)
}

/// Per message measured and settled: the time until its last member had
/// it; and how many never reached every member.
fn last_member(
    plan: &Plan,
    arrivals: &Arrivals,
    settled: &[IndexSet],
    members: u64,
) -> (hdrhistogram::Histogram<u64>, u64) {
    let mut h = report::histogram();
    let mut incomplete = 0;
    for (sender, settled) in settled.iter().enumerate() {
        for k in settled.iter() {
            let due = plan.due(sender, k);
            if !plan.measured(due) {
                continue;
            }
            let (count, last) = arrivals.of(sender, k);
            if u64::from(count) >= members {
                report::record(&mut h, last.saturating_sub(due));
            } else {
                incomplete += 1;
            }
        }
    }
    (h, incomplete)
}

/// The report as a table.
fn table(r: &Report) -> Table {
    let mut t = Table::new();
    t.section(&format!(
        "group: {} members, {} senders, {} instance(s), target {} msg/s, {} s measured after {} s warm-up",
        r.members, r.senders, r.instances, r.target_rate, r.duration_secs, r.warmup_secs
    ))
    .row(
        "sent / acked / refused / unanswered",
        r.totals.cell(),
    )
    .row("sent/s (measured window)", format!("{:.1}", r.sent_per_sec))
    .row("deliveries", r.deliveries)
    .row("deliveries/s", format!("{:.1}", r.deliveries_per_sec))
    .section("latency p50 / p90 / p99 / p99.9 / max")
    .row("send -> last member has it", r.last_member_latency.cell())
    .row("send -> each member", r.delivery_latency.cell())
    .row("send -> message.sent (sender)", r.ack_latency.cell())
    .row("send lag (tool behind schedule)", r.send_lag.cell())
    .section("checks")
    .row("messages some member never got", r.incomplete_messages)
    .verdict(&r.verify, "member")
    .row("duplicate message.sent", r.duplicate_acks)
    .row("unexpected frames", r.unexpected_messages)
    .row(
        "messages.ack sent / receipts back",
        format!("{} / {}", r.acks_sent, r.receipts),
    );
    for (code, n) in &r.errors {
        t.row(format!("error frames {code}"), n);
    }
    for (why, n) in &r.connections_ended {
        t.row(format!("connection ended x{n}"), why);
    }
    t.servers(&r.servers, 0, "");
    t.targets(&r.targets);
    t
}
