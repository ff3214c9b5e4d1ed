//! `mixed`: a blend of what people do in a chat, at a fixed total `--rate`
//! (open loop): send a direct message, edit one's last message, react to
//! the partner's, page history, list conversations, mark read, type, and
//! now and then log in. Every user holds a WebSocket (acknowledging what
//! arrives, as a client does). Every message a REST send acknowledged, and
//! every change (edit, reaction) a REST call applied, must reach both
//! members' sockets exactly once, and each socket must see its
//! conversation's log (messages and changes) in seq order.
//!
//! With `--server-pid`, the server's memory and open files are sampled
//! every `--sample-every` seconds: run it for ten minutes and the samples
//! show whether either grows (the soak test in `docs/benchmarks.md`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_client::{ChatClient, UserClient, frames};
use chat_core::model::{Message, MessageChange};
use chat_core::protocol::ServerFrame;
use chat_core::{ConversationId, MessageId, UserId};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::{self, LatencySummary, Output};
use crate::setup::{Bench, BenchUser};
use crate::sys;

/// Time, once the load stops, for the last messages to arrive.
const GRACE: Duration = Duration::from_secs(3);

/// `mixed` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Users, paired into direct conversations, each with one WebSocket.
    #[arg(long, default_value_t = 40)]
    users: usize,
    /// Operations per second over all users together.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds between samples of the servers' memory and open files
    /// (with --server-pid).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    sample_every: u64,
}

/// The operations, with their share of the load (per 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Send,
    Edit,
    React,
    History,
    Conversations,
    Read,
    Typing,
    Login,
}

const MIX: [(Op, u32); 8] = [
    (Op::Send, 34),
    (Op::Edit, 6),
    (Op::React, 6),
    (Op::History, 18),
    (Op::Conversations, 13),
    (Op::Read, 10),
    (Op::Typing, 11),
    (Op::Login, 2),
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Send => "send (REST)",
            Op::Edit => "edit (REST)",
            Op::React => "react (REST)",
            Op::History => "history page",
            Op::Conversations => "conversation list",
            Op::Read => "mark read",
            Op::Typing => "typing (WebSocket)",
            Op::Login => "login",
        }
    }

    fn pick(roll: u32) -> Op {
        let mut left = roll % 100;
        for (op, share) in MIX {
            if left < share {
                return op;
            }
            left -= share;
        }
        Op::Send
    }
}

/// Per operation: latencies and failures.
#[derive(Default)]
struct OpStats {
    latency: HashMap<Op, Histogram<u64>>,
    errors: BTreeMap<String, u64>,
}

/// What one user's socket received.
#[derive(Default)]
struct Inbox {
    seen: HashSet<MessageId>,
    /// Changes (edits, reactions) received, by conversation and seq.
    changes: HashSet<(ConversationId, u64)>,
    /// The highest log seq (message or change) seen per conversation.
    last_seq: HashMap<ConversationId, u64>,
    /// The partner's newest message seen, to react to.
    partner_last: Option<(ConversationId, MessageId)>,
    duplicates: u64,
    reorders: u64,
    /// `message.group.new` frames for these direct conversations.
    wrong_kind: u64,
}

