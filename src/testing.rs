//! Deadlines for tests of concurrent code: a broken primitive deadlocks, and a
//! test must fail loudly instead of hanging CI.
//!
//! - [`within`] runs a blocking step on its own thread and panics with the
//!   step's name if it has not finished by the deadline.
//! - [`eventually`] waits for a condition to become true, polling, and panics
//!   with the condition's name when the deadline passes.
//!
//! Neither makes a test pass by sleeping: both return as soon as the step is
//! done or the condition holds; the deadline only bounds a failure.
//!
//! These use `std` directly (not the [`sync`](crate::sync) facade): they are
//! the test harness, not the code under test.
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use synclings::testing::{eventually, within};
//!
//! let flag = Arc::new(AtomicBool::new(false));
//! let f = flag.clone();
//! let worker = std::thread::spawn(move || f.store(true, Ordering::SeqCst));
//! eventually(Duration::from_secs(10), "the worker sets the flag", || {
//!     flag.load(Ordering::SeqCst)
//! });
//! within(Duration::from_secs(10), "the worker exits", move || worker.join().unwrap());
//! ```

use std::sync::mpsc;
use std::time::{Duration, Instant};

// The thread-state probe: one file per OS.
#[cfg_attr(target_os = "linux", path = "testing/linux.rs")]
#[cfg_attr(target_os = "macos", path = "testing/macos.rs")]
#[cfg_attr(target_os = "freebsd", path = "testing/freebsd.rs")]
#[cfg_attr(windows, path = "testing/windows.rs")]
#[cfg_attr(
    not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        windows
    )),
    path = "testing/other.rs"
)]
mod os;

/// The deadline tests use by default: generous, so that only a real hang
/// (never a slow machine) trips it.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `step` on a new thread and returns its result, or panics with a
/// message naming `what` if it does not finish within `deadline`.
///
/// A panic inside `step` is propagated with its message. On a timeout the
/// step's thread is left behind (it is stuck); the test fails at once.
pub fn within<T, F>(deadline: Duration, what: &str, step: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("within: {what}"))
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step));
            let _ = tx.send(result);
        })
        .expect("spawn the step's thread");
    match rx.recv_timeout(deadline) {
        Ok(Ok(value)) => {
            let _ = handle.join();
            value
        }
        Ok(Err(panic)) => {
            let _ = handle.join();
            std::panic::resume_unwind(panic)
        }
        Err(_) => panic!("deadline of {deadline:?} passed: {what} did not finish (a deadlock or a lost wake-up?)"),
    }
}

