//! `connections --workers N`: the connections spread over N tool
//! processes, for more than one process may hold (its open-file limit).
//!
//! The parent starts N copies of itself with the same arguments and a
//! hidden `--worker-index`. They talk over the children's stdin and
//! stdout, a line at a time: each child signs up its users and says
//! `READY`; once all are, the parent samples the servers and says `GO`;
//! each child opens its share and says `OPEN`; the parent holds, samples
//! the servers again and says `STOP`; each child closes its connections
//! and prints its report as one JSON line. The parent sums them.

use std::collections::BTreeMap;
use std::process::{ExitCode, Stdio};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{Args, Holder, Report, Share, finish};
use crate::report::{LatencySummary, Output};
use crate::setup::Bench;

/// One worker process, as the parent sees it.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// Waits for the line `word`, failing on anything else or an early end.
    async fn expect(&mut self, word: &str) -> anyhow::Result<String> {
        let line = self
            .lines
            .next_line()
            .await?
            .with_context(|| format!("a worker ended before saying {word}"))?;
        anyhow::ensure!(
            line.starts_with(word),
            "a worker said `{line}` instead of {word}"
        );
        Ok(line)
    }

    async fn say(&mut self, word: &str) -> anyhow::Result<()> {
        self.stdin.write_all(format!("{word}\n").as_bytes()).await?;
        Ok(self.stdin.flush().await?)
    }
}

/// The parent: starts the workers, measures the servers around the hold,
/// and reports the sum.
pub(super) async fn parent(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the chat-bench executable")?;
    let argv: Vec<_> = std::env::args_os().skip(1).collect();
    let mut workers = Vec::new();
    for i in 0..args.workers {
        let mut child = Command::new(&exe)
            .args(&argv)
            .args(["--worker-index", &i.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start a worker process")?;
        let stdin = child.stdin.take().context("a worker without stdin")?;
        let stdout = child.stdout.take().context("a worker without stdout")?;
        workers.push(Worker {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        });
    }
    out.progress(&format!("{} workers started", workers.len()));
    for w in &mut workers {
        w.expect("READY").await?;
    }
    let before = out.sample_servers();
    for w in &mut workers {
        w.say("GO").await?;
    }
    for w in &mut workers {
        w.expect("OPEN").await?;
    }
    out.progress(&format!("every worker is open; holding {} s", args.hold));
    tokio::time::sleep(std::time::Duration::from_secs(args.hold)).await;
    let after = out.sample_servers();
    let mut reports = Vec::new();
    for w in &mut workers {
        w.say("STOP").await?;
    }
    for w in &mut workers {
        let line = w.expect("{").await?;
        reports.push(serde_json::from_str::<Report>(&line).context("a worker's report")?);
        let _ = w.child.wait().await;
    }
    let mut report = sum(reports)?;
    report.instances = bench.instances();
    finish(report, &before, &after, out)
}

/// A worker: its share, paced by the parent.
pub(super) async fn child(
    bench: &Bench,
    out: &Output,
    args: &Args,
    share: Share,
) -> anyhow::Result<ExitCode> {
    let mut commands = BufReader::new(tokio::io::stdin()).lines();
    let mut holder = Holder::prepare(bench, out, args, share).await?;
    println!("READY");
    wait_for(&mut commands, "GO").await?;
    holder.open(out).await;
    println!("OPEN");
    wait_for(&mut commands, "STOP").await?;
    let report = holder.close(out).await;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

async fn wait_for(
    commands: &mut Lines<BufReader<tokio::io::Stdin>>,
    word: &str,
) -> anyhow::Result<()> {
    match commands.next_line().await? {
        Some(line) if line.trim() == word => Ok(()),
        other => anyhow::bail!("the parent said {other:?}, not {word}"),
    }
}

/// The workers' reports as one. Percentiles cannot be summed: the connect
/// latency is the worst worker's at each percentile.
fn sum(reports: Vec<Report>) -> anyhow::Result<Report> {
    let workers = reports.len() as u32;
    let mut it = reports.into_iter();
    let mut total = it.next().context("no worker reported")?;
    total.scenario = "connections";
    for r in it {
        total.users += r.users;
        total.count += r.count;
        total.target_rate += r.target_rate;
        total.connected += r.connected;
        total.failed += r.failed;
        total.open_secs = total.open_secs.max(r.open_secs);
        total.connect_latency = worst(&total.connect_latency, &r.connect_latency);
        total.closed_early += r.closed_early;
        total.frames_received += r.frames_received;
        merge_counts(&mut total.failures, r.failures);
        merge_counts(&mut total.early_closes, r.early_closes);
        total.client_rss_before = total
            .client_rss_before
            .zip(r.client_rss_before)
            .map(|(a, b)| a + b);
        total.client_rss_after = total
            .client_rss_after
            .zip(r.client_rss_after)
            .map(|(a, b)| a + b);
    }
    total.connect_rate = crate::report::per_second(total.connected, total.open_secs);
    total.workers = workers;
    Ok(total)
}

fn worst(a: &LatencySummary, b: &LatencySummary) -> LatencySummary {
    LatencySummary {
        count: a.count + b.count,
        mean_ms: a.mean_ms.max(b.mean_ms),
        p50_ms: a.p50_ms.max(b.p50_ms),
        p90_ms: a.p90_ms.max(b.p90_ms),
        p99_ms: a.p99_ms.max(b.p99_ms),
        p999_ms: a.p999_ms.max(b.p999_ms),
        max_ms: a.max_ms.max(b.max_ms),
    }
}

fn merge_counts(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}
