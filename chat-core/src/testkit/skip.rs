//! What a backend test does when its backend (PostgreSQL, Redis) is
//! missing: fail when backends are required, otherwise skip, loudly.
//!
//! A skipped test still reports "passed", so a newcomer running
//! `cargo test` without PostgreSQL or Redis would see green with nothing
//! run. So a skip is announced on the real standard error (libtest's
//! capture would hide an `eprintln!` of a passing test) and appended to
//! the file named by [`SKIPPED_TESTS_FILE`], from which `scripts/test`
//! prints a summary at the end of its run. The testkits of every backend
//! crate call [`backend_unavailable`], so the rule lives here once.

use std::io::Write as _;
use std::path::Path;

use super::backends_required;

/// The environment variable naming the file that skipped backend tests
/// append a line to (`test<TAB>backend<TAB>reason`). `scripts/test` sets
/// it to a fresh file and summarises it when the run ends.
pub const SKIPPED_TESTS_FILE: &str = "CHAT_SKIPPED_TESTS_FILE";

/// Handles a missing backend for the test running on this thread: panics
/// when backends are required, otherwise prints `SKIPPED (<backend>
/// unavailable): ...` to standard error, records the skip (see
/// [`record_skip`]) and returns `None`, so a setup function can end with
/// `return backend_unavailable(...)`.
///
/// `backend` names it ("PostgreSQL", "Redis"), `why` says what failed and
/// `fix` what to do about it ("set DATABASE_URL to a server that
/// answers").
///
/// # Panics
/// When backends are required (`CHAT_REQUIRE_BACKENDS=1`, see
/// [`backends_required`]): CI must not pass with tests skipped.
#[track_caller]
pub fn backend_unavailable<T>(backend: &str, why: &str, fix: &str) -> Option<T> {
    if backends_required() {
        panic!("{backend} is required (CHAT_REQUIRE_BACKENDS=1) but unavailable: {why}; {fix}");
    }
    let test = current_test();
    // Straight to the process's standard error: libtest captures
    // `eprintln!` and shows it only for failing tests, and this test
    // passes. One write, so the line is not split by libtest's own output
    // when both go to one terminal. A failed write leaves nothing better
    // to do.
    let line = format!("SKIPPED ({backend} unavailable): {test}: {why}; {fix}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    record_skip(&test, backend, why);
    None
}

/// Appends `test<TAB>backend<TAB>why` to the file named by
/// [`SKIPPED_TESTS_FILE`], when that is set, creating the file and its
/// directory if needed.
///
/// Write errors are ignored: the skip was already printed, and a summary
/// that misses a line is no reason to fail a test.
pub fn record_skip(test: &str, backend: &str, why: &str) {
    if let Some(path) = std::env::var_os(SKIPPED_TESTS_FILE)
        && !path.is_empty()
    {
        let _ = append_skip(Path::new(&path), test, backend, why);
    }
}

/// [`record_skip`] into `path`. Tests in parallel threads, and under
/// nextest in parallel processes, append to the same file: each line goes
/// out in one `write` on a file opened for appending, so lines do not
/// interleave.
fn append_skip(path: &Path, test: &str, backend: &str, why: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let line = format!("{}\t{}\t{}\n", field(test), field(backend), field(why));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())
}

/// `text` on one line without tabs, so it stays one field of one line.
fn field(text: &str) -> String {
    text.replace(['\t', '\r', '\n'], " ")
}

/// The running test, as `<package> --test <binary>: <test>` (or `--lib`),
/// which is what `cargo test` needs to run it alone.
///
/// libtest runs each test on a thread named after it (`module::test`),
/// and cargo and nextest tell the test binary its package in
/// `CARGO_PKG_NAME`; the binary's file name is the target's plus a hash.
fn current_test() -> String {
    let thread = std::thread::current();
    let test = thread
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("(unknown test)");
    let binary = std::env::current_exe().ok().and_then(|exe| {
        let stem = exe.file_stem()?.to_string_lossy().into_owned();
        Some(match stem.rsplit_once('-') {
            Some((target, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                target.to_owned()
            }
            _ => stem,
        })
    });
    let package = std::env::var("CARGO_PKG_NAME").ok();
    match (package, binary) {
        (Some(package), Some(binary)) if binary == package.replace('-', "_") => {
            format!("{package} --lib: {test}")
        }
        (Some(package), Some(binary)) => format!("{package} --test {binary}: {test}"),
        (None, Some(binary)) => format!("{binary}: {test}"),
        (_, None) => test.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_are_appended_one_line_each_creating_the_directory() {
        let dir = std::env::temp_dir().join(format!("chat-skips-{}", uuid::Uuid::new_v4()));
        let path = dir.join("nested").join("skipped.tsv");

        append_skip(&path, "a::first", "PostgreSQL", "DATABASE_URL is not set")
            .expect("first line");
        append_skip(
            &path,
            "a::second",
            "Redis",
            "cannot reach\tredis\n(refused)",
        )
        .expect("second line");

        let written = std::fs::read_to_string(&path).expect("the file exists");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            written,
            "a::first\tPostgreSQL\tDATABASE_URL is not set\n\
             a::second\tRedis\tcannot reach redis (refused)\n"
        );
    }

    #[test]
    fn an_unwritable_file_is_an_error_for_the_caller_to_ignore() {
        // A directory cannot be opened for appending.
        let dir = std::env::temp_dir();
        assert!(append_skip(&dir, "t", "Redis", "why").is_err());
    }

    #[test]
    fn the_running_test_is_named_after_its_thread() {
        let test = current_test();
        assert!(
            test.ends_with("the_running_test_is_named_after_its_thread"),
            "{test}"
        );
    }
}
