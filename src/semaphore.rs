//! [`Semaphore`] and [`BoundedSemaphore`]: counters of permits, like Python's
//! `threading.Semaphore` and `threading.BoundedSemaphore`.
//!
//! [`acquire`](Semaphore::acquire) takes a permit, blocking while there is
//! none; the [`Permit`] gives it back when dropped (Python's `with sem:`).
//! [`release(n)`](Semaphore::release) adds `n` permits from any thread and
//! wakes up to `n` waiters. A [`BoundedSemaphore`] refuses, changing nothing,
//! a release that would raise the count above its initial value (Python
//! raises `ValueError` there). Python's `Semaphore(-1)` is impossible by
//! construction: the count is a `usize`.
//!
//! # Design
//!
//! - State: `permits` (atomic) is the number of permits available; `waiters`
//!   (atomic, changed only with `lock` held) the number of threads registered
//!   to sleep on `permit_added`. Invariant: `permits <= bound`.
//! - Fast paths, lock-free: taking a permit is a CAS decrement that never goes
//!   below zero; giving permits back is a CAS increment, followed by a notify
//!   only if `waiters` is non-zero.
//! - Wait loop: spin a little (through `sync::Backoff`) retrying the CAS; then
//!   lock, register in `waiters`, and loop "re-check, sleep" until a permit is
//!   taken (or the deadline passes: one last re-check, then give up).
//! - Wake rule: adding `n` permits wakes up to `n` sleepers.
//! - The handshake that loses no wake-up: a waiter *registers, then re-checks*
//!   `permits`; a releaser *adds, then reads* `waiters`. One of the two must
//!   see the other. Both middle steps are read-modify-writes on `permits` (the
//!   re-check writes 0 back over 0 when it finds no permit), so they are
//!   totally ordered: if the waiter's re-check comes first, the releaser's
//!   `AcqRel` add reads from it, synchronises with it, and so sees the
//!   registration. (Plain `SeqCst` loads would also do, but the model
//!   checker behind the facade treats them as `AcqRel` and so cannot check
//!   them.) A releaser that sees a waiter locks
//!   before notifying, and a waiter holds the lock from registering until it
//!   sleeps, so the notify cannot fall between the re-check and the sleep.
//!
//! # Examples
//!
//! ```
//! use synclings::{BoundedSemaphore, Semaphore};
//!
//! let pool = Semaphore::new(2);
//! let a = pool.acquire();
//! let b = pool.try_acquire().expect("a second permit");
//! assert!(pool.try_acquire().is_none()); // both taken
//! drop(a); // gives the permit back
//! assert_eq!(pool.available(), 1);
//! b.forget(); // keeps this one taken for good
//! pool.release(1); // ... until someone releases it
//! assert_eq!(pool.available(), 2);
//!
//! let bounded = BoundedSemaphore::new(1);
//! assert!(bounded.release(1).is_err()); // over the bound: nothing changes
//! assert_eq!(bounded.available(), 1);
//! ```

use std::fmt;

use crate::sync::atomic::AtomicUsize;
// AcqRel on every successful change of `permits`: Release hands the giver's
// writes to the taker, Acquire makes the handshake above work. Acquire to take
// a permit (see the giver's writes). Relaxed for first reads before a CAS (the
// CAS checks them) and for `waiters` (the handshake or the lock orders it).
use crate::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use crate::sync::{Backoff, Condvar, Duration, Instant, Mutex, PARK_PATIENCE};

/// The engine shared by [`Semaphore`] and [`BoundedSemaphore`].
struct Core {
    /// Permits available now; never above `bound`.
    permits: AtomicUsize,
    /// Threads registered to sleep on `permit_added` (changed with `lock` held).
    waiters: AtomicUsize,
    /// Held from registering until sleeping, and while notifying.
    lock: Mutex<()>,
    /// Notified once per permit added, while `waiters` is non-zero.
    permit_added: Condvar,
    /// The most permits there may be: `usize::MAX` for a plain `Semaphore`.
    bound: usize,
}

impl Core {
    fn new(permits: usize, bound: usize) -> Self {
        Core {
            permits: AtomicUsize::new(permits),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            permit_added: Condvar::new(),
            bound,
        }
    }

