//! The course's test suites. Each is a macro, written once and expanded in
//! three places (see `../shared/DESIGN.md`, "One test suite, three subjects"):
//!
//! - the learner's skeleton: `exercises/NAME.rs` ends with
//!   `#[cfg(test)] synclings_suites::NAME_suite!(crate::Thing);`;
//! - the reference solution: `solutions/NAME.rs`, the same line;
//! - for the "build X" exercises, the library's own `X`: `tests/library.rs`
//!   in this package.
//!
//! A suite expands to `mod NAME_suite` (ordinary tests, each blocking step
//! under a deadline) and, under `RUSTFLAGS="--cfg loom"`, to `mod NAME_loom`
//! (loom models of the primitive's core races).

#[doc(hidden)]
#[cfg(loom)]
pub use loom;

#[doc(hidden)]
pub use synclings;

/// The deadline of every blocking step in the suites.
pub use synclings::testing::DEADLINE;

mod bounded_concurrency;
mod condition;
mod coroutine;
mod echo_blocking;
mod echo_flood;
mod echo_nonblocking;
mod echo_selector;
mod event;
mod event_gate;
mod process_pipe;
mod process_queue;
mod producer_consumer;
mod queue;
mod rlock;
mod semaphore;
mod shared_counter;
mod thread_local;
mod thread_pool;
mod threads;
mod timer;
