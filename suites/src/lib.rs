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

/// The check both producer-consumer suites (threads and processes) make of
/// what a run's consumers received, `shape` naming the run in each message:
/// one list per consumer, every item of `0..producers * per_producer`
/// exactly once, and each producer's items (item / per_producer = producer)
/// in the order it produced them, within each consumer's list.
#[doc(hidden)]
pub fn check_delivery(
    shape: &str,
    received: &[Vec<u64>],
    producers: usize,
    consumers: usize,
    per_producer: u64,
) {
    assert_eq!(received.len(), consumers, "{shape}: one list per consumer");

    let total = producers as u64 * per_producer;
    let mut seen = vec![0usize; total as usize];
    for &item in received.iter().flatten() {
        assert!(
            item < total,
            "{shape}: item {item} was never produced (the items are 0..{total})"
        );
        seen[item as usize] += 1;
    }
    let lost: Vec<u64> = (0..total).filter(|&i| seen[i as usize] == 0).collect();
    let twice: Vec<u64> = (0..total).filter(|&i| seen[i as usize] > 1).collect();
    assert!(lost.is_empty(), "{shape}: lost items {lost:?}");
    assert!(
        twice.is_empty(),
        "{shape}: items received more than once {twice:?}"
    );

    // A FIFO queue keeps each producer's order, and a consumer sees its share
    // of it in that order.
    for (c, list) in received.iter().enumerate() {
        for p in 0..producers as u64 {
            let from_p: Vec<u64> = list
                .iter()
                .copied()
                .filter(|item| item / per_producer == p)
                .collect();
            assert!(
                from_p.windows(2).all(|w| w[0] < w[1]),
                "{shape}: consumer {c} got producer {p}'s items out of order: {from_p:?}"
            );
        }
    }
}

/// The child `Process::spawn(name, ..)` started, or a failure saying why
/// (most often: `name` is not listed in `ENTRIES`). For the process suites.
#[doc(hidden)]
#[cfg(not(loom))]
pub fn started(
    name: &str,
    spawned: std::io::Result<synclings::ipc::Process>,
) -> synclings::ipc::Process {
    spawned.unwrap_or_else(|e| {
        panic!("cannot start the child entry `{name}` (is it in ENTRIES?): {e}")
    })
}

/// Waits for the child under the deadline and requires a clean exit (a
/// panic in the child, `todo!()` included, shows here). For the process
/// suites.
#[doc(hidden)]
#[cfg(not(loom))]
pub fn joined(mut child: synclings::ipc::Process, what: &str) {
    let status =
        synclings::testing::within(DEADLINE, &format!("{what}: the child exits"), move || {
            child.join().expect("wait for the child")
        });
    assert!(
        status.success(),
        "{what}: the child did not end well: {status}"
    );
}

mod bounded_concurrency;
mod condition;
mod coroutine;
mod echo_blocking;
mod echo_flood;
mod echo_nonblocking;
mod echo_selector;
mod event;
mod event_gate;
mod gil;
mod process_pipe;
mod process_pool;
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
