//! # Exercise 9 — build `Condition` with FIFO `notify(n)`
//!
//! **What to build.** A value behind a lock that holders can *wait* on until
//! another holder changes it and *notifies*. `lock()` gives a
//! `ConditionGuard` (the value through `Deref`/`DerefMut`) with:
//! - `wait()`: unlock, sleep until a notify chooses this thread, relock.
//!   No spurious wake-ups: it returns only after a notify meant for it;
//! - `wait_timeout(d) -> bool`: the same, giving up after `d` (false);
//! - `wait_for(pred)` / `wait_for_timeout(pred, d) -> bool`: wait until
//!   `pred(&value)` holds; the timed one returns the predicate's LAST value
//!   (checked once more when time is up);
//! - `notify(n)`: wake at most `n` waiters, the longest-waiting first
//!   (FIFO); a waiter that already timed out is not counted; `notify_all()`.
//!
//! **The Python it mirrors** (exam questions 7 and 17): "condition: process
//! the data only after some event is triggered or a condition is met; it
//! creates a lock by default":
//!
//! ```python
//! con = threading.Condition()
//! con.acquire()
//! con.wait()        # or con.wait_for(lambda: items)
//! con.notify()      # notify(n=1): wakes the n oldest waiters
//! con.release()
//! ```
//!
//! CPython gives every waiter its own lock, appended to a deque
//! `self._waiters`; `notify(n)` releases the first `n` of them.
//!
//! **Build it from** `synclings::sync::{Mutex, Condvar}` (`lock()`,
//! `Condvar::wait(guard) -> guard`,
//! `Condvar::wait_until(guard, deadline) -> (guard, timed_out)`,
//! `notify_one()`, `notify_all()`). Holding the lock is what the guard
//! proves: `wait` and `notify` are methods of the guard, so Python's
//! "cannot notify on un-acquired lock" cannot even compile.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin condition` runs the suite against your code;
//! - `RUSTFLAGS="--cfg loom" cargo test -p exercises --bin condition --release`
//!   lets loom hunt for a lost wake-up, and for a notify lost to a timeout;
//! - `cargo run -p exercises --bin condition` runs the `main` below.
//! - Stuck? `cargo run -- hint condition`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};

use synclings::sync::atomic::{AtomicBool, Ordering::Relaxed};
use synclings::sync::{Arc, Condvar, Duration, Instant, Mutex, MutexGuard};

/// A value behind a lock, with a FIFO queue of threads waiting for it to
/// change: Python's `threading.Condition`.
pub struct Condition<T> {
    inner: Mutex<Inner<T>>,
    // TODO: a `Condvar` to sleep on (or one per waiter, kept in the queue).
}

/// What the condition's mutex protects.
struct Inner<T> {
    /// The user's value.
    value: T,
    // TODO: the waiters, longest-waiting first. Each needs a mark that a
    // notify can set through `&self` (an `Arc<AtomicBool>` works: it is only
    // touched with the lock held) and that only its own thread removes.
}

/// Proof that the lock of a [`Condition`] is held. Dropping it unlocks.
pub struct ConditionGuard<'a, T> {
    /// `Some` except during this guard's own `wait*` call, which hands the
    /// mutex guard to the condvar (`wait(guard) -> guard`).
    guard: Option<MutexGuard<'a, Inner<T>>>,
    // TODO: whatever the wait and notify methods need to reach (the condvar).
}

impl<T> Condition<T> {
    /// A new, unlocked condition protecting `value`.
    pub fn new(value: T) -> Self {
        todo!("create the mutex-protected value and waiters' queue, and the condvar")
    }

    /// Locks, blocking until the lock is free (Python's `with cond:`).
    pub fn lock(&self) -> ConditionGuard<'_, T> {
        todo!()
    }
}

impl<T> ConditionGuard<'_, T> {
    /// Unlocks, sleeps until a notify chooses this thread, relocks.
    pub fn wait(&mut self) {
        // TODO: queue your mark, sleep until it is set (a wake-up with the
        // mark unset is spurious: sleep again), leave the queue.
        todo!()
    }

    /// Like `wait`, giving up after `timeout`: true if notified.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        // TODO: compute the deadline ONCE, loop on `wait_until`. When it
        // reports `timed_out`, decide under the lock: a notify that marked
        // you first wins (true); else leave the queue (false).
        todo!()
    }

    /// Waits until `pred(&value)` holds (checked first: maybe no wait).
    pub fn wait_for(&mut self, pred: impl FnMut(&T) -> bool) {
        todo!()
    }

    /// Waits until `pred(&value)` holds or `timeout` passed; returns the
    /// predicate's last value.
    pub fn wait_for_timeout(&mut self, pred: impl FnMut(&T) -> bool, timeout: Duration) -> bool {
        todo!()
    }

    /// Wakes at most `n` waiters, the longest-waiting first.
    pub fn notify(&self, n: usize) {
        // TODO: mark the `n` oldest unmarked waiters, wake the sleepers.
        todo!()
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        todo!()
    }
}

impl<T> Deref for ConditionGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        todo!("the value inside the mutex guard")
    }
}

impl<T> DerefMut for ConditionGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        todo!()
    }
}

fn main() {
    let items = std::sync::Arc::new(Condition::new(Vec::new()));
    let consumer = {
        let items = items.clone();
        std::thread::spawn(move || {
            let mut items = items.lock();
            items.wait_for(|items| !items.is_empty());
            println!("consumer got {:?}", items.pop());
        })
    };
    {
        let mut guard = items.lock();
        guard.push(42);
        guard.notify(1);
    }
    consumer.join().unwrap();
}

#[cfg(test)]
synclings_suites::condition_suite!(crate::Condition);
