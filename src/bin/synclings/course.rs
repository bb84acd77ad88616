//! The learner's commands: list, check, hint, reset, solution.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

include!("../../../course/manifest.rs");

/// The repository root (where `course/`, `exercises/` and `solutions/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `cargo` that runs us (or the one on PATH).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// The exercise called `name`, or an error listing the names.
pub fn find(name: &str) -> Result<&'static Exercise, String> {
    EXERCISES.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = EXERCISES.iter().map(|e| e.name).collect();
        format!(
            "no exercise called {name:?}; the exercises are: {}",
            names.join(", ")
        )
    })
}

/// Where an exercise's files are.
pub struct Files {
    /// The learner's file.
    pub exercise: PathBuf,
    /// Its pristine copy.
    pub skeleton: PathBuf,
    /// The reference solution.
    pub solution: PathBuf,
}

/// The files of exercise `name`.
pub fn files(name: &str) -> Files {
    let root = root();
    Files {
        exercise: root.join("exercises").join(format!("{name}.rs")),
        skeleton: root.join("course/skeletons").join(format!("{name}.rs")),
        solution: root.join("solutions").join(format!("{name}.rs")),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Where a learner stands on one exercise.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    /// The file is still the skeleton.
    NotStarted,
    /// Edited, and every test passes.
    Done,
    /// Edited, and some test fails (the summary says which).
    Failing(String),
    /// Edited, and it does not compile.
    DoesNotCompile,
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

/// Runs the tests of binary `name` of `package`, quietly.
pub fn run_tests(package: &str, name: &str, echo: bool) -> Result<TestRun, String> {
    let mut cmd = cargo();
    cmd.args(["test", "-p", package, "--bin", name, "--color", "never"]);
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

/// The status of exercise `e`, running its tests if it was edited.
pub fn status(e: &Exercise) -> Result<Status, String> {
    let f = files(e.name);
    if read(&f.exercise)? == read(&f.skeleton)? {
        return Ok(Status::NotStarted);
    }
    let run = run_tests("exercises", e.name, false)?;
    Ok(if run.passed {
        Status::Done
    } else if !run.compiled {
        Status::DoesNotCompile
    } else {
        Status::Failing(format!(
            "{} failing: {}",
            run.failures.len(),
            run.failures.join(", ")
        ))
    })
}

/// `cargo run`: the list, then the next exercise.
pub fn list() -> Result<bool, String> {
    println!("synclings — Python's concurrency, rebuilt in Rust. The exercises, in order:\n");
    let mut next = None;
    let mut done = 0;
    for e in EXERCISES {
        let status = status(e)?;
        let mark = match &status {
            Status::Done => {
                done += 1;
                "done".to_owned()
            }
            Status::NotStarted => "not started".to_owned(),
            Status::DoesNotCompile => "not done: does not compile".to_owned(),
            Status::Failing(why) => format!("not done: {why}"),
        };
        if status != Status::Done && next.is_none() {
            next = Some(e);
        }
        println!("  {:>2}. {:<20} {:<28} {}", e.number, e.name, mark, e.title);
    }
    println!("\n{done} of {} done.", EXERCISES.len());
    match next {
        None => {
            println!("Every exercise is done. Compare with solutions/, then try the loom models.")
        }
        Some(e) => {
            println!("\nNext: exercise {} — {}", e.number, e.title);
            println!("  mirrors:  {}", e.mirrors);
            println!("  edit:     exercises/{}.rs", e.name);
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
        }
    }
    Ok(true)
}

/// `cargo run -- check NAME`.
pub fn check(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    println!(
        "Checking exercise {} ({}): cargo test -p exercises --bin {}\n",
        e.number, e.title, e.name
    );
    let run = run_tests("exercises", e.name, true)?;
    println!();
    if run.passed {
        println!("✓ {}: every test passes. Done!", e.name);
        if let Some(lib) = e.library {
            println!("  The same suite passes against {lib}: compare your code with it and with solutions/{}.rs.", e.name);
        }
    } else if !run.compiled {
        println!(
            "✗ {}: exercises/{}.rs does not compile (the errors are above).",
            e.name, e.name
        );
    } else {
        println!("✗ {}: {} test(s) failed:", e.name, run.failures.len());
        for f in &run.failures {
            println!("    {f}");
        }
        if run.output.contains("not yet implemented") {
            println!("  Some bodies are still `todo!()`: the panics above say which.");
        }
        println!("  A hint: cargo run -- hint {}", e.name);
    }
    Ok(run.passed)
}

/// `cargo run -- hint NAME`.
pub fn hint(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    println!(
        "Exercise {} — {}\nMirrors: {}\n\nHint: {}",
        e.number, e.title, e.mirrors, e.hint
    );
    Ok(true)
}

/// `cargo run -- reset NAME`.
pub fn reset(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    let f = files(e.name);
    let skeleton = read(&f.skeleton)?;
    std::fs::write(&f.exercise, skeleton)
        .map_err(|err| format!("cannot write {}: {err}", f.exercise.display()))?;
    println!(
        "exercises/{}.rs is back to its skeleton (from course/skeletons/{}.rs).",
        e.name, e.name
    );
    Ok(true)
}

/// `cargo run -- solution NAME`.
pub fn solution(name: &str) -> Result<bool, String> {
    let e = find(name)?;
    let status = cargo()
        .args(["run", "-q", "-p", "solutions", "--bin", e.name])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    Ok(status.success())
}
