//! `files`: uploads and downloads of attachments. `--uploaders` users
//! each upload `--files` files of `--size-kib` KiB one after another, all
//! uploaders at once; then each downloads its files back. Throughput,
//! latency per file, and the server's resident memory at its peak during
//! each phase (sampled every 10 ms): with uploads spooled to disk, the
//! peak should not grow with the size of the files, only with the number
//! of uploads at once. Every download is checked against what was
//! uploaded (size and an FNV-1a hash).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chat_core::ids::AttachmentId;
use serde::Serialize;
use tokio::io::AsyncWrite;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::report::{self, LatencySummary, Output, Table};
use crate::setup::Bench;
use crate::sys;

/// `files` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Users uploading at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    uploaders: u32,
    /// Files each uploads, one after another.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    files: u32,
    /// Size of each file, KiB (the server's limit is 25 MiB by default).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    size_kib: u64,
}

/// One phase (uploads or downloads).
#[derive(Debug, Serialize)]
struct Phase {
    files: u64,
    bytes: u64,
    secs: f64,
    mib_per_sec: f64,
    per_file: LatencySummary,
    /// The servers' largest resident memory during the phase, bytes.
    peak_rss: Vec<Option<u64>>,
}

/// The `files` report.
#[derive(Debug, Serialize)]
struct Report {
    scenario: &'static str,
    instances: usize,
    uploaders: u32,
    files_per_uploader: u32,
    file_bytes: u64,
    /// The servers' resident memory before the uploads, bytes.
    rss_before: Vec<Option<u64>>,
    upload: Phase,
    download: Phase,
    /// (Peak during uploads - before) / uploaders, bytes, per server.
    peak_bytes_per_concurrent_upload: Vec<Option<i64>>,
    errors: BTreeMap<String, u64>,
    /// Downloads whose size or hash differ from the upload.
    mismatches: u64,
}

/// FNV-1a, 64 bits: cheap enough to hash every byte downloaded.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// A writer that keeps only a hash of what it is given.
struct Hasher(u64);