    /// Takes a permit if there is one: lock-free, never below zero.
    fn try_take(&self) -> bool {
        let mut current = self.permits.load(Relaxed);
        while current > 0 {
            match self
                .permits
                .compare_exchange_weak(current, current - 1, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
        false
    }

    /// The re-check of a registered waiter: like `try_take`, but it always
    /// ends with a successful CAS (0 over 0 when there is no permit), the
    /// waiter's half of the handshake.
    fn take_registered(&self) -> bool {
        let mut current = self.permits.load(Relaxed);
        loop {
            let next = current.saturating_sub(1);
            match self
                .permits
                .compare_exchange_weak(current, next, AcqRel, Relaxed)
            {
                Ok(_) => return current > 0,
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes a permit, blocking until one is free or `timeout` passes
    /// (`None`, or a timeout too large to represent: wait for ever).
    fn acquire(&self, timeout: Option<Duration>) -> bool {
        if self.try_take() {
            return true;
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // Spin, then yield, before parking: a permit released on the other
        // core usually comes back sooner than a wake-up (~25 µs) would.
        let mut backoff = Backoff::with_patience(PARK_PATIENCE);
        while !backoff.is_completed() {
            backoff.snooze();
            if self.try_take() {
                return true;
            }
        }
        // Register, then re-check with a read-modify-write: the waiter's half
        // of the handshake (see the module docs). The lock is held until the
        // condvar wait releases it, so a releaser's notify cannot slip between.
        let mut guard = self.lock.lock();
        self.waiters.fetch_add(1, Relaxed);
        let taken = loop {
            if self.take_registered() {
                break true;
            }
            match deadline {
                None => guard = self.permit_added.wait(guard),
                Some(deadline) => {
                    let (g, timed_out) = self.permit_added.wait_until(guard, deadline);
                    guard = g;
                    if timed_out {
                        break self.take_registered();
                    }
                }
            }
        };
        self.waiters.fetch_sub(1, Relaxed);
        taken
    }

    /// Adds `n` permits and wakes up to `n` sleepers. If the count would pass
    /// `bound`: with `clamp`, stops at `bound`; without, changes nothing and
    /// returns `Err(available)`.
    fn add(&self, n: usize, clamp: bool) -> Result<(), usize> {
        let mut current = self.permits.load(Relaxed);
        loop {
            let next = match current.checked_add(n).filter(|&v| v <= self.bound) {
                Some(next) => next,
                None if clamp => self.bound,
                None => return Err(current),
            };
            if next == current {
                return Ok(());
            }
            match self
                .permits
                .compare_exchange_weak(current, next, AcqRel, Relaxed)
            {
                Ok(_) => {
                    self.wake(next - current);
                    return Ok(());
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Wakes up to `added` sleepers: the releaser's half of the handshake.
    fn wake(&self, added: usize) {
        if self.waiters.load(Relaxed) == 0 {
            return;
        }
        let _guard = self.lock.lock();
        if added >= self.waiters.load(Relaxed) {
            self.permit_added.notify_all();
        } else {
            (0..added).for_each(|_| self.permit_added.notify_one());
        }
    }
}

/// A counting semaphore: Python's `threading.Semaphore`.
///
/// See the [module documentation](self) for the semantics and an example.
pub struct Semaphore {
    core: Core,
}

impl Semaphore {
    /// A semaphore with `permits` permits available (Python's `Semaphore(n)`).
    pub fn new(permits: usize) -> Self {
        Semaphore {
            core: Core::new(permits, usize::MAX),
        }
    }

    /// Takes a permit, blocking until one is available.
    pub fn acquire(&self) -> Permit<'_> {
        self.core.acquire(None);
        Permit { core: &self.core }
    }

    /// Takes a permit if one is available right now. Lock-free.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.core.try_take().then(|| Permit { core: &self.core })
    }

    /// Takes a permit, blocking at most `timeout`; `None` if none came.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        self.core
            .acquire(Some(timeout))
            .then(|| Permit { core: &self.core })
    }

    /// Adds `n` permits (from any thread) and wakes up to `n` waiters.
    /// `release(0)` does nothing.
    ///
    /// # Panics
    ///
    /// If the count would overflow `usize`.
    pub fn release(&self, n: usize) {
        if let Err(available) = self.core.add(n, false) {
            panic!("Semaphore::release({n}) with {available} permits available overflows usize");
        }
    }

    /// The number of permits available now (Python's `sem._value`): a snapshot.
    pub fn available(&self) -> usize {
        self.core.permits.load(Relaxed)
    }

    /// The number of threads blocked in `acquire` right now (a snapshot).
    ///
    /// For tests and introspection only.
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        self.core.waiters.load(Relaxed)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// A semaphore that refuses to be released above its initial count: Python's
/// `threading.BoundedSemaphore`.
///
/// Its methods are [`Semaphore`]'s, except that [`release`](Self::release)
/// returns a [`ReleaseError`] (and changes nothing) instead of going over the
/// bound. Dropping a [`Permit`] never fails: if extra releases already brought
/// the count back to the bound, the count stays at the bound (where Python
/// would raise `ValueError`, a destructor cannot).
pub struct BoundedSemaphore {
    core: Core,
}

impl BoundedSemaphore {
    /// A semaphore with `permits` permits available, never more.
    pub fn new(permits: usize) -> Self {
        BoundedSemaphore {
            core: Core::new(permits, permits),
        }
    }

    /// Takes a permit, blocking until one is available.
    pub fn acquire(&self) -> Permit<'_> {
        self.core.acquire(None);
        Permit { core: &self.core }
    }

    /// Takes a permit if one is available right now. Lock-free.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.core.try_take().then(|| Permit { core: &self.core })
    }

    /// Takes a permit, blocking at most `timeout`; `None` if none came.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        self.core
            .acquire(Some(timeout))
            .then(|| Permit { core: &self.core })
    }

    /// Adds `n` permits (from any thread) and wakes up to `n` waiters, or
    /// fails, changing nothing, if the count would exceed the bound.
    pub fn release(&self, n: usize) -> Result<(), ReleaseError> {
        self.core
            .add(n, false)
            .map_err(|available| ReleaseError::new(n, available, self.core.bound))
    }

    /// The number of permits available now: a snapshot.
    pub fn available(&self) -> usize {
        self.core.permits.load(Relaxed)
    }

    /// The most permits there may be: the count given to `new`.
    pub fn bound(&self) -> usize {
        self.core.bound
    }

    /// The number of threads blocked in `acquire` right now (a snapshot).
    ///
    /// For tests and introspection only.
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        self.core.waiters.load(Relaxed)
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available", &self.available())
            .field("bound", &self.bound())
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// A permit taken from a [`Semaphore`] or a [`BoundedSemaphore`]; dropping it
/// gives the permit back (Python's `with sem:`).
#[must_use = "dropping a permit at once gives it back"]
pub struct Permit<'a> {
    core: &'a Core,
}

impl Permit<'_> {
    /// Keeps the permit taken: the semaphore's count stays one lower until
    /// someone calls `release`.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // Clamped: see `BoundedSemaphore` for when the bound is already reached.
        let _ = self.core.add(1, true);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("available", &self.core.permits.load(Relaxed))
            .finish_non_exhaustive()
    }
}

/// The error of [`BoundedSemaphore::release`]: the count would exceed the
/// bound (Python's `ValueError: Semaphore released too many times`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseError {
    released: usize,
    available: usize,
    bound: usize,
}

impl ReleaseError {
    /// The error of adding `released` permits to `available` past `bound`
    /// (also used by `asyncio::BoundedSemaphore`).
    pub(crate) const fn new(released: usize, available: usize, bound: usize) -> Self {
        ReleaseError {
            released,
            available,
            bound,
        }
    }

    /// The number of permits the refused call tried to add.
    pub fn released(&self) -> usize {
        self.released
    }

    /// The number of permits available when the call was refused.
    pub fn available(&self) -> usize {
        self.available
    }

    /// The semaphore's bound.
    pub fn bound(&self) -> usize {
        self.bound
    }
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BoundedSemaphore released too many times: adding {} permit(s) to the {} available \
             would exceed its bound of {}; nothing was changed (release only permits that were \
             acquired, or use a Semaphore, which has no bound)",
            self.released, self.available, self.bound
        )
    }
}

impl std::error::Error for ReleaseError {}
