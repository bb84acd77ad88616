//! # Exercise 8 — build `RLock`, and see a plain `Lock` deadlock
//!
//! **What to build.** A re-entrant lock guarding a value: the thread that
//! owns it may `acquire()` it again (each call is one more *level*, and each
//! `RLockGuard` dropped releases one); another thread blocks until the
//! owner has released its LAST level. `try_acquire()` never blocks,
//! `acquire_timeout(d)` gives up after `d`; `is_owned()` and
//! `recursion_count()` answer for the calling thread (0 if it is not the
//! owner), `is_locked()` for anyone. The guard gives `&T` only: two guards
//! of one thread may be alive at once.
//!
//! And first, the deadlock that makes an RLock necessary:
//! `reenter_plain_lock(timeout)` takes a `synclings::Lock`, then tries to
//! take it again on the same thread with `acquire_timeout`, and returns
//! whether that worked (it cannot: `false`).
//!
//! **The Python it mirrors** (exam question 12, "Lock vs RLock"):
//!
//! ```text
//! Lock():  a mutex, can be acquired only once; a deadlock may happen.
//! RLock(): a recursive lock, can be acquired several times in a row.
//! RLock = Lock + counter: the counter records the acquires; until the
//! thread has released all of them, no other thread gets the resource.
//! ```
//!
//! ```python
//! lock = threading.Lock()
//! with lock:
//!     lock.acquire(timeout=0.1)   # False: it would deadlock
//! rlock = threading.RLock()
//! with rlock:
//!     with rlock:                 # fine: same owner, count 2
//!         ...
//! ```
//!
//! **Build it from** the facade: `synclings::sync::{Mutex, Condvar}` and the
//! caller's id, `synclings::sync::thread::current().id()`. The state is
//! `Mutex<(Option<ThreadId>, usize)>`: the owner and its depth.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin rlock` runs the suite against your code;
//! - `RUSTFLAGS="--cfg loom" cargo test -p exercises --bin rlock --release`
//!   lets loom check the hand-off between two re-entrant owners;
//! - `cargo run -p exercises --bin rlock` runs the `main` below.
//! - Stuck? `cargo run -- hint rlock`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::marker::PhantomData;
use std::ops::Deref;

use synclings::sync::thread::{self, ThreadId};
use synclings::sync::{Condvar, Duration, Instant, Mutex};
use synclings::Lock;

/// A re-entrant lock guarding a `T`: Python's `threading.RLock`.
pub struct RLock<T> {
    // TODO: the state. `Mutex<(Option<ThreadId>, usize)>`: `(None, 0)` when
    // free, `(Some(owner), depth)` when held; and a `Condvar` to sleep on
    // until the owner's last release.
    /// Reached only through guards, that is, by the owning thread.
    value: T,
}

// Given: `RLock<T>` holds a `T` that several threads may reach (one after
// the other), so it is `Sync` only by this promise, which your code must
// keep.
//
// SAFETY: `&RLock<T>` shared between threads never gives two threads access
// to `value` at once: `&T` is reachable only through an `RLockGuard`, which
// exists only on the thread that owns the lock while it holds it, and which
// is neither `Send` nor `Sync`, so `&T` cannot leave that thread. The value
// is used by one thread after another, which is what `T: Send` allows.
unsafe impl<T: Send> Sync for RLock<T> {}

/// Shared access to the value of an [`RLock`]; dropping it releases one level.
#[must_use = "dropping the guard at once releases the level"]
pub struct RLockGuard<'a, T> {
    lock: &'a RLock<T>,
    /// Given: makes the guard `!Send` and `!Sync`, so the thread that took a
    /// level is the one that releases it.
    _owner_thread_only: PhantomData<*const ()>,
}

impl<T> RLock<T> {
    /// A new, free re-entrant lock guarding `value`.
    pub fn new(value: T) -> Self {
        todo!("create the mutex-protected (owner, depth) and the condvar")
    }

    /// Takes one level, blocking while another thread owns the lock.
    pub fn acquire(&self) -> RLockGuard<'_, T> {
        // TODO: lock the state; free → it is yours at depth 1; yours → one
        // level deeper; another thread's → wait on the condvar and look again.
        todo!()
    }

    /// Takes one level if the lock is free or already yours; never blocks.
    pub fn try_acquire(&self) -> Option<RLockGuard<'_, T>> {
        todo!()
    }

    /// Takes one level, blocking at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        // TODO: compute the deadline ONCE, loop on `wait_until`; when it
        // reports `timed_out`, look one last time, then give up.
        todo!()
    }

    /// True if the calling thread owns the lock (Python's `_is_owned()`).
    pub fn is_owned(&self) -> bool {
        todo!()
    }

    /// The levels the calling thread holds; 0 if it is not the owner.
    pub fn recursion_count(&self) -> usize {
        todo!()
    }

    /// True if some thread owns the lock.
    pub fn is_locked(&self) -> bool {
        todo!()
    }
}

impl<T> Deref for RLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        todo!("the value inside the lock")
    }
}

impl<T> Drop for RLockGuard<'_, T> {
    fn drop(&mut self) {
        // TODO: one level less; at depth 0 the lock is free: forget the
        // owner and wake a waiter.
        todo!()
    }
}

/// Takes a plain `Lock`, then tries to take it again on the same thread,
/// giving up after `timeout`; returns whether the second acquire worked.
pub fn reenter_plain_lock(timeout: Duration) -> bool {
    // TODO: `Lock::new(())`, keep a guard of `acquire()`, then
    // `acquire_timeout(timeout)`. (A plain `acquire()` here would never return.)
    todo!()
}

fn main() {
    println!(
        "a plain Lock acquired twice: {}",
        reenter_plain_lock(Duration::from_millis(100))
    );
    let rlock = RLock::new("data");
    let outer = rlock.acquire();
    let inner = rlock.acquire();
    println!(
        "RLock acquired twice: recursion_count = {}",
        rlock.recursion_count()
    );
    drop((inner, outer));
    println!("RLock free again: {}", !rlock.is_locked());
}

#[cfg(test)]
synclings_suites::rlock_suite!(crate::RLock, reenter_plain_lock = crate::reenter_plain_lock);
