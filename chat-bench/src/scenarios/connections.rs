//! `connections`: opens `--count` authenticated idle WebSockets at
//! `--rate` per second over `--users` users, holds them `--hold` seconds
//! while reading (so the server's pings are answered), then closes them.
//!
//! Reports the connect rate achieved, connect latency, failures (grouped by
//! reason), connections the server closed early, and with `--server-pid`
//! the server's resident memory before and after, per connection.

mod workers;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
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
    /// Tool processes to spread the connections over (each holds its share
    /// of --count, --rate and --users), for more connections than one
    /// process may open files. They start together, and the servers are
    /// measured while all of them hold their connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// Set by the tool on its worker processes: which share this one is.
    #[arg(long, hide = true)]
    worker_index: Option<u32>,
}

/// One process's part of the connections: `count` of them at `rate` per
/// second over `users` users, with connection indexes `first`,
/// `first + stride`, ... (which pick the instance and source address).
#[derive(Debug, Clone, Copy)]
struct Share {
    count: usize,
    rate: f64,
    users: usize,
    first: usize,
    stride: usize,
}

impl Share {
    /// Worker `index` of `workers`' share of `args`.
    fn of(args: &Args, index: usize, workers: usize) -> Self {
        let count = args.count / workers + usize::from(index < args.count % workers);
        Self {
            count,
            rate: args.rate * count as f64 / args.count as f64,
            users: (args.users / workers).clamp(1, count.max(1)),
            first: index,
            stride: workers,
        }
    }
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
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    #[serde(skip_deserializing)]
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
    /// Tool processes the connections were spread over.
    workers: u32,
}

/// Runs the scenario: in this process, or over `--workers` processes.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let workers = args.workers as usize;
    anyhow::ensure!(args.count >= workers, "--count must be at least --workers");
    if let Some(index) = args.worker_index {
        return workers::child(bench, out, args, Share::of(args, index as usize, workers)).await;
    }
    if workers > 1 {
        check_file_limits(out, Share::of(args, 0, workers).count)?;
        return workers::parent(bench, out, args).await;
    }
    check_file_limits(out, args.count)?;
    let mut holder = Holder::prepare(bench, out, args, Share::of(args, 0, 1)).await?;
    let before = out.sample_servers();
    holder.open(out).await;
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let after = out.sample_servers();
    let report = holder.close(out).await;
    finish(report, &before, &after, out)
}

/// Adds the servers' figures to `report`, prints it, and says how the run
/// went.
fn finish(
    mut report: Report,
    before: &[report::RssSample],
    after: &[report::RssSample],
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let still_open = report.connected.saturating_sub(report.closed_early);
    report.servers = report::server_memory(before, after);
    let delta_sum: Option<i64> = report.servers.iter().map(|s| s.delta).sum();
    report.server_bytes_per_connection = delta_sum
        .filter(|_| still_open > 0 && !report.servers.is_empty())
        .map(|d| d as f64 / still_open as f64);
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

/// One process's connections, from signup to close.
struct Holder {
    bench: Bench,
    share: Share,
    hold_secs: u64,
    instances: usize,
    connect_timeout: Duration,
    max_pending: usize,
    users: Arc<Vec<BenchUser>>,
    stats: Arc<Stats>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    open_secs: f64,
    client_before: Option<u64>,
}

impl Holder {
    /// Signs up the share's users.
    async fn prepare(
        bench: &Bench,
        out: &Output,
        args: &Args,
        share: Share,
    ) -> anyhow::Result<Self> {
        let users = Arc::new(bench.create_users(share.users).await?);
        out.progress(&format!(
            "{} users ready for {} connections",
            users.len(),
            share.count
        ));
        Ok(Self {
            bench: bench.clone(),
            share,
            hold_secs: args.hold,
            instances: bench.instances(),
            connect_timeout: Duration::from_secs(args.connect_timeout),
            max_pending: args.max_pending.max(1),
            users,
            stats: Arc::new(Stats {
                connected: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                closed_early: AtomicU64::new(0),
                frames: AtomicU64::new(0),
                opening_done: AtomicBool::new(false),
                connect_latency: Mutex::new(report::histogram()),
                failures: Mutex::new(BTreeMap::new()),
                early_closes: Mutex::new(BTreeMap::new()),
            }),
            stop: watch::channel(false).0,
            tasks: JoinSet::new(),
            open_secs: 0.0,
            client_before: sys::own_rss_bytes(),
        })
    }

    /// Opens the share's connections at its rate and returns once every
    /// attempt has resolved.
    async fn open(&mut self, out: &Output) {
        let share = self.share;
        let pending = Arc::new(Semaphore::new(self.max_pending));
        out.progress(&format!(
            "opening {} connections at {:.0}/s over {} users on {} instance(s)",
            share.count,
            share.rate,
            self.users.len(),
            self.instances
        ));
        let progress = tokio::spawn(print_progress(self.stats.clone(), share.count as u64));
        let started = Instant::now();
        for k in 0..share.count {
            let due = started + Duration::from_secs_f64(k as f64 / share.rate);
            tokio::time::sleep_until(due).await;
            let permit = pending
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (bench, users, stats, stop) = (
                self.bench.clone(),
                self.users.clone(),
                self.stats.clone(),
                self.stop.subscribe(),
            );
            let (index, timeout) = (share.first + k * share.stride, self.connect_timeout);
            self.tasks.spawn(async move {
                let user = &users[k % users.len()];
                hold_one(&bench, index, user, timeout, &stats, stop, permit).await;
            });
        }
        while self.stats.resolved() < share.count as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.open_secs = started.elapsed().as_secs_f64();
        self.stats.opening_done.store(true, Ordering::Relaxed);
        let _ = progress.await;
        out.progress(&format!(
            "{} open after {:.1} s",
            self.stats.connected.load(Ordering::Relaxed),
            self.open_secs
        ));
    }

    /// Closes every connection and reports (without server figures).
    async fn close(mut self, out: &Output) -> Report {
        let client_after = sys::own_rss_bytes();
        let stats = &self.stats;
        let connected = stats.connected.load(Ordering::Relaxed);
        let still_open = connected.saturating_sub(stats.closed_early.load(Ordering::Relaxed));
        let _ = self.stop.send(true);
        out.progress(&format!("closing {still_open} connections"));
        let closing = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(30), closing)
            .await
            .is_err()
        {
            out.progress("warning: some connections did not close within 30 s");
        }
        Report {
            scenario: "connections",
            instances: self.instances,
            users: self.users.len(),
            count: self.share.count,
            target_rate: self.share.rate,
            hold_secs: self.hold_secs,
            connected,
            failed: stats.failed.load(Ordering::Relaxed),
            open_secs: self.open_secs,
            connect_rate: report::per_second(connected, self.open_secs),
            connect_latency: LatencySummary::of(&lock(&stats.connect_latency)),
            closed_early: stats.closed_early.load(Ordering::Relaxed),
            frames_received: stats.frames.load(Ordering::Relaxed),
            failures: lock(&stats.failures).clone(),
            early_closes: lock(&stats.early_closes).clone(),
            servers: Vec::new(),
            server_bytes_per_connection: None,
            client_rss_before: self.client_before,
            client_rss_after: client_after,
            workers: 1,
        }
    }
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
         LimitNOFILE= in systemd), or spread the connections over worker processes (--workers)."
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
    .row("tool processes", r.workers)
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
    // Connections go to the instances round-robin: each holds its share.
    let per_server = still_open / (r.servers.len().max(1) as u64);
    t.servers(&r.servers, per_server, "connection");
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
