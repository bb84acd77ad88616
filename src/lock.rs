//! [`Lock`] and [`RLock`]: Python's `threading.Lock` and `threading.RLock`,
//! each guarding a value.
//!
//! - [`Lock<T>`] is a plain mutex. Like Python's `Lock`, it is not re-entrant:
//!   a thread that acquires it twice deadlocks (catch that with
//!   [`acquire_timeout`](Lock::acquire_timeout)). The guard gives `&mut T`.
//! - [`RLock<T>`] is re-entrant: the owning thread may acquire it again, and
//!   it is free once every level is released. Its guard gives `&T` only (two
//!   guards of one thread may be alive at once) and cannot be sent to another
//!   thread: an `RLock` is released by the thread that owns it, as in Python.
//!
//! Both release on drop (Python's `with lock:`); a Python lock's `release()`
//! from another thread has no equivalent.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use synclings::{Lock, RLock};
//!
//! let counter = Lock::new(0);
//! *counter.acquire() += 1;
//! let held = counter.acquire();
//! // Not re-entrant: a second acquire on this thread would deadlock.
//! assert!(counter.acquire_timeout(Duration::from_millis(10)).is_none());
//! drop(held);
//! assert_eq!(*counter.acquire(), 1);
//!
//! let rlock = RLock::new("shared");
//! let outer = rlock.acquire();
//! let inner = rlock.acquire(); // re-entry by the owner
//! assert_eq!(rlock.recursion_count(), 2);
//! assert_eq!(*inner, "shared");
//! drop(inner);
//! drop(outer);
//! assert!(!rlock.is_locked());
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use crate::sync::thread::{self, ThreadId};
use crate::sync::{Condvar, Duration, Instant, Mutex, MutexGuard};

/// A mutual-exclusion lock guarding a `T`: Python's `threading.Lock`.
///
/// See the [module documentation](self) for an example.
pub struct Lock<T = ()> {
    inner: Mutex<T>,
}

/// Access to the value of a [`Lock`]; dropping it releases the lock.
#[must_use = "dropping the guard at once releases the lock"]
pub struct LockGuard<'a, T> {
    guard: MutexGuard<'a, T>,
}

impl<T> Lock<T> {
    /// A new, unlocked lock guarding `value`.
    pub fn new(value: T) -> Self {
        Lock {
            inner: Mutex::new(value),
        }
    }

    /// Acquires the lock, blocking until it is free.
    pub fn acquire(&self) -> LockGuard<'_, T> {
        LockGuard {
            guard: self.inner.lock(),
        }
    }

    /// Acquires the lock if it is free right now.
    pub fn try_acquire(&self) -> Option<LockGuard<'_, T>> {
        self.inner.try_lock().map(|guard| LockGuard { guard })
    }

    /// Acquires the lock, blocking at most `timeout`; `None` if it stayed
    /// taken. A timeout too large to represent means "no timeout".
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<LockGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.inner.try_lock_until(deadline),
            None => Some(self.inner.lock()),
        }
        .map(|guard| LockGuard { guard })
    }

    /// True if some thread holds the lock (a snapshot; Python's `locked()`).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Consumes the lock and returns its value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for Lock<T> {
    /// An unlocked lock guarding `T::default()`.
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        match self.try_acquire() {
            Some(guard) => d.field("locked", &false).field("value", &*guard),
            None => d.field("locked", &true),
        };
        d.finish_non_exhaustive()
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").field("value", &**self).finish()
    }
}

/// A re-entrant lock guarding a `T`: Python's `threading.RLock`.
///
/// See the [module documentation](self) for the semantics and an example.
pub struct RLock<T = ()> {
    /// `(owner, depth)`: `(None, 0)` when free; `(Some(id), n)`, `n >= 1`,
    /// when thread `id` holds `n` levels.
    state: Mutex<(Option<ThreadId>, usize)>,
    /// Notified (one waiter) when the last level is released.
    released: Condvar,
    /// Reached only through guards, that is, by the owning thread.
    value: T,
}

