//! The learner's commands: list, check, hint, reset, solution; and what they
//! share with the watch mode (where the files are, an exercise's status).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::manifest::{find, Exercise, Platforms, EXERCISES};
use crate::{platform, pristine};

/// The course root (where `course/`, `exercises/` and `solutions/` are):
/// `SYNCLINGS_ROOT` if set (the runner's own tests use a copy of the
/// course), else the checkout the runner was built from.
pub fn root() -> PathBuf {
    match std::env::var_os("SYNCLINGS_ROOT") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("course/ sits in the course root")
            .to_path_buf(),
    }
}

/// The `cargo` that runs us (or the one on PATH), in the course root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// `dir/NAME.rs` as the learner reads it (`exercises/event.rs`, with this
/// platform's separator).
pub fn shown(dir: &str, name: &str) -> String {
    Path::new(dir)
        .join(format!("{name}.rs"))
        .display()
        .to_string()
}

/// The learner's file of exercise `name`.
pub fn exercise_file(name: &str) -> PathBuf {
    root().join("exercises").join(format!("{name}.rs"))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Where a learner stands on one exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The file is still the skeleton.
    NotStarted,
    /// Edited, and every test passes.
    Done,
    /// Edited, and some test fails (the summary says which).
    Failing(String),
    /// Edited, and it does not compile.
    DoesNotCompile,
    /// This platform lacks something the exercise needs.
    Unavailable(&'static Platforms),
}

impl Status {
    /// The status in a few words, for the lists.
    pub fn describe(&self) -> String {
        match self {
            Status::Done => "done".to_owned(),
            Status::NotStarted => "not started".to_owned(),
            Status::DoesNotCompile => "not done: does not compile".to_owned(),
            Status::Failing(why) => format!("not done: {why}"),
            Status::Unavailable(p) => platform::needs_text(p),
        }
    }
}

/// The outcome of `cargo test -p PACKAGE --bin NAME`.
pub struct TestRun {
    /// True if cargo and every test succeeded.
    pub passed: bool,
    /// False if the crate did not compile.
    pub compiled: bool,
    /// The failing tests' names.
    pub failures: Vec<String>,
    /// Everything cargo and the tests printed.
    pub output: String,
}

impl TestRun {
    /// The status this run gives an edited exercise.
    pub fn status(&self) -> Status {
        if self.passed {
            Status::Done
        } else if !self.compiled {
            Status::DoesNotCompile
        } else {
            Status::Failing(format!(
                "{} failing: {}",
                self.failures.len(),
                self.failures.join(", ")
            ))
        }
    }
}

/// Runs the tests of binary `name` of `package`, quietly.
pub fn run_tests(package: &str, name: &str, echo: bool) -> Result<TestRun, String> {
    let mut cmd = cargo();
    cmd.args(["test", "-p", package, "--bin", name, "--color", "never"]);
    if !echo {
        // Shown on the watch screen, which has room for the panics, not for
        // backtraces (`check` keeps the learner's RUST_BACKTRACE).
        cmd.env("RUST_BACKTRACE", "0");
    }
    let (status, stdout, stderr) = if echo {
        // Shown as it comes, and kept: the failures are read from both.
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
        let err = child.stderr.take().expect("piped stderr");
        let err = std::thread::spawn(move || tee(err, |line| eprintln!("{line}")));
        let stdout = tee(child.stdout.take().expect("piped stdout"), |line| {
            println!("{line}")
        });
        let status = child.wait().map_err(|e| format!("cannot run cargo: {e}"))?;
        (status, stdout, err.join().unwrap_or_default())
    } else {
        let output = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let compiled = !stderr.contains("could not compile");
    let failures = stdout
        .lines()
        .chain(stderr.lines())
        .filter_map(|l| {
            l.strip_prefix("test ")?
                .strip_suffix(" ... FAILED")
                .map(str::to_owned)
        })
        .collect();
    Ok(TestRun {
        passed: status.success(),
        compiled,
        failures,
        output: stdout + &stderr,
    })
}

/// Reads `from` line by line, showing each line with `show`, and returns
/// it all.
fn tee(from: impl std::io::Read, show: impl Fn(&str)) -> String {
    use std::io::BufRead;
    let mut all = String::new();
    for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
        show(&line);
        all.push_str(&line);
        all.push('\n');
    }
    all
}

/// The status of exercise `e` without running anything: `Some` when it
/// needs no test run (not available here, or still the skeleton).
pub fn quick_status(e: &Exercise) -> Result<Option<Status>, String> {
    if let Some(p) = platform::missing(e) {
        return Ok(Some(Status::Unavailable(p)));
    }
    let bytes = read(&exercise_file(e.name))?;
    Ok(pristine::is_pristine(&root(), e.name, &bytes).then_some(Status::NotStarted))
}

/// The status of exercise `e`, running its tests if it was edited.
pub fn status(e: &Exercise) -> Result<Status, String> {
    match quick_status(e)? {
        Some(status) => Ok(status),
        None => Ok(run_tests("exercises", e.name, false)?.status()),
    }
}

/// `cargo run -- list` (and `cargo run` without a terminal): the list, then
/// the next exercise.
pub fn list() -> Result<bool, String> {
    println!("synclings — Python's concurrency, rebuilt in Rust. The exercises, in order:\n");
    let mut next = None;
    let mut done = 0;
    let mut available = 0;
    for e in EXERCISES {
        let status = status(e)?;
        match status {
            Status::Done => done += 1,
            Status::Unavailable(_) => {}
            _ if next.is_none() => next = Some(e),
            _ => {}
        }
        if !matches!(status, Status::Unavailable(_)) {
            available += 1;
        }
        println!(
            "  {:>2}. {:<20} {:<28} {}",
            e.number,
            e.name,
            status.describe(),
            e.title
        );
    }
    println!("\n{done} of {available} done.");
    if available < EXERCISES.len() {
        println!(
            "({} exercise(s) need what this platform lacks: they are listed, not built.)",
            EXERCISES.len() - available
        );
    }
    match next {
        None => {
            println!("Every exercise is done. Compare with solutions/, then try the loom models.")
        }
        Some(e) => {
            println!("\nNext: exercise {} — {}", e.number, e.title);
            println!("  mirrors:  {}", e.mirrors);
            println!("  edit:     {}", shown("exercises", e.name));
            println!(
                "  check:    cargo run -- check {0}   (or cargo test -p exercises --bin {0})",
                e.name
            );
            if e.library.is_some() {
                println!(
                    "  loom:     RUSTFLAGS=\"--cfg loom\" CARGO_TARGET_DIR=target/loom cargo test -p exercises --bin {} --release",
                    e.name
                );
            }
            println!("  stuck?    cargo run -- hint {}", e.name);
            println!(
                "  (in a terminal, `cargo run` watches the file and re-runs the tests on save)"
            );
        }
    }
    Ok(true)
}

/// Prints why `e` cannot run here, if it cannot; true if it was printed.
fn unavailable(e: &Exercise) -> bool {
    match platform::missing(e) {
        Some(p) => {
            println!(
                "Exercise {} ({}) {}: this platform cannot build it, so there is nothing to run.",
                e.number,
                e.name,
                platform::needs_text(p)
            );
            true
        }
        None => false,
    }
}

/// `cargo run -- check NAME`.
pub fn check(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    if unavailable(e) {
        return Ok(true);
    }
    println!(
        "Checking exercise {} ({}): cargo test -p exercises --bin {}\n",
        e.number, e.title, e.name
    );
    let run = run_tests("exercises", e.name, true)?;
    println!();
    for line in verdict(e, &run) {
        println!("{line}");
    }
    Ok(run.passed)
}

/// What a test run of `e` means, in lines for the learner (`check` prints
/// them; the watch mode shows them).
pub fn verdict(e: &Exercise, run: &TestRun) -> Vec<String> {
    let file = shown("exercises", e.name);
    let mut lines = Vec::new();
    if run.passed {
        lines.push(format!("✓ {}: every test passes. Done!", e.name));
        if let Some(lib) = e.library {
            lines.push(format!(
                "  The same suite passes against {lib}: compare your code with it and with {}.",
                shown("solutions", e.name)
            ));
        }
    } else if !run.compiled {
        lines.push(format!(
            "✗ {}: {file} does not compile (the compiler's errors say where).",
            e.name
        ));
    } else {
        lines.push(format!(
            "✗ {}: {} test(s) failed:",
            e.name,
            run.failures.len()
        ));
        for f in &run.failures {
            lines.push(format!("    {f}"));
        }
        if run.output.contains("not yet implemented") {
            lines
                .push("  Some bodies are still `todo!()`: the tests' panics say which.".to_owned());
        }
        lines.push(format!("  A hint: cargo run -- hint {}", e.name));
    }
    lines
}

/// `cargo run -- hint NAME`: the nudge, then the walkthrough.
pub fn hint(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    println!(
        "Exercise {} — {}\nMirrors: {}\n\nNudge: {}\n\nWalkthrough: {}",
        e.number, e.title, e.mirrors, e.nudge, e.walkthrough
    );
    Ok(true)
}

/// Writes exercise `e`'s pristine skeleton back over the learner's file.
pub fn restore(e: &Exercise) -> Result<(), String> {
    let file = exercise_file(e.name);
    let skeleton = pristine::embedded(e.name).ok_or_else(|| {
        format!(
            "this build of the runner has no pristine copy of {0}: the file was already \
             edited when the runner was built (a first build after editing, or after \
             `cargo clean`). Restore it from the repository (`git checkout -- {0}`) or a \
             fresh download.",
            shown("exercises", e.name)
        )
    })?;
    std::fs::write(&file, skeleton).map_err(|err| format!("cannot write {}: {err}", file.display()))
}

/// `cargo run -- reset NAME`.
pub fn reset(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    restore(e)?;
    println!("{} is back to its skeleton.", shown("exercises", e.name));
    Ok(true)
}

/// `cargo run -- solution NAME`.
pub fn solution(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    if unavailable(e) {
        return Ok(true);
    }
    let status = cargo()
        .args(["run", "-q", "-p", "solutions", "--bin", e.name])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    Ok(status.success())
}
