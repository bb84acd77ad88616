//! [`Condition<T>`]: Python's `threading.Condition`, a lock whose holder can
//! wait for a change and be woken by another holder.
//!
//! It mirrors CPython's design: every waiter queues its own private wake-up
//! line (CPython: a fresh `Lock` appended to the `_waiters` deque), and
//! [`notify(n)`](ConditionGuard::notify) wakes at most `n` of them, the
//! longest-waiting first (FIFO). A waiter wakes only when it was chosen by a
//! notify or its timeout passed: there are no spurious wake-ups, so a plain
//! [`wait`](ConditionGuard::wait) returns only after a notify that was meant
//! for it.
//!
//! | Python | synclings |
//! |---|---|
//! | `cond = Condition()` / `with cond:` | `Condition::new(value)` / `let mut guard = cond.lock();` |
//! | `cond.acquire(False)` / `cond.acquire(timeout=t)` | `cond.try_lock()` / `cond.lock_timeout(t)` |
//! | `cond.wait()` / `cond.wait(t)` | `guard.wait()` / `guard.wait_timeout(t) -> bool` |
//! | `cond.wait_for(pred)` / `cond.wait_for(pred, t)` | `guard.wait_for(pred)` / `guard.wait_for_timeout(pred, t) -> bool` |
//! | `cond.notify(n)` / `cond.notify_all()` | `guard.notify(n)` / `guard.notify_all()` |
//!
//! # Impossible by construction
//!
//! Python raises `RuntimeError` for `wait()` or `notify()` on an un-acquired
//! condition. Here both are methods of the [`ConditionGuard`], which exists
//! only while the lock is held: calling them without the lock does not
//! compile. The protected data lives inside the condition too, so it can only
//! be read or changed with the lock held.
//!
//! # A notify never gets lost to a timeout
//!
//! Whether a timed wait was notified is decided with the lock held: a waiter
//! whose deadline passes checks its `notified` flag after relocking, and if a
//! notify chose it in the meantime the wait returns `true` (it was notified);
//! otherwise it leaves the queue before the lock is released, so no later
//! notify can count it. (CPython can lose that race: its waiter may report
//! `False` although a `notify(1)` already spent itself on it.)
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::thread;
//! use synclings::Condition;
//!
//! let jobs = Arc::new(Condition::new(Vec::new()));
//! let producer = {
//!     let jobs = Arc::clone(&jobs);
//!     thread::spawn(move || {
//!         let mut queue = jobs.lock();
//!         queue.push("job 1");
//!         queue.notify(1);
//!     })
//! };
//! let mut queue = jobs.lock();
//! queue.wait_for(|queue| !queue.is_empty());
//! assert_eq!(queue.pop(), Some("job 1"));
//! drop(queue);
//! producer.join().unwrap();
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};

// Relaxed: `notified` is only read and written with the condition's mutex
// held; the mutex already orders every access.
use crate::sync::atomic::AtomicBool;
use crate::sync::atomic::Ordering::Relaxed;
use crate::sync::{Arc, Condvar, Duration, Instant, Mutex, MutexGuard};

/// A value behind a lock, with a FIFO queue of threads waiting for it to
/// change (Python's `threading.Condition`). See the [module docs](self).
pub struct Condition<T = ()> {
    inner: Mutex<Inner<T>>,
}

/// What the condition's mutex protects.
struct Inner<T> {
    /// The user's value.
    value: T,
    /// One slot per thread inside a `wait*` call, longest-waiting first
    /// (CPython's `_waiters`). Invariant: the notified slots form a prefix
    /// (a notify marks the first unnotified ones; a waiter only ever removes
    /// its own slot, and new slots join at the back). Everything after that
    /// prefix is a live waiter that a notify may still choose.
    waiters: VecDeque<Arc<Slot>>,
}

/// One waiting thread's private wake-up line (CPython's per-waiter lock).
struct Slot {
    /// `false`: the thread is waiting and no notify has chosen it yet.
    /// `true`: a notify chose it; its wait returns `true` whenever it runs.
    notified: AtomicBool,
    /// Only this slot's thread sleeps here, so `notify_one` wakes exactly it.
    wakeup: Condvar,
}

/// Proof that the lock of a [`Condition`] is held: gives access to the value
/// (`Deref`/`DerefMut`), and the `wait*` and `notify*` methods. Dropping it
/// unlocks.
pub struct ConditionGuard<'a, T> {
    /// `Some` except during this guard's own `wait*` call, which hands the
    /// mutex guard to the slot's condvar (the facade's `wait(guard) -> guard`).
    guard: Option<MutexGuard<'a, Inner<T>>>,
}

const HELD: &str = "a ConditionGuard holds its lock outside of its own wait calls";

