//! # Solution 5 — a gate: threads wait until the main thread opens it
//!
//! One `Event`, shared through an `Arc`. Every waiter blocks in `wait()`
//! until the main thread calls `set()`, which wakes them all at once; a
//! waiter that arrives after the `set` passes straight through. The opening
//! instant is taken *before* `set`, and a waiter's instant after its
//! `wait()` returned, so every waiter's instant is at or after the opening.
//!
//! `cargo run -p solutions --bin event_gate` prints what seed program 4
//! prints: after the main thread's pause, ten times within a few
//! milliseconds of each other.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use synclings::sync::{Duration, Instant};
use synclings::thread::{spawn_named, JoinHandle};
use synclings::Event;

/// Starts `n` threads that each wait for `gate`, then print and return the
/// instant they got through. Returns at once, with their handles.
pub fn spawn_waiters(gate: Arc<Event>, n: usize) -> Vec<JoinHandle<Instant>> {
    (0..n)
        .map(|i| {
            let gate = Arc::clone(&gate);
            spawn_named(format!("Thread-{}", i + 1), move || {
                // No timeout (the seed's `wait(10)` would let a thread pass
                // when it times out): the gate is the only way through.
                gate.wait();
                let through = Instant::now();
                println!("time: {}", wall_clock());
                through
            })
            .expect("the OS refused a new thread")
        })
        .collect()
}

/// Starts `n` waiters on a new gate, opens it after `open_after`, joins
/// them. Returns the instant the gate opened (taken just before `set`) and
/// the instant each waiter got through, in thread order.
pub fn run(n: usize, open_after: Duration) -> (Instant, Vec<Instant>) {
    let gate = Arc::new(Event::new());
    let waiters = spawn_waiters(Arc::clone(&gate), n);
    std::thread::sleep(open_after); // the main thread's work
    let opened = Instant::now();
    gate.set();
    let released = waiters
        .into_iter()
        .map(|waiter| waiter.join().expect("a waiter panicked"))
        .collect();
    (opened, released)
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
