//! # Solution 4 — `Event` from a `Mutex` and a `Condvar`
//!
//! The teaching version: everything behind one mutex. (The library's
//! `synclings::Event` adds a lock-free `is_set`; both pass the same suite.)
//!
//! - State: `set` (the flag) and `generation` (how many times it was raised).
//! - Invariant: `generation` changes exactly when the flag goes from clear to set.
//! - Wait loop: remember the generation, sleep until it changes. Checking the
//!   flag instead would miss a `set` followed at once by a `clear`.
//! - Wake rule: `set` notifies every waiter.
//!
//! `cargo run -p solutions --bin event` prints what seed program 4 prints:
//! ten threads released at the same moment, each printing the time.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use synclings::sync::{Condvar, Duration, Instant, Mutex};

/// A flag threads can wait on: Python's `threading.Event`.
pub struct Event {
    state: Mutex<State>,
    /// Notified (all) each time the flag is raised.
    raised: Condvar,
}

struct State {
    /// The flag.
    set: bool,
    /// Times the flag went from clear to set (wrapping).
    generation: u64,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Self {
        Event {
            state: Mutex::new(State {
                set: false,
                generation: 0,
            }),
            raised: Condvar::new(),
        }
    }

    /// True if the flag is raised.
    pub fn is_set(&self) -> bool {
        self.state.lock().set
    }

    /// Raises the flag and wakes every waiter.
    pub fn set(&self) {
        let mut state = self.state.lock();
        if !state.set {
            state.set = true;
            state.generation = state.generation.wrapping_add(1);
            self.raised.notify_all();
        }
    }

    /// Lowers the flag.
    pub fn clear(&self) {
        self.state.lock().set = false;
    }

    /// Blocks until the flag is raised (returns at once if it is).
    pub fn wait(&self) {
        let mut state = self.state.lock();
        let seen = state.generation;
        while !state.set && state.generation == seen {
            state = self.raised.wait(state);
        }
    }

    /// Like `wait`, giving up after `timeout`; true if a set happened.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if state.set {
            return true;
        }
        let seen = state.generation;
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            // A timeout too far away to represent: wait for ever.
            while state.generation == seen {
                state = self.raised.wait(state);
            }
            return true;
        };
        while state.generation == seen {
            let (s, timed_out) = self.raised.wait_until(state, deadline);
            state = s;
            if timed_out {
                break;
            }
        }
        state.generation != seen
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

fn main() {
    let event = Arc::new(Event::new());
    let threads: Vec<_> = (0..10)
        .map(|_| {
            let event = event.clone();
            std::thread::spawn(move || {
                event.wait();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                println!("time: {}.{:06}", now.as_secs(), now.subsec_micros());
            })
        })
        .collect();
    // The seed sleeps 10 s; half a second shows the same thing.
    std::thread::sleep(Duration::from_millis(500));
    event.set();
    for t in threads {
        t.join().unwrap();
    }
}

#[cfg(test)]
synclings_suites::event_suite!(crate::Event);
