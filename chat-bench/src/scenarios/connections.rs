//! `connections`: opens `--count` authenticated idle WebSockets at
//! `--rate` per second over `--users` users, holds them `--hold` seconds
//! while reading (so the server's pings are answered), then closes them.
//!
//! Reports the connect rate achieved, connect latency, failures (grouped by
//! reason), connections the server closed early, and with `--server-pid`
//! the server's resident memory before and after, per connection.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::{self, LatencySummary, Output, ServerMemory, Table};
use crate::setup::{Bench, BenchUser};
use crate::sys;

/// Open files kept aside for everything but the WebSockets (HTTP pool,
/// stdio, the runtime).
const SPARE_FILES: u64 = 64;

/// `connections` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// WebSockets to open.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Connections opened per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Seconds to hold the connections once all are open.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// Users to sign up (at most --count); the connections are spread
    /// over them. Signups are slow (an argon2 hash each), so few users with
    /// several connections each is the default.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Most connection attempts in flight at once; when reached, opening
    /// falls behind the rate.
    #[arg(long, default_value_t = 1000)]
    max_pending: usize,
    /// Seconds before a connection attempt counts as failed.
    #[arg(long, default_value_t = 15)]
    connect_timeout: u64,
}

/// Counters shared by the connection tasks.
#[derive(Debug)]
struct Stats {
    connected: AtomicU64,
    failed: AtomicU64,
    closed_early: AtomicU64,
    frames: AtomicU64,
    opening_done: AtomicBool,
    connect_latency: Mutex<Histogram<u64>>,
    failures: Mutex<BTreeMap<String, u64>>,
    early_closes: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    fn resolved(&self) -> u64 {
        self.connected.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

/// The `connections` report.
#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    instances: usize,
    users: usize,
    count: usize,
    target_rate: f64,
    hold_secs: u64,
    connected: u64,
    failed: u64,
    open_secs: f64,
    connect_rate: f64,
    connect_latency: LatencySummary,
    /// Connections the server closed (or that failed) before the hold ended.
    closed_early: u64,
    /// Frames the idle connections received (catch-up, presence).
    frames_received: u64,
    failures: BTreeMap<String, u64>,
    early_closes: BTreeMap<String, u64>,
    servers: Vec<ServerMemory>,
    /// Server RSS growth per open connection, summed over the servers.
    server_bytes_per_connection: Option<f64>,
    client_rss_before: Option<u64>,
    client_rss_after: Option<u64>,
}

/// Runs the scenario.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    check_file_limits(out, args.count)?;

    let users = Arc::new(bench.create_users(args.users.clamp(1, args.count)).await?);
    let before = out.sample_servers();
    let client_before = sys::own_rss_bytes();

    let stats = Arc::new(Stats {
        connected: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        closed_early: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        opening_done: AtomicBool::new(false),
        connect_latency: Mutex::new(report::histogram()),
        failures: Mutex::new(BTreeMap::new()),
        early_closes: Mutex::new(BTreeMap::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let pending = Arc::new(Semaphore::new(args.max_pending.max(1)));
    let connect_timeout = Duration::from_secs(args.connect_timeout);
    out.progress(&format!(
        "opening {} connections at {}/s over {} users on {} instance(s)",
        args.count,
        args.rate,
        users.len(),
        bench.instances()
    ));
    let progress = tokio::spawn(print_progress(stats.clone(), args.count as u64));

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for k in 0..args.count {
        let due = started + Duration::from_secs_f64(k as f64 / args.rate);
        tokio::time::sleep_until(due).await;
        let permit = pending
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (bench, users, stats, stop) =
            (bench.clone(), users.clone(), stats.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let user = &users[k % users.len()];
            hold_one(&bench, k, user, connect_timeout, &stats, stop, permit).await;
        });
    }
    while stats.resolved() < args.count as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_secs = started.elapsed().as_secs_f64();
    stats.opening_done.store(true, Ordering::Relaxed);
    let _ = progress.await;
    let connected = stats.connected.load(Ordering::Relaxed);
    out.progress(&format!(
        "{connected} open after {open_secs:.1} s; holding {} s",
        args.hold
    ));

    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let after = out.sample_servers();
    let client_after = sys::own_rss_bytes();
    let still_open = connected.saturating_sub(stats.closed_early.load(Ordering::Relaxed));
    let _ = stop_tx.send(true);
    out.progress(&format!("closing {still_open} connections"));
    let closing = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), closing)
        .await
        .is_err()
    {
        out.progress("warning: some connections did not close within 30 s");
    }

