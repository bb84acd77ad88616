//! `cargo run -- verify`: CI's proof that the course is honest.
//!
//! - The tree is in step with the manifest (`dev check`: every entry has its
//!   untouched skeleton, solution and suite, the generated `[[bin]]` lists and
//!   suite registry agree, no file is orphaned) and every suite has a test.
//! - Every test of every suite, run alone (`--exact`), FAILS against the
//!   untouched skeleton (a test that passes there checks nothing), and the
//!   same tests PASS against the solution and, for "build X" exercises,
//!   against the library's own X.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::exercises::{cargo, root};
use crate::manifest::EXERCISES;
use crate::{dev, platform};

/// A test that runs longer than this against a skeleton is reported as hung.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

pub fn run() -> Result<bool, String> {
    let mut problems = dev::problems(&root(), EXERCISES);

    println!("building the test binaries of exercises, solutions and the library suites…");
    let exercises = test_binaries(&["test", "-p", "exercises", "--bins", "--no-run"])?;
    let solutions = test_binaries(&["test", "-p", "solutions", "--bins", "--no-run"])?;
    let library = test_binaries(&[
        "test",
        "-p",
        "synclings-suites",
        "--test",
        "library",
        "--no-run",
    ])?;
    let library = library
        .get("library")
        .ok_or("no test binary `library` in synclings-suites")?;
    let library_tests = list_tests(library)?;

    let mut total = 0;
    let mut skipped = Vec::new();
    for e in EXERCISES {
        if let Some(p) = platform::missing(e) {
            println!("  {:<20} skipped: {}", e.name, platform::needs_text(p));
            skipped.push(e.name);
            continue;
        }
        let Some(skeleton_exe) = exercises.get(e.name) else {
            problems.push(format!(
                "{}: no test binary in the exercises package (is it a [[bin]]?)",
                e.name
            ));
            continue;
        };
        let Some(solution_exe) = solutions.get(e.name) else {
            problems.push(format!(
                "{}: no test binary in the solutions package (is it a [[bin]]?)",
                e.name
            ));
            continue;
        };
        let tests = list_tests(skeleton_exe)?;
        if tests.is_empty() {
            problems.push(format!("{}: the suite has no test", e.name));
        }
        if list_tests(solution_exe)? != tests {
            problems.push(format!(
                "{}: the solution runs a different list of tests than the skeleton",
                e.name
            ));
        }
        for t in &tests {
            total += 1;
            match run_one(skeleton_exe, Some(t))? {
                Outcome::Failed => {}
                Outcome::Passed => problems.push(format!(
                    "{}: `{t}` PASSES on the untouched skeleton: it checks nothing",
                    e.name
                )),
                Outcome::Hung => problems.push(format!(
                    "{}: `{t}` hangs on the skeleton (over {TEST_DEADLINE:?})",
                    e.name
                )),
            }
        }
        if run_one(solution_exe, None)? != Outcome::Passed {
            problems.push(format!(
                "{}: the solution fails its suite (cargo test -p solutions --bin {})",
                e.name, e.name
            ));
        }
        if e.library.is_some() {
            let prefix = format!("{}_suite::", e.name);
            let lib: BTreeSet<&String> = library_tests
                .iter()
                .filter(|t| t.starts_with(&prefix))
                .collect();
            let mine: BTreeSet<&String> = tests.iter().filter(|t| t.starts_with(&prefix)).collect();
            // The library runs the whole suite; an exercise may add tests of
            // its own extras (rlock's plain-Lock deadlock), never drop one.
            if lib.is_empty() || !lib.is_subset(&mine) {
                problems.push(format!(
                    "{}: suites/tests/library.rs must run the `{prefix}` tests against {}",
                    e.name,
                    e.library.unwrap_or_default()
                ));
            }
        }
        println!(
            "  {:<20} {} tests: each fails on the skeleton, all pass on the solution",
            e.name,
            tests.len()
        );
    }
    if run_one(library, None)? != Outcome::Passed {
        problems.push(
            "the library fails a suite (cargo test -p synclings-suites --test library)".to_owned(),
        );
    }

    if problems.is_empty() {
        println!(
            "course verified: {} exercises, {total} tests, every one fails on its skeleton and passes on the solution (and the library).",
            EXERCISES.len() - skipped.len()
        );
        if !skipped.is_empty() {
            println!(
                "not verified on this platform (they need what it lacks): {}",
                skipped.join(", ")
            );
        }
        Ok(true)
    } else {
        println!("\nthe course is not honest yet:");
        for p in &problems {
            println!("  ✗ {p}");
        }
        Ok(false)
    }
}

/// Builds test binaries with `cargo ARGS --message-format=json` and returns
/// target name → executable.
fn test_binaries(args: &[&str]) -> Result<BTreeMap<String, PathBuf>, String> {
    let out = cargo()
        .args(args)
        .args(["--message-format=json", "--color", "never"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo {}` failed", args.join(" ")));
    }
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.contains("\"reason\":\"compiler-artifact\"") || !line.contains("\"test\":true") {
            continue;
        }
        let (Some(name), Some(exe)) = (
            json_string_after(line, "\"target\":{", "name"),
            json_string_after(line, "", "executable"),
        ) else {
            continue;
        };
        map.insert(name, PathBuf::from(exe));
    }
    Ok(map)
}

/// The string value of the first `"key":"…"` after `anchor` in a JSON line
/// (enough for cargo's messages: target names, and paths whose only escapes
/// are Windows' backslashes, `\\`).
fn json_string_after(line: &str, anchor: &str, key: &str) -> Option<String> {
    let start = line.find(anchor)? + anchor.len();
    let pat = format!("\"{key}\":\"");
    let from = start + line[start..].find(&pat)? + pat.len();
    let len = line[from..].find('"')?;
    Some(line[from..from + len].replace("\\\\", "\\"))
}

/// The tests in a libtest binary.
fn list_tests(exe: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test").map(str::to_owned))
        .collect())
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Hung,
}

/// Runs one test (`--exact`) or the whole binary, with a deadline.
fn run_one(exe: &Path, test: Option<&str>) -> Result<Outcome, String> {
    let mut cmd = Command::new(exe);
    if let Some(t) = test {
        cmd.args(["--exact", t, "--test-threads", "1"]);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let end = Instant::now() + TEST_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(if status.success() {
                Outcome::Passed
            } else {
                Outcome::Failed
            });
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Outcome::Hung);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::json_string_after;

    #[test]
    fn reads_cargo_artifact_lines_on_every_platform() {
        let unix = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"event"},"executable":"/w/target/debug/deps/event-1"}"#;
        assert_eq!(
            json_string_after(unix, "\"target\":{", "name").as_deref(),
            Some("event")
        );
        assert_eq!(
            json_string_after(unix, "", "executable").as_deref(),
            Some("/w/target/debug/deps/event-1")
        );
        let windows = r#"{"executable":"C:\\w\\target\\debug\\deps\\event-1.exe"}"#;
        assert_eq!(
            json_string_after(windows, "", "executable").as_deref(),
            Some(r"C:\w\target\debug\deps\event-1.exe")
        );
    }
}