// SAFETY: `&RLock<T>` shared between threads never gives two threads access
// to `value` at once: `&T` is reachable only through an `RLockGuard`, which
// exists only on the thread that owns the lock while it holds it, and which
// is neither `Send` nor `Sync`, so `&T` cannot leave that thread. The value is
// used by one thread after another, which is what `T: Send` allows (as for
// std's `ReentrantLock`).
unsafe impl<T: Send> Sync for RLock<T> {}

/// Shared access to the value of an [`RLock`]; dropping it releases one level.
///
/// Not `Send`: the level must be released by the thread that acquired it.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let lock = synclings::RLock::new(());
/// assert_send(lock.acquire());
/// ```
#[must_use = "dropping the guard at once releases the level"]
pub struct RLockGuard<'a, T> {
    lock: &'a RLock<T>,
    /// Makes the guard `!Send` and `!Sync` (see the `Sync` impl of `RLock`).
    _owner_thread_only: PhantomData<*const ()>,
}

impl<T> RLock<T> {
    /// A new, unlocked re-entrant lock guarding `value`.
    pub fn new(value: T) -> Self {
        RLock {
            state: Mutex::new((None, 0)),
            released: Condvar::new(),
            value,
        }
    }

    /// Acquires one level, blocking until no other thread owns the lock.
    pub fn acquire(&self) -> RLockGuard<'_, T> {
        self.acquire_inner(None)
            .expect("an acquire without a deadline always succeeds")
    }

    /// Acquires one level if the lock is free or owned by this thread.
    pub fn try_acquire(&self) -> Option<RLockGuard<'_, T>> {
        let me = thread::current().id();
        let mut state = self.state.lock();
        self.try_enter(&mut state, me).then(|| self.guard())
    }

    /// Acquires one level, blocking at most `timeout`; `None` if another
    /// thread kept it. A timeout too large to represent means "no timeout".
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        self.acquire_inner(Some(timeout))
    }

    /// True if some thread owns the lock (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.lock().0.is_some()
    }

    /// True if the calling thread owns the lock (Python's `_is_owned()`).
    pub fn is_owned(&self) -> bool {
        self.recursion_count() > 0
    }

    /// How many levels the calling thread holds: 0 if it is not the owner
    /// (Python's `_recursion_count()`).
    pub fn recursion_count(&self) -> usize {
        let me = thread::current().id();
        match *self.state.lock() {
            (Some(owner), depth) if owner == me => depth,
            _ => 0,
        }
    }

    /// Consumes the lock and returns its value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Takes a level if the lock is free or already ours.
    fn try_enter(&self, state: &mut (Option<ThreadId>, usize), me: ThreadId) -> bool {
        match state.0 {
            None => *state = (Some(me), 1),
            Some(owner) if owner == me => {
                state.1 = state
                    .1
                    .checked_add(1)
                    .expect("RLock recursion count overflow");
            }
            Some(_) => return false,
        }
        true
    }

    /// The wait loop shared by `acquire` (`timeout: None`) and `acquire_timeout`.
    fn acquire_inner(&self, timeout: Option<Duration>) -> Option<RLockGuard<'_, T>> {
        let me = thread::current().id();
        // Computed once; `None` (no timeout, or overflow) waits forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.state.lock();
        loop {
            if self.try_enter(&mut state, me) {
                return Some(self.guard());
            }
            match deadline {
                None => state = self.released.wait(state),
                Some(deadline) => {
                    let (guard, timed_out) = self.released.wait_until(state, deadline);
                    state = guard;
                    if timed_out {
                        return self.try_enter(&mut state, me).then(|| self.guard());
                    }
                }
            }
        }
    }

    fn guard(&self) -> RLockGuard<'_, T> {
        RLockGuard {
            lock: self,
            _owner_thread_only: PhantomData,
        }
    }
}

impl<T: Default> Default for RLock<T> {
    /// An unlocked re-entrant lock guarding `T::default()`.
    fn default() -> Self {
        RLock::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for RLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (owner, depth) = *self.state.lock();
        let mut d = f.debug_struct("RLock");
        d.field("owner", &owner).field("recursion_count", &depth);
        // Through a guard, so only when this thread may see the value.
        if let Some(guard) = self.try_acquire() {
            d.field("value", &*guard);
        }
        d.finish_non_exhaustive()
    }
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
            self.lock.released.notify_one();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for RLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("value", &**self)
            .finish()
    }
}