    let servers = report::server_memory(&before, &after);
    let delta_sum: Option<i64> = servers.iter().map(|s| s.delta).sum();
    let report = Report {
        scenario: "connections",
        instances: bench.instances(),
        users: users.len(),
        count: args.count,
        target_rate: args.rate,
        hold_secs: args.hold,
        connected,
        failed: stats.failed.load(Ordering::Relaxed),
        open_secs,
        connect_rate: report::per_second(connected, open_secs),
        connect_latency: LatencySummary::of(&lock(&stats.connect_latency)),
        closed_early: stats.closed_early.load(Ordering::Relaxed),
        frames_received: stats.frames.load(Ordering::Relaxed),
        failures: lock(&stats.failures).clone(),
        early_closes: lock(&stats.early_closes).clone(),
        server_bytes_per_connection: delta_sum
            .filter(|_| still_open > 0 && !servers.is_empty())
            .map(|d| d as f64 / still_open as f64),
        servers,
        client_rss_before: client_before,
        client_rss_after: client_after,
    };
    if out.json {
        report::print_json(&report)?;
    } else {
        print!("{}", table(&report, still_open).render());
    }
    if report
        .servers
        .iter()
        .any(|s| s.delta.is_some_and(|d| d <= 0))
    {
        out.progress(
            "note: a server's RSS did not grow: it reused memory freed by an earlier run; \
             measure memory per connection against a freshly started server",
        );
    }
    Ok(if report.failed > 0 || report.closed_early > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Opens connection `k`, records the outcome, then reads until told to
/// stop or the server closes it.
async fn hold_one(
    bench: &Bench,
    k: usize,
    user: &BenchUser,
    connect_timeout: Duration,
    stats: &Stats,
    mut stop: watch::Receiver<bool>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let t0 = Instant::now();
    let attempt = tokio::time::timeout(connect_timeout, bench.connect(k, user)).await;
    drop(permit);
    let mut conn = match attempt {
        Ok(Ok(conn)) => {
            report::record(&mut lock(&stats.connect_latency), t0.elapsed());
            stats.connected.fetch_add(1, Ordering::Relaxed);
            conn
        }
        Ok(Err(e)) => return fail(stats, &stats.failures, format!("{}: {e}", e.code())),
        Err(_) => return fail(stats, &stats.failures, "connect timed out".to_owned()),
    };
    loop {
        tokio::select! {
            frame = conn.next_raw() => match frame {
                Ok(Some(_)) => {
                    stats.frames.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => {
                    stats.closed_early.fetch_add(1, Ordering::Relaxed);
                    count(&stats.early_closes, "closed by the server".to_owned());
                    return;
                }
                Err(e) => {
                    stats.closed_early.fetch_add(1, Ordering::Relaxed);
                    count(&stats.early_closes, format!("{}: {e}", e.code()));
                    return;
                }
            },
            _ = stop.changed() => {
                let _ = conn.close().await;
                return;
            }
        }
    }
}

fn fail(stats: &Stats, reasons: &Mutex<BTreeMap<String, u64>>, reason: String) {
    count(reasons, reason);
    stats.failed.fetch_add(1, Ordering::Relaxed);
}

fn count(reasons: &Mutex<BTreeMap<String, u64>>, reason: String) {
    let mut reason = reason;
    if reason.len() > 160 {
        let cut = (0..=160)
            .rev()
            .find(|&i| reason.is_char_boundary(i))
            .unwrap_or(0);
        reason.truncate(cut);
    }
    *lock(reasons).entry(reason).or_default() += 1;
}

/// Locks a mutex, going on with the data if a task panicked holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Prints the opening progress every second until every attempt resolved.
async fn print_progress(stats: Arc<Stats>, count: u64) {
    let started = Instant::now();
    while !stats.opening_done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let connected = stats.connected.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.1} s: {connected}/{count} open, {} failed, {} closed early",
            started.elapsed().as_secs_f64(),
            stats.failed.load(Ordering::Relaxed),
            stats.closed_early.load(Ordering::Relaxed),
        );
    }
}

/// Fails when this process cannot open `count` sockets, and warns when a
/// `--server-pid` cannot accept them.
fn check_file_limits(out: &Output, count: usize) -> anyhow::Result<()> {
    let limit = sys::raise_nofile_limit()?;
    let needed = count as u64 + SPARE_FILES;
    anyhow::ensure!(
        needed <= limit,
        "{count} connections need about {needed} open files, but this process may open only \
         {limit} (`ulimit -Hn`). Raise the hard limit (e.g. `ulimit -n 65536` as root, or \
         LimitNOFILE= in systemd), or split the load over several chat-bench processes."
    );
    for &pid in &out.server_pids {
        match sys::nofile_limit_of(pid) {
            Some(server) if server < needed => out.progress(&format!(
                "warning: server pid {pid} may open only {server} files; {count} connections \
                 need more (start it after `ulimit -n {needed}`)"
            )),
            _ => {}
        }
    }
    Ok(())
}

fn table(r: &Report, still_open: u64) -> Table {
    let mut t = Table::new();
    t.section(&format!(
        "connections: {} over {} users, {} instance(s), target {}/s, hold {} s",
        r.count, r.users, r.instances, r.target_rate, r.hold_secs
    ))
    .row("connected", r.connected)
    .row("failed", r.failed)
    .row(
        "connect rate",
        format!("{:.1}/s ({:.1} s to open)", r.connect_rate, r.open_secs),
    )
    .row(
        "connect latency p50/p90/p99/p99.9/max",
        r.connect_latency.cell(),
    )
    .row("closed early (during hold)", r.closed_early)
    .row("frames received", r.frames_received);
    for (reason, n) in &r.failures {
        t.row(format!("failure x{n}"), reason);
    }
    for (reason, n) in &r.early_closes {
        t.row(format!("early close x{n}"), reason);
    }
    t.servers(&r.servers, still_open, "connection");
    if let Some(b) = r.server_bytes_per_connection {
        t.row(
            "server bytes per connection (all servers)",
            format!("{b:.0}"),
        );
    }
    if let (Some(b), Some(a)) = (r.client_rss_before, r.client_rss_after) {
        t.row(
            "chat-bench RSS",
            format!("{} -> {}", report::mib(b), report::mib(a)),
        );
    }
    t
}
