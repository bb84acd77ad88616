//! # Solution 8 — `RLock` from a `Mutex` and a `Condvar`
//!
//! The same design as the library's `synclings::RLock` (loom has no
//! re-entrant lock, so the production version is built this way too):
//!
//! - State: `(owner, depth)` under one mutex: `(None, 0)` when free,
//!   `(Some(id), n)` with `n >= 1` when thread `id` holds `n` levels
//!   (Python: "RLock = Lock + counter", exam question 12).
//! - Invariant: only the owner changes `depth`; `owner` is `None` exactly
//!   when `depth == 0`.
//! - Wait loop: free → take it; ours → one more level; another thread's →
//!   sleep until the last release, and look again.
//! - Wake rule: the LAST release (depth back to 0) wakes one waiter; the
//!   others stay asleep since the lock is taken again at once.
//!
//! And the other half of question 12: a plain `Lock` re-acquired by its own
//! thread deadlocks; [`reenter_plain_lock`] shows it, caught by a timeout.
//!
//! `cargo run -p solutions --bin rlock` shows both.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use synclings::sync::thread::{self, ThreadId};
use synclings::sync::{Condvar, Duration, Instant, Mutex};
use synclings::Lock;

/// A re-entrant lock guarding a `T`: Python's `threading.RLock`.
pub struct RLock<T> {
    /// `(owner, depth)`: `(None, 0)` when free; `(Some(id), n)`, `n >= 1`,
    /// when thread `id` holds `n` levels.
    state: Mutex<(Option<ThreadId>, usize)>,
    /// Notified (one waiter) when the owner releases its last level.
    released: Condvar,
    /// Reached only through guards, that is, by the owning thread.
    value: T,
}

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
    /// Makes the guard `!Send` and `!Sync`: the thread that took a level
    /// is the one that releases it (see the `Sync` impl of `RLock`).
    _owner_thread_only: PhantomData<*const ()>,
}

impl<T> RLock<T> {
    /// A new, free re-entrant lock guarding `value`.
    pub fn new(value: T) -> Self {
        RLock {
            state: Mutex::new((None, 0)),
            released: Condvar::new(),
            value,
        }
    }

    /// Takes one level, blocking while another thread owns the lock.
    pub fn acquire(&self) -> RLockGuard<'_, T> {
        self.acquire_until(None)
            .expect("an acquire without a deadline always succeeds")
    }

    /// Takes one level if the lock is free or already ours.
    pub fn try_acquire(&self) -> Option<RLockGuard<'_, T>> {
        let me = thread::current().id();
        let mut state = self.state.lock();
        enter(&mut state, me).then(|| self.guard())
    }

    /// Takes one level, blocking at most `timeout`; `None` if another thread
    /// kept the lock.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        // A timeout too large to represent means "no deadline".
        self.acquire_until(Instant::now().checked_add(timeout))
    }

    /// True if the calling thread owns the lock (Python's `_is_owned()`).
    pub fn is_owned(&self) -> bool {
        self.recursion_count() > 0
    }

    /// The levels the calling thread holds; 0 if it is not the owner.
    pub fn recursion_count(&self) -> usize {
        let me = thread::current().id();
        match *self.state.lock() {
            (Some(owner), depth) if owner == me => depth,
            _ => 0,
        }
    }

    /// True if some thread owns the lock (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.lock().0.is_some()
    }

    /// The wait loop of `acquire` (`deadline: None`) and `acquire_timeout`.
    fn acquire_until(&self, deadline: Option<Instant>) -> Option<RLockGuard<'_, T>> {
        let me = thread::current().id();
        let mut state = self.state.lock();
        while !enter(&mut state, me) {
            match deadline {
                None => state = self.released.wait(state),
                Some(deadline) => {
                    let (s, timed_out) = self.released.wait_until(state, deadline);
                    state = s;
                    if timed_out {
                        // One last look: the owner may have left just now.
                        return enter(&mut state, me).then(|| self.guard());
                    }
                }
            }
        }
        Some(self.guard())
    }

    fn guard(&self) -> RLockGuard<'_, T> {
        RLockGuard {
            lock: self,
            _owner_thread_only: PhantomData,
        }
    }
}

/// Takes a level for thread `me` if the lock is free or already its own.
fn enter(state: &mut (Option<ThreadId>, usize), me: ThreadId) -> bool {
    match state.0 {
        None => *state = (Some(me), 1),
        Some(owner) if owner == me => state.1 += 1,
        Some(_) => return false,
    }
    true
}

impl<T> Deref for RLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.lock.value
    }
}

impl<T> Drop for RLockGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.lock.state.lock();
        state.1 -= 1;
        if state.1 == 0 {
            state.0 = None;
            // One waiter is enough: it takes the lock, the others would
            // only find it taken again.
            self.lock.released.notify_one();
        }
    }
}

/// Exam question 12, the other half: takes a plain (non-re-entrant) `Lock`,
/// then tries to take it again on the same thread, giving up after
/// `timeout`. Returns whether the second acquire succeeded: always `false`,
/// the deadlock that an untimed `acquire()` would never come back from.
pub fn reenter_plain_lock(timeout: Duration) -> bool {
    let lock = Lock::new(());
    let _held = lock.acquire();
    let again = lock.acquire_timeout(timeout);
    again.is_some()
}

fn main() {
    // Lock: acquired once; a second acquire by the same thread deadlocks.
    let timeout = Duration::from_millis(100);
    let reentered = reenter_plain_lock(timeout);
    println!(
        "Lock: a second acquire() on the same thread would deadlock \
         (acquire_timeout gave up after {timeout:?}: {reentered})"
    );

    // RLock = Lock + counter: the owner re-enters; others wait for the
    // owner's LAST release.
    let rlock = Arc::new(RLock::new("shared data"));
    let levels: Vec<_> = (0..3).map(|_| rlock.acquire()).collect();
    println!(
        "RLock: main acquired {} times, recursion_count = {}",
        levels.len(),
        rlock.recursion_count()
    );
    let other = {
        let rlock = Arc::clone(&rlock);
        std::thread::spawn(move || {
            let guard = rlock.acquire();
            println!(
                "RLock: the other thread got it (owned: {}) and reads {:?}",
                rlock.is_owned(),
                *guard
            );
        })
    };
    for (index, guard) in levels.into_iter().enumerate().rev() {
        // The other thread stays blocked until the last of these.
        std::thread::sleep(Duration::from_millis(50));
        println!("RLock: main releases level {}", index + 1);
        drop(guard);
    }
    other.join().unwrap();
    println!("RLock: free again: {}", !rlock.is_locked());
}

#[cfg(test)]
synclings_suites::rlock_suite!(crate::RLock, reenter_plain_lock = crate::reenter_plain_lock);