impl<T> Condition<T> {
    /// A new, unlocked condition protecting `value`.
    pub fn new(value: T) -> Self {
        Condition {
            inner: Mutex::new(Inner {
                value,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// Locks, blocking until the lock is free (Python's `acquire()` or
    /// `with cond:`).
    pub fn lock(&self) -> ConditionGuard<'_, T> {
        ConditionGuard::new(self.inner.lock())
    }

    /// Locks if the lock is free right now (Python's `acquire(False)`).
    pub fn try_lock(&self) -> Option<ConditionGuard<'_, T>> {
        self.inner.try_lock().map(ConditionGuard::new)
    }

    /// Locks, giving up after `timeout` (Python's `acquire(timeout=t)`).
    pub fn lock_timeout(&self, timeout: Duration) -> Option<ConditionGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.inner.try_lock_until(deadline).map(ConditionGuard::new),
            // A deadline past the end of time: no deadline at all.
            None => Some(self.lock()),
        }
    }

    /// Consumes the condition and returns its value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner().value
    }

    /// The value, without locking: `&mut self` proves nobody else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner.get_mut().value
    }

    /// How many threads are waiting and not yet chosen by a notify (locks).
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        self.inner.lock().live_waiters()
    }
}

impl<T> Inner<T> {
    /// The waiters after the notified prefix.
    fn live_waiters(&self) -> usize {
        self.waiters
            .iter()
            .skip_while(|slot| slot.notified.load(Relaxed))
            .count()
    }
}

impl<'a, T> ConditionGuard<'a, T> {
    fn new(guard: MutexGuard<'a, Inner<T>>) -> Self {
        ConditionGuard { guard: Some(guard) }
    }

    fn inner(&self) -> &Inner<T> {
        self.guard.as_ref().expect(HELD)
    }

    /// Unlocks, sleeps until a notify chooses this thread, relocks (Python's
    /// `wait()`). Never wakes spuriously; still, callers usually want
    /// [`wait_for`](Self::wait_for), since another thread may change the
    /// value between the notify and the relock.
    pub fn wait(&mut self) {
        self.wait_deadline(None);
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout` (Python's
    /// `wait(timeout)`). Returns `true` if notified, `false` if it timed out.
    /// The lock is held again in both cases.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        // Overflow (a timeout of centuries) means no deadline at all.
        self.wait_deadline(Instant::now().checked_add(timeout))
    }

    /// Waits until `pred(&value)` is true (Python's `wait_for(pred)`). The
    /// predicate is checked first, so no wait happens if it already holds.
    pub fn wait_for(&mut self, mut pred: impl FnMut(&T) -> bool) {
        while !pred(self) {
            self.wait();
        }
    }

    /// Waits until `pred(&value)` is true or `timeout` passed (Python's
    /// `wait_for(pred, timeout)`). Returns the predicate's last value: `true`
    /// if it holds, `false` if it still did not hold when the time was up.
    pub fn wait_for_timeout(
        &mut self,
        mut pred: impl FnMut(&T) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if pred(self) {
                return true;
            }
            if !self.wait_deadline(deadline) {
                return pred(self);
            }
        }
    }

    /// Wakes at most `n` waiting threads, the longest-waiting first (Python's
    /// `notify(n)`). Waiters that timed out already left the queue and are not
    /// counted. The woken threads run once this guard is dropped (or waits).
    pub fn notify(&self, n: usize) {
        // Skip the notified prefix (see `Inner::waiters`): already chosen.
        let live = self
            .inner()
            .waiters
            .iter()
            .skip_while(|slot| slot.notified.load(Relaxed));
        for slot in live.take(n) {
            slot.notified.store(true, Relaxed);
            slot.wakeup.notify_one();
        }
    }

    /// Wakes every waiting thread (Python's `notify_all()`).
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }

    /// How many threads are waiting and not yet chosen by a notify.
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        self.inner().live_waiters()
    }

    /// The wait loop: queue a slot, sleep until it is notified or `deadline`
    /// passes, leave the queue. Returns whether the slot was notified.
    fn wait_deadline(&mut self, deadline: Option<Instant>) -> bool {
        let slot = Arc::new(Slot {
            notified: AtomicBool::new(false),
            wakeup: Condvar::new(),
        });
        let mut guard = self.guard.take().expect(HELD);
        guard.waiters.push_back(Arc::clone(&slot));
        // A wake-up with `notified` still false is spurious: sleep again.
        let notified = loop {
            if slot.notified.load(Relaxed) {
                break true;
            }
            match deadline {
                None => guard = slot.wakeup.wait(guard),
                Some(deadline) => {
                    let (relocked, timed_out) = slot.wakeup.wait_until(guard, deadline);
                    guard = relocked;
                    if timed_out {
                        // Decided under the lock: a notify that came first wins.
                        break slot.notified.load(Relaxed);
                    }
                }
            }
        };
        let at = guard
            .waiters
            .iter()
            .position(|queued| Arc::ptr_eq(queued, &slot))
            .expect("a waiter's slot stays queued until the waiter leaves");
        guard.waiters.remove(at);
        self.guard = Some(guard);
        notified
    }
}

impl<T> Deref for ConditionGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T> DerefMut for ConditionGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard.as_mut().expect(HELD).value
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Condition");
        match self.inner.try_lock() {
            Some(inner) => out
                .field("value", &inner.value)
                .field("waiters", &inner.live_waiters()),
            None => out.field("value", &format_args!("<locked>")),
        };
        out.finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for ConditionGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard")
            .field("value", &self.inner().value)
            .field("waiters", &self.inner().live_waiters())
            .finish()
    }
}
