//! Reporting: latency histograms and their summaries, server memory
//! samples, and the two output forms (an aligned table, or JSON).

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::sys;
use crate::verify::Verdict;

/// Where and how to report, from the global flags.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Print JSON instead of a table.
    pub(crate) json: bool,
    /// Server processes whose memory is sampled.
    pub(crate) server_pids: Vec<u32>,
}

impl Output {
    /// Prints a progress line on stderr (kept out of stdout so that
    /// `--json` output stays parseable).
    pub(crate) fn progress(&self, line: &str) {
        eprintln!("{line}");
    }

    /// Samples the resident memory and CPU time of every `--server-pid`.
    pub(crate) fn sample_servers(&self) -> Vec<RssSample> {
        self.server_pids
            .iter()
            .map(|&pid| RssSample {
                pid,
                at: Instant::now(),
                bytes: sys::rss_bytes(pid)
                    .map_err(|e| self.progress(&format!("warning: {e:#}")))
                    .ok(),
                cpu_secs: sys::cpu_seconds(pid),
            })
            .collect()
    }
}

/// One process's resident memory and CPU time at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RssSample {
    /// The process.
    pub(crate) pid: u32,
    /// When.
    pub(crate) at: Instant,
    /// VmRSS in bytes, when it could be read.
    pub(crate) bytes: Option<u64>,
    /// CPU seconds used since it started.
    pub(crate) cpu_secs: Option<f64>,
}

/// A server's memory before and after a scenario, and the CPU it used in
/// between.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerMemory {
    /// The process.
    pub(crate) pid: u32,
    /// VmRSS before, bytes.
    pub(crate) rss_before: Option<u64>,
    /// VmRSS after, bytes.
    pub(crate) rss_after: Option<u64>,
    /// After minus before, bytes.
    pub(crate) delta: Option<i64>,
    /// CPU seconds used between the samples.
    pub(crate) cpu_secs: Option<f64>,
    /// Average cores busy between the samples.
    pub(crate) cpu_cores: Option<f64>,
}

/// Pairs `before` and `after` samples of the same processes.
pub(crate) fn server_memory(before: &[RssSample], after: &[RssSample]) -> Vec<ServerMemory> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| ServerMemory {
            pid: b.pid,
            rss_before: b.bytes,
            rss_after: a.bytes,
            delta: b
                .bytes
                .zip(a.bytes)
                .map(|(b, a)| i64::try_from(a).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(0)),
            cpu_secs: b.cpu_secs.zip(a.cpu_secs).map(|(b, a)| a - b),
            cpu_cores: b.cpu_secs.zip(a.cpu_secs).and_then(|(b_cpu, a_cpu)| {
                let wall = a.at.duration_since(b.at).as_secs_f64();
                (wall > 0.0).then(|| (a_cpu - b_cpu) / wall)
            }),
        })
        .collect()
}

/// A histogram of durations in microseconds, 1 µs to 10 minutes, 3
/// significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Records `d` in a histogram made by [`histogram`] (clamped to its range).
pub(crate) fn record(h: &mut Histogram<u64>, d: Duration) {
    let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(micros.max(1));
}

