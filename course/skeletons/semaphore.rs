//! # Exercise 6 — build `Semaphore`
//!
//! **What to build.** A counter of permits: `acquire()` takes one, sleeping
//! while there is none, and hands you a `Permit` that gives it back when
//! dropped (Python's `with sem:`); `try_acquire()` never sleeps;
//! `acquire_timeout(d)` gives up after `d`; `release(n)` adds `n` permits
//! from any thread and wakes up to `n` sleepers; `available()` reads the
//! count. With `Semaphore::new(5)`, at most five threads hold a permit at
//! once (exam question 17: "a semaphore guards a resource with a limited
//! number of users").
//!
//! **The Python it mirrors** (seed program 5, abridged):
//!
//! ```python
//! from threading import Thread, Semaphore, currentThread
//! def task(n):
//!     sm.acquire()
//!     print('%s--' % n, currentThread().name)
//!     time.sleep(1)
//!     print('end')
//!     sm.release()
//! sm = Semaphore(5)
//! for i in range(10):
//!     Thread(target=task, args=(i,)).start()
//! ```
//!
//! CPython builds it from a `Condition`: `acquire` loops
//! `while self._value == 0: self._cond.wait(timeout)`, `release(n)` does
//! `self._value += n; self._cond.notify(n)`.
//!
//! Exam question 25 asks what `Semaphore(value=-1)` does: Python raises
//! `ValueError`. Here the count is a `usize`: it cannot even be written.
//!
//! **Build it from** `synclings::sync::{Mutex, Condvar}` (the course's
//! facade: `lock()`, `Condvar::wait(guard) -> guard`,
//! `Condvar::wait_until(guard, deadline) -> (guard, timed_out)`,
//! `notify_one()`, `notify_all()`).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin semaphore` runs the suite against your code;
//! - `RUSTFLAGS="--cfg loom" cargo test -p exercises --bin semaphore --release`
//!   lets loom hunt for a lost wake-up on `release` in every interleaving;
//! - `cargo run -p exercises --bin semaphore` runs the `main` below.
//! - Stuck? `cargo run -- hint semaphore`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::sync::{Condvar, Duration, Instant, Mutex};

/// A counting semaphore: Python's `threading.Semaphore`.
pub struct Semaphore {
    // TODO: the state. A `Mutex` around the number of free permits (and,
    // to wake no more threads than needed, how many are asleep waiting),
    // and a `Condvar` to sleep on until a permit is added.
}

/// A permit taken from a [`Semaphore`]; dropping it gives the permit back.
#[must_use = "dropping a permit at once gives it back"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` permits free.
    pub fn new(permits: usize) -> Self {
        todo!("create the mutex-protected count and the condvar")
    }

    /// Takes a permit, blocking until one is free.
    pub fn acquire(&self) -> Permit<'_> {
        // TODO: lock; while no permit is free, wait on the condvar (it may
        // wake you for nothing: loop); take one; return a `Permit`.
        todo!()
    }

    /// Takes a permit if one is free right now; never blocks.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        todo!()
    }

    /// Takes a permit, blocking at most `timeout`; `None` if none came.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        // TODO: compute the deadline ONCE, loop on `wait_until`; when it
        // reports `timed_out`, take a permit if one is there, else give up.
        todo!()
    }

    /// Adds `n` permits (from any thread) and wakes up to `n` waiters.
    pub fn release(&self, n: usize) {
        // TODO: lock, add `n`, wake one sleeper per permit added.
        todo!()
    }

    /// The number of permits free right now (Python's `sem._value`).
    pub fn available(&self) -> usize {
        todo!()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // TODO: give the permit back.
        todo!()
    }
}

fn main() {
    let sm = std::sync::Arc::new(Semaphore::new(5));
    let threads: Vec<_> = (0..10)
        .map(|n| {
            let sm = sm.clone();
            std::thread::spawn(move || {
                let _permit = sm.acquire();
                println!("{n}-- holds a permit");
                std::thread::sleep(Duration::from_millis(100));
                println!("end");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[cfg(test)]
synclings_suites::semaphore_suite!(crate::Semaphore);
