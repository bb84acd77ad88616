//! `cargo run -- quiz | head`: a runner whose stdout is closed ends quietly
//! with status 141 (a shell's "killed by a closed pipe"), not with a panic
//! and a backtrace.

use std::process::{Command, Stdio};
use std::time::Duration;

use synclings::testing::within;

#[test]
fn a_closed_stdout_ends_the_runner_quietly() {
    // The pipe's read end is closed before the runner starts: its first
    // write fails, whatever the timing.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = within(Duration::from_secs(120), "cargo run -- quiz", || {
        Command::new(env!("CARGO_BIN_EXE_synclings-course"))
            .arg("quiz")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run the quiz")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
}