impl Member {
    /// Records a message this user's socket received, live or in a
    /// catch-up batch, and acknowledges it. A catch-up may repeat what the
    /// socket had not acknowledged yet (at-least-once, as the protocol
    /// says): such a repeat is not a duplicate.
    fn arrive(&self, msg: &Message, wrong_kind: bool, catch_up: bool) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.wrong_kind += u64::from(wrong_kind);
        if !inbox.seen.insert(msg.id) {
            if !catch_up {
                inbox.duplicates += 1;
            }
            return;
        }
        if msg.sender_id == self.partner {
            inbox.partner_last = Some((msg.conversation_id, msg.id));
        }
        inbox.in_order(msg.conversation_id, msg.seq);
        drop(inbox);
        let _ = self
            .frames
            .send(frames::ack_through(msg.conversation_id, msg.seq));
    }

    /// Records a change this user's socket received (live or in a
    /// catch-up batch) and acknowledges it, as [`arrive`](Self::arrive)
    /// does for messages.
    fn arrive_change(&self, change: &MessageChange, catch_up: bool) {
        let key = (change.conversation_id, change.seq);
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        if !inbox.changes.insert(key) {
            if !catch_up {
                inbox.duplicates += 1;
            }
            return;
        }
        inbox.in_order(change.conversation_id, change.seq);
        drop(inbox);
        let _ = self
            .frames
            .send(frames::ack_through(change.conversation_id, change.seq));
    }

    /// A catch-up batch: its messages and changes, merged by seq, since
    /// the batch lists them apart.
    fn arrive_batch(&self, messages: &[&Message], changes: &[MessageChange]) {
        let mut entries: Vec<(u64, Result<&Message, &MessageChange>)> = messages
            .iter()
            .map(|m| (m.seq, Ok(*m)))
            .chain(changes.iter().map(|c| (c.seq, Err(c))))
            .collect();
        entries.sort_by_key(|(seq, _)| *seq);
        for (_, entry) in entries {
            match entry {
                Ok(m) => self.arrive(m, false, true),
                Err(c) => self.arrive_change(c, true),
            }
        }
    }
}

impl Inbox {
    /// Counts a log entry that does not come after the last one seen in
    /// its conversation as out of order.
    fn in_order(&mut self, conversation: ConversationId, seq: u64) {
        let last = self.last_seq.insert(conversation, seq);
        if let Some(last) = last.filter(|l| seq <= *l) {
            self.reorders += 1;
            self.last_seq.insert(conversation, last);
        }
    }
}

/// One user during the run.
struct Member {
    user: BenchUser,
    api: UserClient,
    client: ChatClient,
    partner: UserId,
    conversation: Mutex<Option<ConversationId>>,
    /// The user's newest message, to edit.
    last_sent: Mutex<Option<MessageId>>,
    /// Frames for the user's socket (typing, acks).
    frames: mpsc::UnboundedSender<chat_core::protocol::ClientFrame>,
    inbox: Mutex<Inbox>,
    /// Messages sent to this user and acknowledged by the server.
    expected: Expected,
    /// The partner's [`expected`](Self::expected).
    partner_expected: Expected,
    /// Changes applied in the conversation, expected at both sockets.
    changes_expected: ExpectedChanges,
}

type Expected = Arc<Mutex<HashMap<MessageId, (ConversationId, u64)>>>;
type ExpectedChanges = Arc<Mutex<HashSet<(ConversationId, u64)>>>;

impl Member {
    /// Records a change the server applied: both sockets must get it.
    fn expect_change(&self, change: Option<&MessageChange>) {
        if let Some(c) = change {
            self.changes_expected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((c.conversation_id, c.seq));
        }
    }

