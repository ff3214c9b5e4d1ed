//! `offline`: the reconnect storm. `--users` users each get `--messages`
//! direct messages while they have no connection (from `--senders` senders,
//! each writing to its share of them), then all of them connect at once.
//!
//! Each returning user reads its `messages.offline` batches, acknowledges
//! each batch with `messages.ack`, and is done when it holds all its
//! messages. The senders stay connected and time the `message.delivered`
//! receipt that says the server recorded a user's last acknowledgement, so
//! "delivered and acked" is measured end to end. Every message must arrive
//! exactly once, in seq order ([`crate::verify`]).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use chat_client::{ServerFrame, UserId, WsReceiver, WsSender, frames};
use chat_core::model::Message;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::peers::parse_content;
use crate::report::{self, LatencySummary, Output, ServerMemory, Table};
use crate::setup::{Bench, BenchUser};
use crate::verify::{DeliveryCheck, IndexSet, Verdict};

/// `offline` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Users who come back to waiting messages.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Messages waiting for each of them.
    #[arg(long, default_value_t = 100)]
    messages: u64,
    /// Users who send the waiting messages, each to its share of the
    /// returning users (default: one per 100 of them).
    #[arg(long)]
    senders: Option<usize>,
    /// Messages each sender has in flight while filling the queues.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    window: u32,
    /// Connections opening at once during the storm.
    #[arg(long, default_value_t = 1000)]
    storm_concurrency: usize,
    /// Most seconds the storm may take before the run gives up.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// The `offline` report.
#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    instances: usize,
    users: usize,
    messages_per_user: u64,
    senders: usize,
    /// Messages stored while the users were away.
    queued: u64,
    fill_secs: f64,
    fill_per_sec: f64,
    /// Storm start to the last user holding all its messages.
    all_delivered_secs: Option<f64>,
    /// Storm start to the last receipt of a final acknowledgement.
    all_acked_secs: Option<f64>,
    /// Messages delivered per second over the storm.
    delivered_per_sec: f64,
    /// Storm start to the socket being open, per user.
    connected: LatencySummary,
    /// Storm start to holding every message, per user.
    delivered: LatencySummary,
    /// Storm start to the sender's receipt for the last message, per user.
    acked: LatencySummary,
    batches: u64,
    acks_sent: u64,
    users_incomplete: u64,
    receipts_missing: u64,
    errors: BTreeMap<String, u64>,
    verify: Verdict,
    unexpected_frames: u64,
    connections_failed: BTreeMap<String, u64>,
    servers: Vec<ServerMemory>,
}

/// What the senders' readers share.
struct Shared {
    /// Returning user -> their index.
    index_of: HashMap<UserId, usize>,
    /// Per returning user: the message indexes the server acknowledged.
    acked: Vec<Mutex<IndexSet>>,
    /// Per returning user: storm start to the final receipt (µs), 0 until.
    receipt_micros: Vec<AtomicU64>,
    stored: AtomicU64,
    /// Returning users holding all their messages, or whose connection
    /// failed.
    finished: AtomicU64,
    /// Final receipts received.
    receipts: AtomicU64,
    /// Returning users whose connection failed.
    failed: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    messages: u64,
    /// When the storm started (set once, before it does).
    storm: OnceLock<Instant>,
}

