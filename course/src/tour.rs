//! `cargo run -- tour`: the seed exam's eleven programs, in the exam's order,
//! each run as its solution binary (`solutions/NAME.rs`), which prints what
//! the Python program printed.
//!
//! Which solution replays which program is the manifest's `program` field;
//! the programs whose library piece does not exist yet are listed with the
//! issue that brings them.

use crate::exercises::{cargo, shown};
use crate::manifest::{Exercise, EXERCISES};
use crate::platform;

/// The exam's programs, in its order: (number, what it does).
pub const PROGRAMS: [(u32, &str); 11] = [
    (
        1,
        "ten threads; the main thread joins each (threading.Thread, activeCount)",
    ),
    (2, "ten threads, each with its own `name` (threading.local)"),
    (
        3,
        "a coroutine producer-consumer (a generator, next and send)",
    ),
    (
        4,
        "ten threads wait at an Event until the main thread opens it",
    ),
    (
        5,
        "ten threads, at most five at a time (threading.Semaphore(5))",
    ),
    (
        6,
        "say hello after a delay without time.sleep (threading.Timer)",
    ),
    (
        7,
        "producer and consumer processes over a multiprocessing.Queue",
    ),
    (
        8,
        "a parent and a child process over a multiprocessing.Pipe",
    ),
    (9, "a selectors server with accept and read callbacks"),
    (
        10,
        "a server that a flood of requests cannot bring down (socketserver)",
    ),
    (11, "an asyncio socket server"),
];

/// What is still to come for a program, beyond its solution (or instead of
/// one).
/// Every program has its solution now (program 10's is exercise 28's);
/// a note goes here when a program waits for a library piece again.
pub fn coming(_program: u32) -> Option<&'static str> {
    None
}

/// The exercise whose solution replays `program`.
pub fn solution_of(program: u32) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.program == Some(program))
}

/// Runs the tour.
pub fn run() -> Result<bool, String> {
    println!(
        "The seed's {} programs, in the exam's order, each run as its solution binary \
         (the delays are shortened).",
        PROGRAMS.len()
    );
    println!("Building the solutions (cargo build -p solutions --bins)…");
    let built = cargo()
        .args(["build", "-q", "-p", "solutions", "--bins"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !built.success() {
        return Err("the solutions do not build (cargo build -p solutions --bins)".to_owned());
    }
    let mut all_ran = true;
    for (number, what) in PROGRAMS {
        println!("\n== program {number}: {what}");
        if let Some(note) = coming(number) {
            println!("   ({note})");
        }
        let Some(e) = solution_of(number) else {
            continue;
        };
        println!(
            "   {} (exercise {}): cargo run -p solutions --bin {}\n",
            shown("solutions", e.name),
            e.number,
            e.name
        );
        if let Some(p) = platform::missing(e) {
            println!("   not on this platform: it {}", platform::needs_text(p));
            continue;
        }
        let status = cargo()
            .args(["run", "-q", "-p", "solutions", "--bin", e.name])
            .status()
            .map_err(|err| format!("cannot run cargo: {err}"))?;
        if !status.success() {
            println!("   ✗ {} failed: {status}", shown("solutions", e.name));
            all_ran = false;
        }
    }
    println!("\nThat was the exam's programs. Its 34 questions, answered: cargo run -- quiz");
    Ok(all_ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_has_one_solution_or_says_what_is_coming() {
        for (number, _) in PROGRAMS {
            let solutions = EXERCISES
                .iter()
                .filter(|e| e.program == Some(number))
                .count();
            assert!(solutions <= 1, "program {number} has {solutions} solutions");
            assert!(
                solutions == 1 || coming(number).is_some(),
                "program {number} has no solution and no note of what is coming"
            );
        }
        assert!(EXERCISES
            .iter()
            .filter_map(|e| e.program)
            .all(|p| (1..=PROGRAMS.len() as u32).contains(&p)));
    }
}
