//! `direct --max`: the highest rate the server sustains. Runs at `--rate`,
//! then `--step-factor` times more each step (fresh users each time), until
//! a step falls short; the last step that held is the answer.

use std::process::ExitCode;

use serde::Serialize;

use super::{Args, Report, measure};
use crate::report::{self, Output, Table};
use crate::setup::Bench;

/// Share of its rate a step must deliver to count as sustained.
const DELIVERED_SHARE: f64 = 0.95;

/// One step of the search.
#[derive(Debug, Serialize)]
struct Step {
    target_rate: f64,
    delivered_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    unanswered: u64,
    refused: u64,
    /// Lost, duplicated or reordered messages.
    faults: u64,
    sustained: bool,
    /// Why it was not, when it was not.
    short_because: Option<String>,
}

/// The `direct --max` report.
#[derive(Debug, Serialize)]
struct MaxReport {
    scenario: &'static str,
    pairs: usize,
    max_p99_ms: f64,
    steps: Vec<Step>,
    /// The highest target rate sustained, if any.
    sustained_rate: Option<f64>,
}

/// Runs the search and prints its steps.
pub(super) async fn search(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    let mut steps = Vec::new();
    let mut rate = args.rate;
    let mut faulty = false;
    for n in 1..=args.max_steps {
        out.progress(&format!("--max step {n}: {rate:.0} msg/s"));
        let r = measure(&bench.with_new_prefix()?, out, args, rate).await?;
        let step = judge(&r, rate, args.max_p99_ms);
        faulty |= step.faults > 0;
        out.progress(&format!(
            "--max step {n}: {rate:.0} msg/s -> delivered {:.0}/s, p99 {:.2} ms: {}",
            step.delivered_per_sec,
            step.p99_ms,
            step.short_because.as_deref().unwrap_or("sustained")
        ));
        let held = step.sustained;
        steps.push(step);
        if !held {
            break;
        }
        rate *= args.step_factor;
    }
    let report = MaxReport {
        scenario: "direct --max",
        pairs: args.pairs,
        max_p99_ms: args.max_p99_ms,
        sustained_rate: steps
            .iter()
            .filter(|s| s.sustained)
            .map(|s| s.target_rate)
            .reduce(f64::max),
        steps,
    };
    if out.json {
        report::print_json(&report)?;
    } else {
        print!("{}", table(&report).render());
    }
    Ok(if faulty {
        ExitCode::from(2)
    } else if report.sustained_rate.is_none() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether a run at `rate` held, and if not, why.
fn judge(r: &Report, rate: f64, max_p99_ms: f64) -> Step {
    let v = &r.verify;
    let faults = v.lost + v.duplicates + v.seq_reorders + v.send_order_inversions;
    let p99 = r.delivery_latency.p99_ms;
    let short_because = if faults > 0 {
        Some(format!("{faults} lost, duplicated or reordered"))
    } else if r.totals.unanswered > 0 || r.totals.refused > 0 {
        Some(format!(
            "{} unanswered, {} refused",
            r.totals.unanswered, r.totals.refused
        ))
    } else if r.delivered_per_sec < DELIVERED_SHARE * rate {
        Some(format!(
            "delivered {:.0}/s, under {:.0}% of the rate",
            r.delivered_per_sec,
            DELIVERED_SHARE * 100.0
        ))
    } else if p99 > max_p99_ms {
        Some(format!("p99 {p99:.1} ms over {max_p99_ms} ms"))
    } else {
        None
    };
    Step {
        target_rate: rate,
        delivered_per_sec: r.delivered_per_sec,
        p50_ms: r.delivery_latency.p50_ms,
        p99_ms: p99,
        max_ms: r.delivery_latency.max_ms,
        unanswered: r.totals.unanswered,
        refused: r.totals.refused,
        faults,
        sustained: short_because.is_none(),
        short_because,
    }
}

fn table(r: &MaxReport) -> Table {
    let mut t = Table::new();
    t.section(&format!(
        "direct --max: {} pairs, sustained = >= {:.0}% delivered, nothing unanswered, p99 <= {} ms",
        r.pairs,
        DELIVERED_SHARE * 100.0,
        r.max_p99_ms
    ));
    for s in &r.steps {
        t.row(
            format!("{:.0} msg/s", s.target_rate),
            format!(
                "delivered {:.0}/s, p50 {:.2} / p99 {:.2} / max {:.2} ms: {}",
                s.delivered_per_sec,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.short_because.as_deref().unwrap_or("sustained")
            ),
        );
    }
    t.row(
        "highest rate sustained",
        r.sustained_rate
            .map_or_else(|| "none".to_owned(), |r| format!("{r:.0} msg/s")),
    );
    t
}