/// Runs the scenario.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.users > 0, "--users must be at least 1");
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    let senders = args.senders.unwrap_or(args.users.div_ceil(100)).max(1);
    anyhow::ensure!(senders <= args.users, "--senders must be at most --users");
    let users = bench.create_users(args.users + senders).await?;
    let (returning, sending) = users.split_at(args.users);
    let shared = Arc::new(Shared {
        index_of: returning
            .iter()
            .enumerate()
            .map(|(i, u)| (u.session.user_id, i))
            .collect(),
        acked: (0..args.users).map(|_| Mutex::default()).collect(),
        receipt_micros: (0..args.users).map(|_| AtomicU64::new(0)).collect(),
        stored: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        receipts: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        errors: Mutex::default(),
        messages: args.messages,
        storm: OnceLock::new(),
    });

    out.progress(&format!("opening {senders} sender WebSockets"));
    let sender_conns = bench.connect_all(sending.iter().enumerate()).await?;

    let total = args.users as u64 * args.messages;
    out.progress(&format!(
        "filling: {total} messages to {} users who are away",
        args.users
    ));
    let fill_started = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (s, conn) in sender_conns.into_iter().enumerate() {
        let (tx, rx) = conn.split();
        let window = Arc::new(Semaphore::new(args.window as usize));
        let mine: Vec<(usize, UserId)> = returning
            .iter()
            .enumerate()
            .filter(|(i, _)| i % senders == s)
            .map(|(i, u)| (i, u.session.user_id))
            .collect();
        writers.push(tokio::spawn(fill(
            tx,
            mine,
            args.messages,
            format!("{}-{s}", bench.prefix()),
            window.clone(),
        )));
        readers.push(tokio::spawn(read_sender(
            rx,
            shared.clone(),
            window,
            stop_rx.clone(),
        )));
    }
    let progress = tokio::spawn(fill_progress(shared.clone(), total));
    let mut sender_halves = Vec::new();
    for w in writers {
        sender_halves.push(w.await.context("a sender task failed")??);
    }
    // Every message answered (stored or refused) before the storm.
    let answered_by = Instant::now() + Duration::from_secs(30);
    while shared.stored.load(Ordering::Relaxed) + error_count(&shared) < total
        && Instant::now() < answered_by
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    progress.abort();
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let queued = shared.stored.load(Ordering::Relaxed);
    out.progress(&format!(
        "filled: {queued} messages stored in {fill_secs:.1} s"
    ));

    out.progress(&format!(
        "storm: {} users connect at once ({} handshakes in flight)",
        args.users, args.storm_concurrency
    ));
    let before = out.sample_servers();
    let storm = Instant::now();
    let _ = shared.storm.set(storm);
    let ctx = Storm {
        bench: bench.clone(),
        messages: args.messages,
        started: storm,
        gate: Arc::new(Semaphore::new(args.storm_concurrency.max(1))),
        stop: stop_rx.clone(),
        shared: shared.clone(),
    };
    let returning_tasks: Vec<_> = returning
        .iter()
        .enumerate()
        .map(|(i, user)| tokio::spawn(come_back(ctx.clone(), senders + i, user.clone())))
        .collect();
    let deadline = storm + Duration::from_secs(args.timeout);
    let everyone = args.users as u64;
    while Instant::now() < deadline
        && !(shared.finished.load(Ordering::Relaxed) >= everyone
            && shared.receipts.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed)
                >= everyone)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = out.sample_servers();
    let _ = stop_tx.send(true);

    let mut r = Report {
        scenario: "offline",
        instances: bench.instances(),
        users: args.users,
        messages_per_user: args.messages,
        senders,
        queued,
        fill_secs,
        fill_per_sec: report::per_second(queued, fill_secs),
        all_delivered_secs: None,
        all_acked_secs: None,
        delivered_per_sec: 0.0,
        connected: LatencySummary::of(&report::histogram()),
        delivered: LatencySummary::of(&report::histogram()),
        acked: LatencySummary::of(&report::histogram()),
        batches: 0,
        acks_sent: 0,
        users_incomplete: 0,
        receipts_missing: 0,
        errors: BTreeMap::new(),
        verify: Verdict::default(),
        unexpected_frames: 0,
        connections_failed: BTreeMap::new(),
        servers: report::server_memory(&before, &after),
    };
    let (mut connected, mut delivered) = (report::histogram(), report::histogram());
    let mut last_delivered = Duration::ZERO;
    let mut complete = true;
    for (i, task) in returning_tasks.into_iter().enumerate() {
        let u = task.await.context("a returning user's task failed")?;
        if let Some(t) = u.connected {
            report::record(&mut connected, t);
        }
        match u.delivered {
            Some(t) => {
                report::record(&mut delivered, t);
                last_delivered = last_delivered.max(t);
            }
            None => {
                r.users_incomplete += 1;
                complete = false;
            }
        }
        let acked = shared.acked[i].lock().unwrap_or_else(|e| e.into_inner());
        r.verify
            .add(&u.check.finish(&acked, &acked, u.failed.is_none()));
        r.batches += u.batches;
        r.acks_sent += u.acks_sent;
        r.unexpected_frames += u.unexpected;
        if let Some(why) = u.failed {
            *r.connections_failed.entry(why).or_default() += 1;
        }
    }
    let mut acked = report::histogram();
    let mut last_acked = Duration::ZERO;
    for micros in &shared.receipt_micros {
        match micros.load(Ordering::Relaxed) {
            0 => r.receipts_missing += 1,
            m => {
                let t = Duration::from_micros(m);
                report::record(&mut acked, t);
                last_acked = last_acked.max(t);
            }
        }
    }
    if complete {
        r.all_delivered_secs = Some(last_delivered.as_secs_f64());
        r.delivered_per_sec = report::per_second(r.verify.received, last_delivered.as_secs_f64());
    }
    if r.receipts_missing == 0 {
        r.all_acked_secs = Some(last_acked.as_secs_f64());
    }
    r.connected = LatencySummary::of(&connected);
    r.delivered = LatencySummary::of(&delivered);
    r.acked = LatencySummary::of(&acked);
    for reader in readers {
        reader.await.context("a sender task failed")?;
    }
    r.errors = std::mem::take(&mut *shared.errors.lock().unwrap_or_else(|e| e.into_inner()));
    for tx in sender_halves {
        let _ = tx.close().await;
    }

    if out.json {
        report::print_json(&r)?;
    } else {
        print!("{}", table(&r).render());
    }
    Ok(if !r.verify.ok() {
        ExitCode::from(2)
    } else if r.users_incomplete > 0
        || r.receipts_missing > 0
        || !r.errors.is_empty()
        || !r.connections_failed.is_empty()
        || r.unexpected_frames > 0
        || queued < total
    {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Sends `messages` messages to each of `to` (round-robin over them, so
/// every queue fills at once), at most the window's permits in flight.
/// Content `t=0;i=<k>`, `client_msg_id` `<prefix>-<user index>-<k>`.
async fn fill(
    mut tx: WsSender,
    to: Vec<(usize, UserId)>,
    messages: u64,
    prefix: String,
    window: Arc<Semaphore>,
) -> anyhow::Result<WsSender> {
    for k in 0..messages {
        for (i, user) in &to {
            window
                .acquire()
                .await
                .context("the sender's reader stopped")?
                .forget();
            let id = format!("{prefix}-{i}-{k}");
            tx.send(&frames::send_direct(
                *user,
                &format!("t=0;i={k}"),
                Some(&id),
            ))
            .await
            .context("a sender's WebSocket failed")?;
        }
    }
    Ok(tx)
}

/// A sender's reader: `message.sent` and `error` free the window; the
/// receipts of the returning users' acknowledgements are timed.
async fn read_sender(
    mut rx: WsReceiver,
    shared: Arc<Shared>,
    window: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let frame = tokio::select! {
            frame = rx.next() => frame,
            _ = stop.changed() => return,
        };
        match frame {
            Ok(Some(ServerFrame::MessageSent(sent))) => {
                window.add_permits(1);
                let parsed = sent.client_msg_id.as_deref().and_then(user_and_index);
                if let Some((i, k)) = parsed.filter(|(i, _)| *i < shared.acked.len()) {
                    shared.acked[i]
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(k);
                    shared.stored.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(ServerFrame::Error(e))) => {
                if e.client_msg_id.is_some() {
                    window.add_permits(1);
                }
                *shared
                    .errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(e.code)
                    .or_default() += 1;
            }
            Ok(Some(ServerFrame::Delivered(receipt))) if receipt.seq >= shared.messages => {
                if let (Some(&i), Some(storm)) =
                    (shared.index_of.get(&receipt.user_id), shared.storm.get())
                {
                    let micros = u64::try_from(storm.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let first = shared.receipt_micros[i]
                        .compare_exchange(0, micros.max(1), Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok();
                    if first {
                        shared.receipts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(Some(_)) | Err(chat_client::ClientError::Decode(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
}

/// What one returning user saw.
struct Returned {
    check: DeliveryCheck,
    /// Storm start to the socket being open.
    connected: Option<Duration>,
    /// Storm start to holding every message.
    delivered: Option<Duration>,
    batches: u64,
    acks_sent: u64,
    unexpected: u64,
    /// Why the connection failed or ended early.
    failed: Option<String>,
}

/// What every returning user shares.
#[derive(Clone)]
struct Storm {
    bench: Bench,
    /// Messages waiting for each user.
    messages: u64,
    started: Instant,
    /// Bounds the handshakes in flight.
    gate: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
    shared: Arc<Shared>,
}

/// One returning user: connects (at most the gate's permits at once),
/// reads its catch-up, acknowledges each batch, and stays connected until
/// `stop` so that its acknowledgements are processed.
async fn come_back(mut ctx: Storm, conn_index: usize, user: BenchUser) -> Returned {
    let mut r = Returned {
        check: DeliveryCheck::new(),
        connected: None,
        delivered: None,
        batches: 0,
        acks_sent: 0,
        unexpected: 0,
        failed: None,
    };
    let permit = ctx.gate.acquire().await;
    let conn = ctx.bench.connect(conn_index, &user).await;
    drop(permit);
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            r.failed = Some(format!("connect: {}", e.code()));
            ctx.shared.failed.fetch_add(1, Ordering::Relaxed);
            ctx.shared.finished.fetch_add(1, Ordering::Relaxed);
            return r;
        }
    };
    r.connected = Some(ctx.started.elapsed());
    let mut acked_through = 0;
    loop {
        let frame = tokio::select! {
            frame = conn.next() => frame,
            _ = ctx.stop.changed() => break,
        };
        let arrived: Vec<(Message, bool)> = match frame {
            Ok(Some(ServerFrame::Offline { messages, .. })) => {
                r.batches += 1;
                messages
                    .into_iter()
                    .map(|o| (o.message.message, true))
                    .collect()
            }
            Ok(Some(ServerFrame::MessageNew(view))) => vec![(view.message, false)],
            Ok(Some(_)) | Err(chat_client::ClientError::Decode(_)) => {
                r.unexpected += 1;
                continue;
            }
            Ok(None) => {
                r.failed = Some("closed by the server".to_owned());
                break;
            }
            Err(e) => {
                r.failed = Some(e.code().to_owned());
                break;
            }
        };
        let mut conversation = None;
        for (m, catch_up) in arrived {
            let Some((_, k)) = parse_content(&m.content) else {
                r.unexpected += 1;
                continue;
            };
            conversation = Some(m.conversation_id);
            r.check.record(k, m.seq, catch_up);
        }
        let through = r.check.contiguous_seq();
        if let Some(c) = conversation.filter(|_| through > acked_through)
            && conn.send(&frames::ack_through(c, through)).await.is_ok()
        {
            acked_through = through;
            r.acks_sent += 1;
        }
        if r.delivered.is_none() && through >= ctx.messages {
            r.delivered = Some(ctx.started.elapsed());
            ctx.shared.finished.fetch_add(1, Ordering::Relaxed);
        }
    }
    if r.failed.is_some() && r.delivered.is_none() {
        ctx.shared.failed.fetch_add(1, Ordering::Relaxed);
        ctx.shared.finished.fetch_add(1, Ordering::Relaxed);
    }
    let _ = conn.close().await;
    r
}

/// `<prefix>-<sender>-<user index>-<k>` -> (user index, k).
fn user_and_index(client_msg_id: &str) -> Option<(usize, u64)> {
    let mut parts = client_msg_id.rsplit('-');
    let k = parts.next()?.parse().ok()?;
    let i = parts.next()?.parse().ok()?;
    Some((i, k))
}

fn error_count(shared: &Shared) -> u64 {
    shared
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .sum()
}

/// Prints the fill's progress every second.
async fn fill_progress(shared: Arc<Shared>, total: u64) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stored = shared.stored.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.1} s: {stored}/{total} stored",
            started.elapsed().as_secs_f64()
        );
    }
}

/// The report as a table.
fn table(r: &Report) -> Table {
    let secs = |s: Option<f64>| s.map_or_else(|| "not reached".to_owned(), |s| format!("{s:.2} s"));
    let mut t = Table::new();
    t.section(&format!(
        "offline: {} users x {} waiting messages, {} sender(s), {} instance(s)",
        r.users, r.messages_per_user, r.senders, r.instances
    ))
    .row(
        "filled (stored while away)",
        format!(
            "{} in {:.1} s ({:.0}/s)",
            r.queued, r.fill_secs, r.fill_per_sec
        ),
    )
    .row("all delivered after", secs(r.all_delivered_secs))
    .row("all acked (receipts back) after", secs(r.all_acked_secs))
    .row(
        "delivered/s during the storm",
        format!("{:.0}", r.delivered_per_sec),
    )
    .section("per user, from the storm's start: p50 / p90 / p99 / p99.9 / max")
    .row("socket open", r.connected.cell())
    .row("holds every message", r.delivered.cell())
    .row("receipt of its last ack", r.acked.cell())
    .section("checks")
    .row("users missing messages", r.users_incomplete)
    .row("final receipts missing", r.receipts_missing)
    .verdict(&r.verify, "user's")
    .row(
        "catch-up batches / acks sent",
        format!("{} / {}", r.batches, r.acks_sent),
    )
    .row("unexpected frames", r.unexpected_frames);
    for (code, n) in &r.errors {
        t.row(format!("error frames {code}"), n);
    }
    for (why, n) in &r.connections_failed {
        t.row(format!("connections failed x{n}"), why);
    }
    t.servers(&r.servers, 0, "");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_msg_ids_name_the_user_and_the_index() {
        assert_eq!(user_and_index("bab12cd-3-17-42"), Some((17, 42)));
        assert_eq!(user_and_index("nope"), None);
    }
}
