//! The synclings course runner (`cargo run` at the root starts it).
//!
//! ```text
//! cargo run                  in a terminal: the watch mode; otherwise the list
//! cargo run -- list          the exercise list (done / not done) and what to do next
//! cargo run -- check NAME    run exercise NAME's tests and say what failed
//! cargo run -- hint NAME     print NAME's nudge and walkthrough
//! cargo run -- reset NAME    put NAME back to its skeleton (your edits are lost)
//! cargo run -- solution NAME run the reference solution of NAME
//! cargo run -- quiz          the seed exam's 34 questions, answered
//! cargo run -- tour          the seed's programs, in the exam's order
//! cargo run -- verify        CI: prove the course honest
//! cargo run -- dev update    course authors: write the lists the manifest decides
//! ```
//!
//! The runner keeps no state for the exercises: one is "not started" while
//! `exercises/NAME.rs` is still its recorded skeleton (`course/pristine.sum`),
//! and otherwise "done" exactly when its tests pass right now. It works
//! offline and needs only the Rust toolchain: it calls `cargo`.

/// std's `println!`, through [`out::line`]: a closed stdout ends the runner
/// quietly. Defined before the modules, so it is theirs too.
macro_rules! println {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// std's `print!`, through [`out::text`].
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::out::text(format_args!($($arg)*))
    };
}

mod demo;
mod dev;
mod exercises;
mod hash;
mod manifest;
mod out;
mod platform;
mod pristine;
mod quiz;
mod screen;
mod tour;
mod verify;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        // In a terminal, the watch mode; piped or in CI, the plain list.
        [] => match watch::run() {
            Ok(true) => Ok(true),
            Ok(false) => exercises::list(),
            Err(why) => Err(why),
        },
        ["list"] => exercises::list(),
        ["check", name] => exercises::check(name),
        ["hint", name] => exercises::hint(name),
        ["reset", name] => exercises::reset(name),
        ["solution", name] => exercises::solution(name),
        ["tour"] => tour::run(),
        ["verify"] => verify::run(),
        ["quiz", rest @ ..] => quiz::run(rest),
        ["dev", rest @ ..] => dev::run(rest),
        ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            Ok(true)
        }
        _ => Err(format!("unknown command {:?}\n\n{USAGE}", args.join(" "))),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "\
usage: cargo run [-- COMMAND]
  (nothing)        in a terminal: the watch mode (re-runs the current exercise on
                   every save; h hint, n next, l list, r reset, c check all,
                   q quit); piped or in CI: the list
  list             the exercise list and what to do next
  check NAME       run exercise NAME's tests
  hint NAME        print NAME's nudge and walkthrough
  reset NAME       put exercises/NAME.rs back to its skeleton (your edits are lost)
  solution NAME    run the reference solution of NAME
  quiz             the seed exam's 34 questions, answered: `quiz` (progress and the
                   next question), `quiz N` (its answer), `quiz all`, `quiz reset`,
                   `quiz demo` (things to run for the conceptual questions)
  tour             the seed's programs, in the exam's order
  verify           CI's proof that the course is honest
  dev update       course authors: write the [[bin]] lists, the suite registry and
                   course/pristine.sum from course/manifest.rs
  dev check        course authors: fail, naming the entry, where the tree and the
                   manifest disagree (verify runs it too)
";
