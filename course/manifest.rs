// The course manifest: the exercises in order, each with its hint.
//
// This file is plain Rust data, read by the course runner (`cargo run`) and
// by CI (`cargo run -- verify`). Every entry needs:
// - `exercises/NAME.rs` (the skeleton you edit) and `course/skeletons/NAME.rs`
//   (its pristine copy, used by `cargo run -- reset NAME`);
// - `solutions/NAME.rs` (the reference solution, a runnable binary);
// - a suite `synclings_suites::NAME_suite!` used by both, with at least one test;
// - for the "build X" exercises, `library`: the library's own type, which
//   passes the same suite (suites/tests/library.rs).

/// The exercises, in the order a learner takes them.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "event",
        number: 4,
        title: "build Event from the facade's Mutex + Condvar",
        mirrors: "threading.Event (seed program 4, exam question 7)",
        library: Some("synclings::Event"),
        hint: "Keep two things under one Mutex: the flag and a generation counter that `set` bumps when the \
flag goes from false to true. A waiter remembers the generation when it starts and loops on \
`cond.wait(guard)` until the flag is set or the generation moved: that is how a waiter still returns \
true when `clear` follows `set` at once. `set` must call `notify_all` (every waiter wakes). For \
`wait_timeout`, compute `deadline = Instant::now() + timeout` once, loop on `wait_until(guard, deadline)` \
and leave when it says `timed_out`; return whether the generation moved.",
    },
];

/// One exercise of the course.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// The file stem and binary name: `exercises/NAME.rs`, `--bin NAME`.
    pub name: &'static str,
    /// The exercise's number in the course (the order).
    pub number: u32,
    /// What to do, in a line.
    pub title: &'static str,
    /// The Python (and the seed program or exam question) it mirrors.
    pub mirrors: &'static str,
    /// For "build X" exercises: the library type that passes the same suite.
    pub library: Option<&'static str>,
    /// The hint `cargo run -- hint NAME` prints.
    pub hint: &'static str,
}