impl AsyncWrite for Hasher {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0 = fnv1a(self.0, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Samples the servers' resident memory every 10 ms until `stop`, and
/// returns the largest seen per server.
fn peak_sampler(
    pids: Vec<u32>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Vec<Option<u64>>> {
    tokio::spawn(async move {
        let mut peaks: Vec<Option<u64>> = vec![None; pids.len()];
        loop {
            for (peak, pid) in peaks.iter_mut().zip(&pids) {
                if let Ok(now) = sys::rss_bytes(*pid) {
                    *peak = Some(peak.map_or(now, |p| p.max(now)));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = stop.changed() => return peaks,
            }
        }
    })
}

/// Runs the scenario.
pub(crate) async fn run(bench: &Bench, out: &Output, args: &Args) -> anyhow::Result<ExitCode> {
    let size = args.size_kib * 1024;
    let users = bench.create_users(args.uploaders as usize).await?;
    // Incompressible, and no known signature: stored as a plain file.
    let mut body = vec![0_u8; usize::try_from(size)?];
    getrandom::fill(&mut body)?;
    body[..4].copy_from_slice(b"\0BIN");
    let body = Arc::new(body);
    let expected_hash = fnv1a(FNV_OFFSET, &body);
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();

    let rss_before: Vec<Option<u64>> = out.sample_servers().iter().map(|s| s.bytes).collect();
    out.progress(&format!(
        "uploading: {} uploaders x {} files of {} KiB",
        args.uploaders, args.files, args.size_kib
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = peak_sampler(out.server_pids.clone(), stop_rx);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let client = bench.client(i).user(&user.session);
        let (body, files) = (body.clone(), args.files);
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for f in 0..files {
                let t = Instant::now();
                let result = client.upload(&format!("file-{f}.bin"), body.to_vec()).await;
                done.push((t.elapsed(), result.map(|a| a.attachment_id)));
            }
            (client, done)
        }));
    }
    let mut uploaded: Vec<(chat_client::UserClient, Vec<AttachmentId>)> = Vec::new();
    let mut up_latency = report::histogram();
    for task in tasks {
        let (client, done) = task.await?;
        let mut ids = Vec::new();
        for (took, result) in done {
            match result {
                Ok(id) => {
                    report::record(&mut up_latency, took);
                    ids.push(id);
                }
                Err(e) => *errors.entry(format!("upload {}", e.code())).or_default() += 1,
            }
        }
        uploaded.push((client, ids));
    }
    let up_secs = started.elapsed().as_secs_f64();
    stop_tx.send_replace(true);
    let up_peaks = sampler.await?;

    out.progress("downloading them back");
    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = peak_sampler(out.server_pids.clone(), stop_rx);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (client, ids) in uploaded {
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for id in ids {
                let t = Instant::now();
                let mut hasher = Hasher(FNV_OFFSET);
                let result = client.download_to(id, &mut hasher).await;
                done.push((t.elapsed(), result.map(|n| (n, hasher.0))));
            }
            done
        }));
    }
    let (mut down_latency, mut downloaded, mut mismatches) = (report::histogram(), 0_u64, 0_u64);
    for task in tasks {
        for (took, result) in task.await? {
            match result {
                Ok((n, hash)) => {
                    report::record(&mut down_latency, took);
                    downloaded += 1;
                    if n != size || hash != expected_hash {
                        mismatches += 1;
                    }
                }
                Err(e) => *errors.entry(format!("download {}", e.code())).or_default() += 1,
            }
        }
    }
    let down_secs = started.elapsed().as_secs_f64();
    stop_tx.send_replace(true);
    let down_peaks = sampler.await?;

    let phase =
        |files: u64, secs: f64, latency: &hdrhistogram::Histogram<u64>, peaks: Vec<Option<u64>>| {
            let bytes = files * size;
            Phase {
                files,
                bytes,
                secs,
                mib_per_sec: bytes as f64 / 1_048_576.0 / secs.max(1e-9),
                per_file: LatencySummary::of(latency),
                peak_rss: peaks,
            }
        };
    let per_upload = (rss_before.iter().zip(&up_peaks))
        .map(|(b, p)| {
            let (b, p) = (i64::try_from((*b)?).ok()?, i64::try_from((*p)?).ok()?);
            Some((p - b) / i64::from(args.uploaders))
        })
        .collect();
    let r = Report {
        scenario: "files",
        instances: bench.instances(),
        uploaders: args.uploaders,
        files_per_uploader: args.files,
        file_bytes: size,
        rss_before,
        upload: phase(up_latency.len(), up_secs, &up_latency, up_peaks),
        download: phase(downloaded, down_secs, &down_latency, down_peaks),
        peak_bytes_per_concurrent_upload: per_upload,
        errors,
        mismatches,
    };
    if out.json {
        report::print_json(&r)?;
    } else {
        print!("{}", table(&r).render());
    }
    let failed = !r.errors.is_empty() || r.mismatches > 0;
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn table(r: &Report) -> Table {
    let mut t = Table::new();
    t.section("files")
        .row("instances", r.instances)
        .row("uploaders at once", r.uploaders)
        .row("files per uploader", r.files_per_uploader)
        .row("file size", report::mib(r.file_bytes));
    for (name, p) in [("upload", &r.upload), ("download", &r.download)] {
        t.section(name)
            .row("files", p.files)
            .row("seconds", format!("{:.2}", p.secs))
            .row("throughput", format!("{:.1} MiB/s", p.mib_per_sec))
            .row("per file p50/p90/p99/p99.9/max", p.per_file.cell());
        for (i, peak) in p.peak_rss.iter().enumerate() {
            let before = r.rss_before.get(i).copied().flatten();
            let value = match (before, peak) {
                (Some(b), Some(p)) => format!("{} (before {})", report::mib(*p), report::mib(b)),
                _ => "?".to_owned(),
            };
            t.row(format!("server {i} peak RSS"), value);
        }
    }
    t.section("memory");
    for (i, per) in r.peak_bytes_per_concurrent_upload.iter().enumerate() {
        let value = per.map_or("?".to_owned(), |b| {
            format!("{:.2} MiB", b as f64 / 1_048_576.0)
        });
        t.row(
            format!("server {i} peak growth per concurrent upload"),
            value,
        );
    }
    t.section("checks")
        .row("mismatched downloads", r.mismatches);
    for (what, n) in &r.errors {
        t.row(format!("errors: {what}"), n);
    }
    t
}