    /// The direct conversation with the partner, once a message started it.
    fn conversation(&self) -> Option<ConversationId> {
        *self.conversation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One sample of a server.
#[derive(Debug, Serialize)]
struct ServerSample {
    pid: u32,
    at_secs: u64,
    rss_mib: Option<f64>,
    open_files: Option<u64>,
}

/// Appends a sample of each of `pids` to `samples`.
fn sample_servers(pids: &[u32], started: Instant, samples: &Mutex<Vec<ServerSample>>) {
    let at_secs = started.elapsed().as_secs();
    let mut samples = samples.lock().unwrap_or_else(|e| e.into_inner());
    for &pid in pids {
        samples.push(ServerSample {
            pid,
            at_secs,
            rss_mib: sys::rss_bytes(pid).ok().map(|b| b as f64 / 1048576.0),
            open_files: sys::open_files(pid),
        });
    }
}

#[derive(Debug, Serialize)]
struct OpReport {
    op: &'static str,
    errors: u64,
    latency: LatencySummary,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    users: usize,
    target_rate: f64,
    duration_secs: u64,
    operations: Vec<OpReport>,
    errors: BTreeMap<String, u64>,
    /// Messages the server answered `201` to, each expected at the
    /// recipient's socket.
    messages_acknowledged: u64,
    /// Distinct `message.new` frames on every socket (a sender's own
    /// socket gets its messages too).
    messages_received: u64,
    lost: u64,
    /// Up to ten lost messages, with where the recipient's socket stood.
    lost_examples: Vec<String>,
    duplicates: u64,
    reorders: u64,
    /// Direct messages that arrived as `message.group.new`.
    wrong_kind: u64,
    /// Changes (edits, reactions) applied, each expected at both members'
    /// sockets.
    changes_applied: u64,
    /// How many times a change missed a socket that should have had it.
    changes_lost: u64,
    samples: Vec<ServerSample>,
}

/// Runs the scenario.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.users >= 2 && args.users.is_multiple_of(2),
        "--users must be even and at least 2"
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let users = bench.create_users(args.users).await?;
    out.progress(&format!("opening {} WebSockets", users.len()));
    let conns = bench.connect_all(users.iter().enumerate()).await?;

    let mut sockets = JoinSet::new();
    let mut members = Vec::with_capacity(users.len());
    let expected: Vec<Expected> = users.iter().map(|_| Expected::default()).collect();
    // One set per pair: both members expect every change of their conversation.
    let changes: Vec<ExpectedChanges> = (0..users.len() / 2)
        .map(|_| ExpectedChanges::default())
        .collect();
    for (i, conn) in conns.into_iter().enumerate() {
        let user = users[i].clone();
        let partner = users[i ^ 1].session.user_id;
        let client = bench.client(i).clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let member = Arc::new(Member {
            api: client.user(&user.session),
            client,
            user,
            partner,
            conversation: Mutex::new(None),
            last_sent: Mutex::new(None),
            frames: tx,
            inbox: Mutex::new(Inbox::default()),
            expected: expected[i].clone(),
            partner_expected: expected[i ^ 1].clone(),
            changes_expected: changes[i / 2].clone(),
        });
        let (mut send, mut recv) = conn.split();
        sockets.spawn(async move {
            while let Some(frame) = rx.recv().await {
                if send.send(&frame).await.is_err() {
                    break;
                }
            }
            let _ = send.close().await;
        });
        let m = member.clone();
        sockets.spawn(async move {
            while let Ok(Some(frame)) = recv.next().await {
                match frame {
                    ServerFrame::MessageNew(view) => m.arrive(&view.message, false, false),
                    // Every conversation here is direct: a group frame is
                    // wrong, but its message still counts as received.
                    ServerFrame::GroupMessageNew(view) => m.arrive(&view.message, true, false),
                    // The server takes a socket's catch-up snapshot a moment
                    // after the handshake, so what is committed in between
                    // comes in a catch-up batch, not live.
                    ServerFrame::Offline { messages, changes } => {
                        let messages: Vec<&Message> =
                            messages.iter().map(|o| &o.message.message).collect();
                        m.arrive_batch(&messages, &changes);
                    }
                    ServerFrame::MessageChanged(change) => m.arrive_change(&change, false),
                    _ => {}
                }
            }
        });
        members.push(member);
    }

    let stats = Arc::new(Mutex::new(OpStats::default()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let sampler = {
        let samples = samples.clone();
        let pids = out.server_pids.clone();
        let every = Duration::from_secs(args.sample_every);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                sample_servers(&pids, started, &samples);
            }
        })
    };