/// Merges `other` into `into`; both come from [`histogram`], so their
/// ranges match.
pub(crate) fn merge(into: &mut Histogram<u64>, other: &Histogram<u64>) {
    into.add(other).expect("histograms with the same bounds");
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct LatencySummary {
    /// Samples.
    pub(crate) count: u64,
    /// Mean.
    pub(crate) mean_ms: f64,
    /// Median.
    pub(crate) p50_ms: f64,
    /// 90th percentile.
    pub(crate) p90_ms: f64,
    /// 99th percentile.
    pub(crate) p99_ms: f64,
    /// 99.9th percentile.
    pub(crate) p999_ms: f64,
    /// Largest.
    pub(crate) max_ms: f64,
}

impl LatencySummary {
    /// Summarizes a histogram made by [`histogram`].
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1e3;
        if h.is_empty() {
            return Self {
                count: 0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
            };
        }
        Self {
            count: h.len(),
            mean_ms: h.mean() / 1e3,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    /// One table cell: `p50 / p90 / p99 / p99.9 / max`.
    pub(crate) fn cell(&self) -> String {
        if self.count == 0 {
            return "no samples".to_owned();
        }
        format!(
            "{:.2} / {:.2} / {:.2} / {:.2} / {:.2} ms (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// Targets a run is checked against (`--target-p99-ms`,
/// `--target-rate`): a run that misses one exits with [`TARGET_MISSED`]
/// unless something worse happened.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub(crate) struct Targets {
    /// The p99 of the scenario's headline latency (direct: send to
    /// `message.new`; group: send to the last member) must be at most
    /// this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) target_p99_ms: Option<f64>,
    /// The scenario's headline rate (direct: messages delivered per
    /// second; group: messages sent per second) must be at least this.
    #[arg(long, value_name = "PER_SEC")]
    pub(crate) target_rate: Option<f64>,
}

/// Exit status of a run that passed every check but missed a target.
pub(crate) const TARGET_MISSED: u8 = 4;

/// One target and how the run fared against it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TargetCheck {
    /// What is measured, e.g. "send -> message.new p99".
    pub(crate) what: String,
    /// The target, e.g. "<= 50 ms".
    pub(crate) target: String,
    /// The run's figure.
    pub(crate) achieved: String,
    /// Whether the figure meets the target.
    pub(crate) met: bool,
}

impl Targets {
    /// Checks `p99_ms` (the headline latency, described by `latency`) and
    /// `rate` (the headline rate, described by `rate_what`) against the
    /// targets given.
    pub(crate) fn check(
        &self,
        latency: &str,
        p99_ms: f64,
        rate_what: &str,
        rate: f64,
    ) -> Vec<TargetCheck> {
        let mut checks = Vec::new();
        if let Some(max) = self.target_p99_ms {
            checks.push(TargetCheck {
                what: format!("{latency} p99"),
                target: format!("<= {max} ms"),
                achieved: format!("{p99_ms:.2} ms"),
                met: p99_ms <= max,
            });
        }
        if let Some(min) = self.target_rate {
            checks.push(TargetCheck {
                what: rate_what.to_owned(),
                target: format!(">= {min}/s"),
                achieved: format!("{rate:.1}/s"),
                met: rate >= min,
            });
        }
        checks
    }
}

/// True when every check met its target (or there were none).
pub(crate) fn all_met(checks: &[TargetCheck]) -> bool {
    checks.iter().all(|c| c.met)
}

/// A two-column table: a label and a value per row, with section headings.
#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    /// A new, empty table.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, label: impl Into<String>, value: impl ToString) -> &mut Self {
        self.rows.push((label.into(), value.to_string()));
        self
    }

    /// Adds a heading row.
    pub(crate) fn section(&mut self, title: &str) -> &mut Self {
        self.rows.push((format!("== {title}"), String::new()));
        self
    }

    /// Adds a row per server: RSS before, after and the difference, and
    /// the difference per `per` units (e.g. per connection) when `per > 0`.
    /// The rows of a delivery [`Verdict`]; `whose` names the connections
    /// that receive ("receiver", "member").
    pub(crate) fn verdict(&mut self, v: &Verdict, whose: &str) -> &mut Self {
        self.row("lost (acked, never delivered)", v.lost)
            .row(
                format!("undelivered ({whose} connection gone)"),
                v.unreachable,
            )
            .row("duplicates", v.duplicates)
            .row("redelivered in a catch-up", v.redelivered)
            .row("delivered out of seq order", v.seq_reorders)
            .row("seq order differs from send order", v.send_order_inversions)
    }

    pub(crate) fn servers(&mut self, servers: &[ServerMemory], per: u64, unit: &str) -> &mut Self {
        for s in servers {
            let fmt = |b: Option<u64>| b.map_or("?".to_owned(), mib);
            let mut value = format!("{} -> {}", fmt(s.rss_before), fmt(s.rss_after));
            if let Some(d) = s.delta {
                value.push_str(&format!(" (delta {:+.1} MiB", d as f64 / 1_048_576.0));
                if per > 0 {
                    value.push_str(&format!(", {:.0} bytes per {unit}", d as f64 / per as f64));
                }
                value.push(')');
            }
            self.row(format!("server pid {} RSS", s.pid), value);
            if let (Some(secs), Some(cores)) = (s.cpu_secs, s.cpu_cores) {
                self.row(
                    format!("server pid {} CPU", s.pid),
                    format!("{secs:.1} s ({cores:.2} cores on average)"),
                );
            }
        }
        self
    }

    /// A "targets" section: one row per check, `met` or `MISSED`.
    pub(crate) fn targets(&mut self, checks: &[TargetCheck]) -> &mut Self {
        if checks.is_empty() {
            return self;
        }
        self.section("targets");
        for c in checks {
            let verdict = if c.met { "met" } else { "MISSED" };
            self.row(
                format!("{} {}", c.what, c.target),
                format!("{verdict}: {}", c.achieved),
            );
        }
        self
    }

    /// The table as text.
    pub(crate) fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, _)| l.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (label, value) in &self.rows {
            if value.is_empty() {
                out.push_str(label);
            } else {
                out.push_str(&format!("  {label:<width$}  {value}"));
            }
            out.push('\n');
        }
        out
    }
}

/// `bytes` as MiB with one decimal.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// Prints `report` as pretty JSON on stdout.
pub(crate) fn print_json<T: Serialize>(report: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}

/// `count / seconds`, 0 when `seconds` is 0.
pub(crate) fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_milliseconds() {
        let mut h = histogram();
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
    }

    #[test]
    fn an_empty_histogram_has_a_zero_summary() {
        let s = LatencySummary::of(&histogram());
        assert_eq!(s.count, 0);
        assert_eq!(s.cell(), "no samples");
    }

    #[test]
    fn table_aligns_values() {
        let mut t = Table::new();
        t.section("x").row("a", 1).row("long label", "v");
        assert_eq!(t.render(), "== x\n  a           1\n  long label  v\n");
    }
}
