//! `cargo run`: the synclings course.
//!
//! The course runner is its own package (`course/`, `synclings-course`), so
//! that its terminal and file-watching dependencies never become the
//! library's. This binary only hands its arguments to it:
//! `cargo run -- ARGS` is `cargo run -p synclings-course -- ARGS`.
//! Run `cargo run -- help` for the commands.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args([
        "run",
        "--package",
        "synclings-course",
        "--bin",
        "synclings-course",
    ]);
    // Quiet once the runner is built; on the first run, show cargo's progress
    // (building the runner takes a minute on a fresh machine).
    if runner_is_built() {
        cmd.arg("--quiet");
    }
    cmd.arg("--").args(std::env::args_os().skip(1));
    match cmd.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| c.clamp(1, 255) as u8)),
        Err(e) => {
            eprintln!("error: cannot run cargo to start the course runner: {e}");
            ExitCode::from(2)
        }
    }
}

/// Whether the course runner sits next to this binary (same target
/// directory and profile).
fn runner_is_built() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let name = format!("synclings-course{}", std::env::consts::EXE_SUFFIX);
            Some(exe.parent()?.join(name))
        })
        .is_some_and(|runner| runner.is_file())
}