/// Waits until `condition()` is true, polling every millisecond, and panics
/// naming `what` if it is still false after `deadline`.
pub fn eventually(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return;
        }
        if Instant::now() >= end {
            panic!("deadline of {deadline:?} passed: still not true: {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The calling thread's id as the platform's thread-state probe names it
/// (Linux: the kernel tid; macOS: its Mach port; FreeBSD: the lwp id;
/// Windows: the thread id), for [`wait_until_parked`].
///
/// # Panics
///
/// On a platform without a probe (see [`is_parked`]).
pub fn current_tid() -> u32 {
    os::current_tid()
}

/// True if thread `tid` of this process is asleep in the kernel, i.e.
/// blocked, not running or spinning. A thread that has exited counts as not
/// parked.
///
/// Linux reads `/proc/self/task/TID/stat` (state `S` or `D`); macOS asks
/// Mach (`thread_info`: `TH_STATE_WAITING`); FreeBSD, `sysctl(KERN_PROC)`
/// (`SSLEEP`); Windows, `NtQuerySystemInformation` (state Waiting). One file
/// per OS in `src/testing/`; only the Linux one runs in CI, the others are
/// compile-checked. Elsewhere it panics saying so.
pub fn is_parked(tid: u32) -> bool {
    os::is_parked(tid)
}

/// Waits until thread `tid` is asleep in the kernel ([`is_parked`]) and stays
/// so across a few checks, or panics naming `what` after `deadline`.
///
/// Use it to know that a thread has really entered a blocking wait before
/// triggering the call that should wake it (a waiter that spins first is not
/// parked until it gives up spinning).
pub fn wait_until_parked(deadline: Duration, what: &str, tid: u32) {
    settled(deadline, what, || is_parked(tid));
}

/// Like [`eventually`], but `condition` must hold on three checks in a row: a
/// thread asleep once may be between two steps of a spin.
fn settled(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let mut in_a_row = 0;
    eventually(deadline, what, || {
        in_a_row = if condition() { in_a_row + 1 } else { 0 };
        in_a_row >= 3
    });
}

/// True if every thread of this process except the caller is asleep in the
/// kernel right now ([`is_parked`]) or has exited.
///
/// For suites that cannot know the ids of the threads a learner's code
/// starts: serialise the tests of the binary, then [`wait_until_quiet`];
/// from that moment nothing changes unless the caller acts, so what the test
/// observes is a fact, not a race.
///
/// # Panics
///
/// On a platform without a probe (see [`is_parked`]).
pub fn all_other_threads_asleep() -> bool {
    os::others_asleep(current_tid())
}

/// Waits until every other thread of the process is asleep
/// ([`all_other_threads_asleep`]) on three checks in a row, or panics naming
/// `what` after `deadline`.
pub fn wait_until_quiet(deadline: Duration, what: &str) {
    settled(deadline, what, all_other_threads_asleep);
}

/// Spawns `f` on a new thread and returns once that thread is blocked (asleep
/// in the kernel, as [`wait_until_parked`] sees it) or has already finished.
///
/// Use it for "this call must block": spawn the call, then assert that the
/// handle is not finished before making the call that should release it. A
/// broken primitive that does not block finishes instead, and the assertion
/// catches it; no sleep is involved either way.
///
/// # Panics
///
/// If the thread neither blocks nor finishes within [`DEADLINE`] (it spins).
pub fn spawn_blocked<T, F>(f: F) -> std::thread::JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(current_tid());
        f()
    });
    let tid = rx
        .recv_timeout(DEADLINE)
        .expect("the spawned thread starts");
    settled(DEADLINE, "the spawned thread blocks or finishes", || {
        is_parked(tid) || handle.is_finished()
    });
    handle
}

/// One test of a `harness = false` test binary: its name and its body.
pub type Test = (&'static str, fn());

/// Runs `tests` one after the other (each under `catch_unwind`) and returns
/// the process's exit code: the test runner of the binaries that cannot use
/// libtest because their `main` must call
/// [`ipc::init`](crate::ipc::init) first (their children are re-runs of the
/// test binary itself).
///
/// It speaks libtest's command line and output, so that `cargo test`, CI and
/// the course runner (`cargo run -- check`, `cargo run -- verify`) treat such
/// a binary like any other test binary:
///
/// - arguments that do not start with `-` are filters: a test runs if its
///   name contains one of them (with `--exact`: equals one of them);
///   `--skip FILTER` leaves out the tests it matches (the same way);
/// - `--list` prints the selected tests as `NAME: test` lines (with
///   `--format terse` nothing else, as libtest does) and runs nothing;
/// - every test prints `test NAME ... ok` or `test NAME ... FAILED`, then
///   comes `test result: ok. N passed; N failed; ...`, and the exit code is
///   0 if every selected test passed, 101 (libtest's) otherwise;
/// - `--test-threads N` is accepted: the tests always run one at a time
///   (children, descriptors and the process-wide thread count are then never
///   shared by two tests), which any `N` allows;
/// - `--ignored` selects nothing (no test here is ignored); `--nocapture`,
///   `--show-output`, `--quiet`, `--color WHEN`, `--format pretty` and the
///   other flags are accepted and change nothing (output is never captured).
///
/// ```no_run
/// use synclings::testing::{run_tests, Test};
///
/// fn adds() {
///     assert_eq!(1 + 1, 2);
/// }
///
/// const TESTS: &[Test] = &[("adds", adds)];
///
/// fn main() -> std::process::ExitCode {
///     // synclings::ipc::init(ENTRIES) comes first in a binary with children.
///     run_tests(TESTS)
/// }
/// ```
pub fn run_tests(tests: &[Test]) -> std::process::ExitCode {
    run_test_variants(tests, &[("", || {})])
}

/// A setting under which every test of a binary runs once more: a name
/// (the tests' names get `NAME/` in front; `""`: no prefix) and the function
/// that sets it up, called before each test.
pub type Variant = (&'static str, fn());

/// [`run_tests`], with each test run once per variant, e.g. once per
/// backend of [`ipc`](crate::ipc) (`ipc::BACKEND_VARIANTS`): `test`,
/// `posix/test`. Filters and `--exact` see the prefixed names.
pub fn run_test_variants(tests: &[Test], variants: &[Variant]) -> std::process::ExitCode {
    let args = match TestArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::from(101);
        }
    };
    let all: Vec<Run> = variants
        .iter()
        .flat_map(|&(variant, setup)| {
            tests.iter().map(move |&(name, test)| Run {
                name: if variant.is_empty() {
                    name.to_owned()
                } else {
                    format!("{variant}/{name}")
                },
                setup,
                test,
            })
        })
        .collect();
    let selected: Vec<&Run> = all.iter().filter(|run| args.selects(&run.name)).collect();
    let filtered_out = all.len() - selected.len();
    if args.list {
        for run in &selected {
            println!("{}: test", run.name);
        }
        if !args.terse {
            println!("\n{} tests, 0 benchmarks", selected.len());
        }
        return std::process::ExitCode::SUCCESS;
    }
    println!(
        "\nrunning {} test{}",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" }
    );
    let started = Instant::now();
    let (mut passed, mut failed) = (0, Vec::new());
    for run in selected {
        let name = run.name.as_str();
        let outcome = std::panic::catch_unwind(|| {
            (run.setup)();
            (run.test)();
        });
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(_) => {
                failed.push(name);
                println!("test {name} ... FAILED");
            }
        }
    }
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(101)
    }
}

