//! What the operating system says: open-file limits and resident memory,
//! read from `/proc` (Linux).

use anyhow::Context as _;

/// Raises this process's soft limit on open files to its hard limit and
/// returns the limit now in force.
pub(crate) fn raise_nofile_limit() -> anyhow::Result<u64> {
    let (_, hard) =
        rlimit::getrlimit(rlimit::Resource::NOFILE).context("cannot read the open-file limit")?;
    rlimit::increase_nofile_limit(hard).context("cannot raise the open-file limit")
}

/// The resident memory of process `pid` (VmRSS), in bytes.
pub(crate) fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status_field_kib(&status, "VmRSS:")
        .map(|kib| kib * 1024)
        .with_context(|| format!("no VmRSS in {path}"))
}

/// This process's resident memory, in bytes.
pub(crate) fn own_rss_bytes() -> Option<u64> {
    rss_bytes(std::process::id()).ok()
}

/// The soft open-file limit of process `pid`, from `/proc/PID/limits`;
/// `None` when unreadable or unlimited.
pub(crate) fn nofile_limit_of(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system, every thread) process `pid` has used, in
/// seconds, from `/proc/PID/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_cpu_seconds(&stat)
}

/// utime + stime of a `/proc/PID/stat` line. Both count clock ticks of
/// `USER_HZ`, which Linux fixes at 100 on every architecture it exports
/// to user space.
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    // The command name (field 2) may hold spaces; fields after it are
    // plain. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// The value in KiB of a `Name:   1234 kB` line of `/proc/PID/status`.
fn status_field_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// Open file descriptors of process `pid` (entries of `/proc/PID/fd`);
/// `None` when unreadable.
pub(crate) fn open_files(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// Lowest source port the tool binds itself.
const OWN_PORTS_FROM: u16 = 10_000;

/// The source ports the tool binds on its `--source-addr`s: from 10,000 up
/// to just below the kernel's ephemeral range, so its sockets never take
/// ports other programs' connections need.
pub(crate) fn ports_below_ephemeral() -> std::ops::RangeInclusive<u16> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    OWN_PORTS_FROM..=ephemeral_start.saturating_sub(1).max(OWN_PORTS_FROM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_open_files() {
        assert!(open_files(std::process::id()).is_some_and(|n| n > 0));
    }

    #[test]
    fn reads_vmrss() {
        let status = "Name:\tchat-server\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(status_field_kib(status, "VmRSS:"), Some(12_345));
        assert_eq!(status_field_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_cpu_time() {
        let stat = "42 (tokio (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(stat_cpu_seconds(stat), Some(3.0));
    }

    #[test]
    fn own_process_is_readable() {
        assert!(rss_bytes(std::process::id()).is_ok_and(|b| b > 0));
        assert!(nofile_limit_of(std::process::id()).is_some_and(|n| n > 0));
        assert!(cpu_seconds(std::process::id()).is_some());
    }

    #[test]
    fn own_ports_stay_below_the_ephemeral_range() {
        let ports = ports_below_ephemeral();
        assert_eq!(*ports.start(), OWN_PORTS_FROM);
        assert!(ports.end() >= ports.start());
    }
}
