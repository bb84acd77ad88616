//! # Exercise 4 — build `Event`
//!
//! **What to build.** A flag that threads can wait on: `set()` raises it and
//! wakes every waiter, `clear()` lowers it, `is_set()` reads it, `wait()`
//! blocks until it is raised, `wait_timeout(d)` gives up after `d` and
//! returns whether the wait ended because of a `set`. One subtle rule from
//! CPython: a waiter returns `true` if a `set` happened while it waited, even
//! if a `clear` came right after (so "the flag is true when I wake up" is the
//! wrong test: count the sets instead).
//!
//! **The Python it mirrors** (seed program 4, abridged):
//!
//! ```python
//! from threading import Thread, Event
//! def task():
//!     event.wait()
//!     print('time:', datetime.datetime.now())
//! event = Event()
//! for i in range(10):
//!     Thread(target=task).start()
//! time.sleep(10)
//! event.set()
//! ```
//!
//! **Build it from** `synclings::sync::{Mutex, Condvar}` (the course's
//! facade: `lock()`, `Condvar::wait(guard) -> guard`,
//! `Condvar::wait_until(guard, deadline) -> (guard, timed_out)`,
//! `notify_all()`).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin event` runs the suite against your code;
//! - `RUSTFLAGS="--cfg loom" cargo test -p exercises --bin event --release`
//!   lets loom hunt for a lost wake-up in every interleaving;
//! - `cargo run -p exercises --bin event` runs the `main` below.
//! - Stuck? `cargo run -- hint event`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::sync::{Condvar, Duration, Instant, Mutex};

/// A flag threads can wait on: Python's `threading.Event`.
pub struct Event {
    // TODO: the state. A `Mutex` around the flag and a count of sets
    // (a "generation"), and a `Condvar` to sleep on.
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Self {
        todo!("create the mutex-protected state and the condvar")
    }

    /// True if the flag is raised.
    pub fn is_set(&self) -> bool {
        todo!()
    }

    /// Raises the flag and wakes every waiter.
    pub fn set(&self) {
        // TODO: lock, set the flag, count this set, notify_all.
        todo!()
    }

    /// Lowers the flag.
    pub fn clear(&self) {
        todo!()
    }

    /// Blocks until the flag is raised (returns at once if it is).
    pub fn wait(&self) {
        // TODO: loop while no set happened since you started waiting;
        // a Condvar may wake you for nothing.
        todo!()
    }

    /// Like `wait`, giving up after `timeout`; true if a set happened.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        // TODO: compute the deadline ONCE, then loop on `wait_until`,
        // leaving as soon as it reports `timed_out`.
        todo!()
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

fn main() {
    let gate = std::sync::Arc::new(Event::new());
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.wait();
                println!("waiter {i} passed the gate");
            })
        })
        .collect();
    gate.set();
    for w in waiters {
        w.join().unwrap();
    }
}

#[cfg(test)]
synclings_suites::event_suite!(crate::Event);
