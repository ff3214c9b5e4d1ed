//! `chat-bench`: a load tool for the chat server, built on `chat-client`.
//!
//! It signs up its own users (a fresh prefix per run), then runs one
//! scenario against one or more server instances and prints a table, or
//! JSON with `--json`. Progress goes to stderr, results to stdout.
//!
//! - `connections`: many authenticated idle WebSockets; connect rate,
//!   failures, and the server's memory per connection (`--server-pid`).
//! - `direct`: sender/receiver pairs exchanging direct messages at a fixed
//!   total rate (open loop); throughput, latency percentiles, and an
//!   exactly-once, in-order check of every delivery.
//! - `group`: one group, every member connected, senders at a fixed total
//!   rate; deliveries per second, time until the last member has each
//!   message, and the per-member exactly-once, in-order check.
//! - `offline`: the reconnect storm; users with messages waiting all
//!   connect at once; time until everything is delivered and acknowledged.
//! - `files`: uploads and downloads of attachments; throughput, latency
//!   per file, and the server's peak memory per concurrent upload.
//! - `mixed`: sends, history, lists, reads, typing and logins at a fixed
//!   total rate; latency per operation, delivery checks, and the server's
//!   memory and open files sampled over time (the soak test).

mod report;
mod scenarios;
mod setup;
mod sys;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::setup::{Bench, BenchOptions};

const LONG_ABOUT: &str = "\
Load tool for the chat server, built on chat-client.

It creates its own users through the API (argon2 makes each signup cost the
server tens of milliseconds), then runs one scenario and reports. Progress
goes to stderr; the report goes to stdout (a table, or JSON with --json).

The server limits each user to CHAT_MESSAGES_PER_MINUTE messages (default
100) and each client address to CHAT_SIGNUP_MAX_PER_CLIENT signups an hour
(default 20). Start it with high limits, e.g.

    CHAT_MESSAGES_PER_MINUTE=100000000 CHAT_SIGNUP_MAX_PER_CLIENT=1000000 \\
      CHAT_LOGIN_MAX_FAILURES=1000000 CHAT_LISTEN=127.0.0.1:18080 \\
      CHAT_DATA_DIR=$(mktemp -d) ./target/release/chat-server

Every open connection costs a file descriptor in this process and in the
server. chat-bench raises its own soft limit to the hard limit; past it,
`connections --workers N` spreads the sockets over N tool processes (or
raise the hard limit, `ulimit -Hn`), and check the server's own limit (with
--server-pid it is read and checked). The other scenarios run in one
process; for more clients than it may open, start several chat-bench
processes side by side: each signs up its own users (a fresh name prefix)
and verifies what its own clients receive, and their rates add up. Each (source address, server) pair
has its own range of about 28,000 ephemeral ports: past that, give several
--source-addr 127.0.0.x.

Several --url instances must share one database and one CHAT_JWT_SECRET
(users are signed up on one instance and connect to another), and live
delivery between instances needs the server to share events between them.

Memory figures (--server-pid) are VmRSS: memory freed by an earlier run is
reused rather than returned, so measure against a freshly started server.

Exit status: 0 on success; 1 when the tool failed; 2 when a scenario found
lost, duplicated or reordered messages; 3 when every check passed but
something else went wrong: the server refused messages (error frames),
some were never answered, or connections failed or ended early; 4 when
everything else passed but a target given with --target-p99-ms or
--target-rate (direct, group) was missed.";

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "chat-bench", version, about = "Load tool for the chat server", long_about = LONG_ABOUT)]
struct Cli {
    /// Base URL of a server instance. Repeat for several instances: clients
    /// are spread over them round-robin.
    #[arg(long = "url", global = true, default_value = "http://127.0.0.1:8080")]
    urls: Vec<String>,

    /// Print the report as JSON.
    #[arg(long, global = true)]
    json: bool,

    /// A server process to measure: its VmRSS is read from
    /// /proc/PID/status before and after. Repeatable.
    #[arg(long = "server-pid", global = true, value_name = "PID")]
    server_pids: Vec<u32>,

    /// Password of the users the tool creates (server rules: at least 8
    /// characters, a digit and a special character).
    #[arg(long, global = true, default_value = "Bench-pass-1!")]
    password: String,

    /// Signups in flight at once.
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    signup_concurrency: u32,

    /// A source address for the tool's connections (e.g. 127.0.0.2).
    /// Repeat to spread connections over several: each (source, server)
    /// pair has its own range of ephemeral ports, about 28,000 here.
    #[arg(long = "source-addr", global = true, value_name = "IP")]
    source_addrs: Vec<std::net::IpAddr>,

    /// What to run.
    #[command(subcommand)]
    scenario: Scenario,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
enum Scenario {
    /// Opens many authenticated idle WebSockets at a fixed rate, holds them,
    /// and reports the connect rate, failures and server memory per
    /// connection.
    Connections(scenarios::connections::Args),
    /// Sends direct messages between sender/receiver pairs at a fixed total
    /// rate, and reports throughput, latency and delivery correctness.
    Direct(scenarios::direct::Args),
    /// A blend of sends, history pages, conversation lists, reads, typing
    /// and logins at a fixed total rate, with latency per operation,
    /// delivery checks and (with --server-pid) the server's memory and
    /// open files over time: the soak test.
    Mixed(scenarios::mixed::Args),
    /// One group, every member connected, some members sending at a fixed
    /// total rate: deliveries per second, the time until the last member
    /// has each message, and delivery correctness per member.
    Group(scenarios::group::Args),
    /// The reconnect storm: users with messages waiting all connect at
    /// once; the time until every message is delivered and acknowledged.
    Offline(scenarios::offline::Args),
    /// Uploads and downloads of files: throughput, latency per file, and
    /// the server's peak memory per concurrent upload (--server-pid).
    Files(scenarios::files::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chat-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let bench = Bench::new(BenchOptions {
        urls: cli.urls,
        password: cli.password,
        signup_concurrency: cli.signup_concurrency as usize,
        source_addrs: cli.source_addrs,
    })?;
    // Every scenario may hold many sockets.
    if let Err(e) = sys::raise_nofile_limit() {
        eprintln!("chat-bench: warning: {e:#}");
    }
    let out = report::Output {
        json: cli.json,
        server_pids: cli.server_pids,
    };
    match cli.scenario {
        Scenario::Connections(args) => scenarios::connections::run(&bench, &out, &args).await,
        Scenario::Direct(args) => scenarios::direct::run(&bench, &out, &args).await,
        Scenario::Mixed(args) => scenarios::mixed::run(&bench, &out, &args).await,
        Scenario::Group(args) => scenarios::group::run(&bench, &out, &args).await,
        Scenario::Offline(args) => scenarios::offline::run(&bench, &out, &args).await,
        Scenario::Files(args) => scenarios::files::run(&bench, &out, &args).await,
    }
}