/// One test under one variant.
struct Run {
    name: String,
    setup: fn(),
    test: fn(),
}

/// The part of libtest's command line that [`run_tests`] understands.
#[derive(Debug, Default, PartialEq, Eq)]
struct TestArgs {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
    terse: bool,
    ignored: bool,
}

impl TestArgs {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<TestArgs, String> {
        let mut parsed = TestArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            // `--flag=value` and `--flag value` are the same.
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            let mut value = |what: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs {what}"))
            };
            match flag.as_str() {
                "--list" => parsed.list = true,
                "--exact" => parsed.exact = true,
                "--ignored" => parsed.ignored = true,
                "--format" => parsed.terse = value("a format")? == "terse",
                "--skip" => parsed.skip.push(value("a filter")?),
                "--test-threads" => {
                    let n = value("a number")?;
                    if n.parse::<usize>().map_or(true, |n| n == 0) {
                        return Err(format!(
                            "--test-threads must be a positive number, not {n:?}"
                        ));
                    }
                }
                "--color" | "--logfile" | "--shuffle-seed" | "-Z" => {
                    value("a value")?;
                }
                _ if flag.starts_with('-') => {}
                _ => parsed.filters.push(arg),
            }
        }
        Ok(parsed)
    }

    fn matches(&self, pattern: &str, name: &str) -> bool {
        if self.exact {
            name == pattern
        } else {
            name.contains(pattern)
        }
    }

    fn selects(&self, name: &str) -> bool {
        !self.ignored
            && (self.filters.is_empty() || self.filters.iter().any(|f| self.matches(f, name)))
            && !self.skip.iter().any(|s| self.matches(s, name))
    }
}

#[cfg(test)]
mod tests {
    use super::TestArgs;

    fn parse(line: &str) -> TestArgs {
        TestArgs::parse(line.split_whitespace().map(str::to_owned)).unwrap()
    }

    #[test]
    fn the_course_runners_command_lines() {
        let list = parse("--list --format terse");
        assert!(list.list && list.terse && list.filters.is_empty());
        let one = parse("--exact suite::a_test --test-threads 1");
        assert!(one.exact);
        assert_eq!(one.filters, ["suite::a_test"]);
        assert!(one.selects("suite::a_test"));
        assert!(!one.selects("suite::a_test_too"));
        let filtered = parse("a_test --test-threads=2 --nocapture --color never");
        assert_eq!(filtered.filters, ["a_test"]);
        assert!(filtered.selects("suite::a_test_too"));
        assert!(!filtered.selects("suite::other"));
        let skip = parse("--skip slow");
        assert!(skip.selects("fast") && !skip.selects("slow_one"));
        assert!(!parse("--ignored").selects("anything"));
        assert!(TestArgs::parse(["--test-threads".to_owned(), "0".to_owned()]).is_err());
    }
}