    out.progress(&format!(
        "mixed load: {} ops/s for {} s over {} users",
        args.rate, args.duration, args.users
    ));
    let mut rng = Rng::seeded()?;
    let mut ops = JoinSet::new();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let end = started + Duration::from_secs(args.duration);
    let mut due = started;
    let mut issued = 0u64;
    while due < end {
        tokio::time::sleep_until(due).await;
        let member = members[rng.below(members.len())].clone();
        let op = Op::pick(rng.next() as u32);
        let stats = stats.clone();
        let password = bench.password().to_owned();
        issued += 1;
        let tag = format!("{}-{issued}", bench.prefix());
        ops.spawn(async move {
            let began = Instant::now();
            let result = perform(op, &member, &password, &tag).await;
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(()) => report::record(
                    s.latency.entry(op).or_insert_with(report::histogram),
                    began.elapsed(),
                ),
                Err(e) => *s.errors.entry(format!("{}: {e}", op.name())).or_insert(0) += 1,
            }
        });
        while ops.try_join_next().is_some() {}
        due += interval;
        if issued.is_multiple_of((args.rate as u64 * 10).max(1)) {
            out.progress(&format!(
                "{} s, {issued} operations",
                started.elapsed().as_secs()
            ));
        }
    }
    while ops.join_next().await.is_some() {}
    tokio::time::sleep(GRACE).await;
    sampler.abort();
    // A last sample, after the load.
    sample_servers(&out.server_pids, started, &samples);

    let (mut acknowledged, mut received, mut lost, mut duplicates, mut reorders) = (0, 0, 0, 0, 0);
    let mut lost_examples = Vec::new();
    let mut wrong_kind = 0;
    let (mut changes_applied, mut changes_lost) = (0, 0);
    for (i, m) in members.iter().enumerate() {
        let applied = m
            .changes_expected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let inbox = m.inbox.lock().unwrap_or_else(|e| e.into_inner());
        if i % 2 == 0 {
            // Both members of a pair share the set.
            changes_applied += applied.len() as u64;
        }
        for key in &applied {
            if !inbox.changes.contains(key) {
                changes_lost += 1;
                if lost_examples.len() < 10 {
                    lost_examples.push(format!("change {key:?} at {}", m.user.username));
                }
            }
        }
    }
    for m in &members {
        let expected = m.expected.lock().unwrap_or_else(|e| e.into_inner());
        let inbox = m.inbox.lock().unwrap_or_else(|e| e.into_inner());
        acknowledged += expected.len() as u64;
        received += inbox.seen.len() as u64;
        for (id, (conversation, seq)) in expected.iter() {
            if !inbox.seen.contains(id) {
                lost += 1;
                if lost_examples.len() < 10 {
                    let last = inbox.last_seq.get(conversation).copied().unwrap_or(0);
                    lost_examples.push(format!(
                        "{id} (conversation {conversation}, seq {seq}; the socket's last seq there: {last})"
                    ));
                }
            }
        }
        duplicates += inbox.duplicates;
        wrong_kind += inbox.wrong_kind;
        reorders += inbox.reorders;
    }
    drop(members);
    sockets.abort_all();

    let stats = std::mem::take(&mut *stats.lock().unwrap_or_else(|e| e.into_inner()));
    let mut operations: Vec<OpReport> = MIX
        .iter()
        .map(|(op, _)| OpReport {
            op: op.name(),
            errors: stats
                .errors
                .iter()
                .filter(|(k, _)| k.starts_with(op.name()))
                .map(|(_, n)| n)
                .sum(),
            latency: stats.latency.get(op).map_or_else(
                || LatencySummary::of(&report::histogram()),
                LatencySummary::of,
            ),
        })
        .collect();
    operations.sort_by_key(|o| std::cmp::Reverse(o.latency.count));
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    let report = Report {
        scenario: "mixed",
        users: args.users,
        target_rate: args.rate,
        duration_secs: args.duration,
        operations,
        errors: stats.errors,
        messages_acknowledged: acknowledged,
        messages_received: received,
        lost,
        lost_examples,
        duplicates,
        reorders,
        wrong_kind,
        changes_applied,
        changes_lost,
        samples,
    };
    if out.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(
        if lost + changes_lost + duplicates + reorders + wrong_kind > 0 {
            ExitCode::from(2)
        } else if !report.errors.is_empty() {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// One operation by `m`.
async fn perform(op: Op, m: &Member, password: &str, tag: &str) -> anyhow::Result<()> {
    match op {
        Op::Send => {
            let sent = m
                .api
                .send_direct(m.partner, &format!("mixed {tag}"), Some(tag))
                .await?;
            *m.conversation.lock().unwrap_or_else(|e| e.into_inner()) = Some(sent.conversation_id);
            *m.last_sent.lock().unwrap_or_else(|e| e.into_inner()) = Some(sent.message_id);
            m.partner_expected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(sent.message_id, (sent.conversation_id, sent.seq));
        }
        Op::Edit => {
            let last = *m.last_sent.lock().unwrap_or_else(|e| e.into_inner());
            if let (Some(c), Some(message)) = (m.conversation(), last) {
                let changed = m.api.edit(c, message, &format!("edited {tag}")).await?;
                m.expect_change(changed.change.as_ref());
            } else {
                m.api.conversations().await?;
            }
        }
        Op::React => {
            let target = m
                .inbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .partner_last;
            if let Some((c, message)) = target {
                // Toggle: a reaction that was already there (or was not)
                // changes nothing and makes no entry.
                let add = tag.ends_with(['0', '2', '4', '6', '8']);
                let changed = m.api.react(c, message, "👍", add).await?;
                m.expect_change(changed.change.as_ref());
            } else {
                m.api.conversations().await?;
            }
        }
        Op::History => {
            if let Some(c) = m.conversation() {
                m.api.history(c, Some(50), None).await?;
            } else {
                m.api.conversations().await?;
            }
        }
        Op::Conversations => {
            m.api.conversations().await?;
        }
        Op::Read => {
            if let Some(c) = m.conversation() {
                m.api.mark_read(c).await?;
            } else {
                m.api.unread().await?;
            }
        }
        Op::Typing => {
            if let Some(c) = m.conversation() {
                m.frames
                    .send(frames::typing(c, true))
                    .map_err(|_| anyhow::anyhow!("socket closed"))?;
            }
        }
        Op::Login => {
            m.client.login(&m.user.username, password).await?;
        }
    }
    Ok(())
}

/// A small xorshift generator: the mix needs no more, and a seed from the
/// OS keeps runs apart.
struct Rng(u64);

impl Rng {
    fn seeded() -> anyhow::Result<Self> {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(Self(u64::from_le_bytes(seed) | 1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn print_table(r: &Report) {
    println!(
        "mixed: {} users, {} ops/s for {} s",
        r.users, r.target_rate, r.duration_secs
    );
    println!(
        "{:20} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "operation", "count", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for o in &r.operations {
        let l = &o.latency;
        println!(
            "{:20} {:>8} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            o.op, l.count, o.errors, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
    }
    println!(
        "changes: {} applied (edits and reactions, each expected at both members' sockets); lost {}",
        r.changes_applied, r.changes_lost
    );
    println!(
        "messages: {} acknowledged, {} received (senders' own sockets included, live or in catch-up batches); lost {}, duplicates {}, out of order {}, as group frames {}",
        r.messages_acknowledged,
        r.messages_received,
        r.lost,
        r.duplicates,
        r.reorders,
        r.wrong_kind
    );
    for example in &r.lost_examples {
        println!("lost: {example}");
    }
    for (what, n) in &r.errors {
        println!("error: {what} x{n}");
    }
    if !r.samples.is_empty() {
        println!(
            "{:>6} {:>8} {:>10} {:>11}",
            "pid", "at s", "RSS MiB", "open files"
        );
        for s in &r.samples {
            println!(
                "{:>6} {:>8} {:>10} {:>11}",
                s.pid,
                s.at_secs,
                s.rss_mib.map_or("-".to_owned(), |m| format!("{m:.1}")),
                s.open_files.map_or("-".to_owned(), |n| n.to_string())
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_gives_each_operation_its_share() {
        let mut counts: HashMap<Op, u32> = HashMap::new();
        for roll in 0..100 {
            *counts.entry(Op::pick(roll)).or_default() += 1;
        }
        for (op, share) in MIX {
            assert_eq!(counts.get(&op).copied().unwrap_or(0), share, "{op:?}");
        }
        assert_eq!(MIX.iter().map(|(_, s)| s).sum::<u32>(), 100);
    }

    #[test]
    fn the_generator_spreads_over_its_range() {
        let mut rng = Rng::seeded().expect("seed");
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[rng.below(10)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
