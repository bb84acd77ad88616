//! # Solution 6 — `Semaphore` from a `Mutex` and a `Condvar`
//!
//! The teaching version: CPython's own design (`threading.Semaphore` is a
//! counter under a `Condition`). The library's `synclings::Semaphore` adds a
//! lock-free fast path; both pass the same suite.
//!
//! - State: `available` (free permits) and `waiting` (threads asleep in an
//!   acquire), both under one mutex.
//! - Invariant: a permit is taken only by decrementing `available` from a
//!   positive value, with the lock held: never below zero, never twice.
//! - Wait loop: `while available == 0 { sleep }`, then take one. A timed
//!   acquire computes its deadline once; when the wait reports `timed_out`
//!   it takes a permit if one is there after all, else gives up.
//! - Wake rule: `release(n)` adds `n` permits and wakes one sleeper per
//!   permit (at most as many as sleep): Python's `self._cond.notify(n)`.
//!
//! `cargo run -p solutions --bin semaphore` prints what seed program 5
//! prints: ten threads, at most five of them between acquire and release.

use std::sync::Arc;

use synclings::sync::{Condvar, Duration, Instant, Mutex};

/// A counting semaphore: Python's `threading.Semaphore`.
pub struct Semaphore {
    state: Mutex<State>,
    /// Notified once per permit added, while someone waits.
    permit_added: Condvar,
}

struct State {
    /// Permits free right now (Python's `_value`).
    available: usize,
    /// Threads asleep in an acquire, waiting for a permit.
    waiting: usize,
}

/// A permit taken from a [`Semaphore`]; dropping it gives the permit back
/// (Python's `with sem:`).
#[must_use = "dropping a permit at once gives it back"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` permits free.
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State {
                available: permits,
                waiting: 0,
            }),
            permit_added: Condvar::new(),
        }
    }

    /// Takes a permit, blocking until one is free.
    pub fn acquire(&self) -> Permit<'_> {
        let taken = self.take(None);
        debug_assert!(taken, "an acquire without a deadline always succeeds");
        Permit { semaphore: self }
    }

    /// Takes a permit if one is free right now.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.state.lock();
        if state.available == 0 {
            return None;
        }
        state.available -= 1;
        Some(Permit { semaphore: self })
    }

    /// Takes a permit, blocking at most `timeout`; `None` if none came.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        // A timeout too large to represent means "no deadline".
        let deadline = Instant::now().checked_add(timeout);
        // `then`, not `then_some`: a `Permit` built for nothing would release on drop.
        self.take(deadline).then(|| Permit { semaphore: self })
    }

    /// Adds `n` permits and wakes up to `n` waiters (from any thread).
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    pub fn release(&self, n: usize) {
        let mut state = self.state.lock();
        state.available = state
            .available
            .checked_add(n)
            .expect("Semaphore::release overflows the permit count");
        for _ in 0..n.min(state.waiting) {
            self.permit_added.notify_one();
        }
    }

    /// The number of permits free right now (a snapshot).
    pub fn available(&self) -> usize {
        self.state.lock().available
    }

    /// The wait loop: takes a permit, sleeping while there is none, until
    /// `deadline` (`None`: for ever). True if a permit was taken.
    fn take(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state.lock();
        if state.available == 0 {
            state.waiting += 1;
            while state.available == 0 {
                match deadline {
                    None => state = self.permit_added.wait(state),
                    Some(deadline) => {
                        let (s, timed_out) = self.permit_added.wait_until(state, deadline);
                        state = s;
                        if timed_out {
                            // Leave the loop; a permit may have come with the timeout.
                            break;
                        }
                    }
                }
            }
            state.waiting -= 1;
            if state.available == 0 {
                return false;
            }
        }
        state.available -= 1;
        true
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(1);
    }
}

fn main() {
    // Seed program 5: `sm = Semaphore(5)`, ten threads, each holds a permit
    // for a moment (the seed sleeps 1 s; 200 ms shows the same thing).
    let sm = Arc::new(Semaphore::new(5));
    let threads: Vec<_> = (0..10)
        .map(|n| {
            let sm = Arc::clone(&sm);
            std::thread::Builder::new()
                .name(format!("Thread-{}", n + 1))
                .spawn(move || {
                    let permit = sm.acquire();
                    let me = std::thread::current();
                    println!("{n}-- {}", me.name().unwrap_or("?"));
                    std::thread::sleep(Duration::from_millis(200));
                    println!("end");
                    drop(permit);
                })
                .expect("spawn a thread")
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[cfg(test)]
synclings_suites::semaphore_suite!(crate::Semaphore);
