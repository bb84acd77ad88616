//! `cargo run`: the synclings course runner.
//!
//! ```text
//! cargo run                  the exercise list (done / not done) and what to do next
//! cargo run -- check NAME    run exercise NAME's tests and say what failed
//! cargo run -- hint NAME     print NAME's hint
//! cargo run -- reset NAME    put NAME back to its skeleton (your edits are lost)
//! cargo run -- solution NAME run the reference solution of NAME
//! cargo run -- tour          a tour of the library replaying the seed programs
//! cargo run -- verify        CI: prove the course honest (every test fails on
//!                            the skeletons and passes on the solutions and the library)
//! ```
//!
//! The runner keeps no state of its own: an exercise is "not started" while
//! `exercises/NAME.rs` is byte-identical to `course/skeletons/NAME.rs`, and
//! otherwise "done" exactly when its tests pass right now. It works offline:
//! it only calls `cargo`.

mod course;
mod tour;
mod verify;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] | ["list"] => course::list(),
        ["check", name] => course::check(name),
        ["hint", name] => course::hint(name),
        ["reset", name] => course::reset(name),
        ["solution", name] => course::solution(name),
        ["tour"] => {
            tour::run();
            Ok(true)
        }
        ["verify"] => verify::run(),
        ["help" | "--help" | "-h"] => {
            print!("{}", USAGE);
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
  (nothing)        the exercise list and what to do next
  check NAME       run exercise NAME's tests
  hint NAME        print NAME's hint
  reset NAME       put exercises/NAME.rs back to its skeleton (your edits are lost)
  solution NAME    run the reference solution of NAME
  tour             a tour of the library replaying the seed programs
  verify           CI's proof that the course is honest
";
