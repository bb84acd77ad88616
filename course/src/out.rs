//! The runner's standard output: `println!` and `print!` (the macros in
//! `main.rs` shadow std's for every module) write here. As std's, except
//! that a closed stdout (`cargo run -- quiz | head`) ends the runner
//! quietly, with the status a shell gives a process a closed pipe killed
//! (141), instead of a panic and a backtrace.

use std::fmt;
use std::io::{self, Write};

/// Exit status for "stdout was closed": 128 + SIGPIPE, as a shell reports.
const CLOSED: i32 = 141;

/// Writes `args` and a newline.
pub fn line(args: fmt::Arguments<'_>) {
    write(|out| {
        out.write_fmt(args)?;
        out.write_all(b"\n")
    });
}

/// Writes `args`.
pub fn text(args: fmt::Arguments<'_>) {
    write(|out| out.write_fmt(args));
}

fn write(f: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>) {
    let mut out = io::stdout().lock();
    if let Err(e) = f(&mut out) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED);
        }
        panic!("failed printing to stdout: {e}");
    }
}
