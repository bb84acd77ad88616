//! # Exercise 5 — a gate: threads wait until the main thread opens it
//!
//! **What to build.** Use the `Event` you built in exercise 4 — here the
//! library's, `synclings::Event` — as a gate.
//! - `spawn_waiters(gate, n)`: start `n` threads; each waits for the gate
//!   (`gate.wait()`), then takes the time (`Instant::now()`), prints it and
//!   returns it. Return their `JoinHandle`s without waiting for them.
//! - `run(n, open_after)`: a new closed gate, `n` waiters on it; sleep
//!   `open_after` (the main thread's work), note the time, open the gate
//!   (`set`), join the waiters; return the opening time and each waiter's
//!   time, in thread order. No waiter's time may come before the opening.
//!
//! **The Python it mirrors** (seed program 4: "ten threads; each must wait
//! until the main thread has slept 10 seconds, then print the time"):
//!
//! ```python
//! from threading import Thread, Event
//! import time
//! import datetime
//! def task():
//!     event.wait(10)
//!     print('time:', datetime.datetime.now())
//! if __name__ == '__main__':
//!     event = Event()
//!     for i in range(10):
//!         t = Thread(target=task)
//!         t.start()
//!     time.sleep(10)
//!     event.set()
//! ```
//!
//! It printed ten times within a few milliseconds of each other
//! (`time: 2018-05-01 17:31:15.896462` ..). Note the seed's `wait(10)`: a
//! timeout as long as the main thread's sleep means a thread may pass when
//! its wait times out, not because the gate opened. Wait without a timeout:
//! the gate is then the only way through.
//!
//! **Use** `synclings::Event` shared through an `Arc` (one `clone` per
//! thread), `synclings::thread::spawn_named` (or `spawn`) for the threads,
//! and `std::thread::sleep` for the main thread's work.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin event_gate` runs the suite against your code;
//! - `cargo run -p exercises --bin event_gate` runs the `main` below.
//! - Stuck? `cargo run -- hint event_gate`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use synclings::sync::{Duration, Instant};
use synclings::thread::{spawn_named, JoinHandle};
use synclings::Event;

/// Starts `n` threads that each wait for `gate`, then print and return the
/// instant they got through. Returns at once, with their handles.
pub fn spawn_waiters(gate: Arc<Event>, n: usize) -> Vec<JoinHandle<Instant>> {
    // TODO: for each i, clone the Arc and spawn a thread that waits for the
    // gate, takes `Instant::now()`, prints `time: {wall_clock()}` and
    // returns the instant. Collect the handles.
    todo!()
}

/// Starts `n` waiters on a new gate, opens it after `open_after`, joins
/// them. Returns the instant the gate opened (taken just before `set`) and
/// the instant each waiter got through, in thread order.
pub fn run(n: usize, open_after: Duration) -> (Instant, Vec<Instant>) {
    // TODO: gate, waiters, sleep, `let opened = Instant::now();`, set,
    // join every waiter.
    todo!()
}

/// The time of day (UTC) with microseconds, like Python's
/// `datetime.datetime.now()` without the date.
fn wall_clock() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since_epoch.subsec_micros()
    )
}

fn main() {
    // The seed sleeps 10 s; half a second shows the same.
    let (opened, released) = run(10, Duration::from_millis(500));
    let last = released
        .iter()
        .max()
        .map_or(Duration::ZERO, |at| *at - opened);
    println!(
        "the gate opened; all {} threads passed within {last:?}",
        released.len()
    );
}

#[cfg(test)]
synclings_suites::event_gate_suite!(crate);
