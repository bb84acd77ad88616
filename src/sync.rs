//! The sync facade: the one place that names `parking_lot` or `loom`.
//!
//! Every primitive in this crate (and every exercise of the course) builds on
//! the types here, never on `std::sync`, `parking_lot` or `loom` directly.
//! Normally they wrap `parking_lot` (small, fast, no poisoning); compiled with
//! `RUSTFLAGS="--cfg loom"` they wrap [loom](https://docs.rs/loom), which
//! explores every interleaving of a small concurrent program.
//!
//! The API is std-shaped and infallible:
//!
//! - [`Mutex::lock`] returns a guard (no poisoning, no `Result`);
//! - [`Condvar::wait`] takes the guard and gives it back;
//! - [`Condvar::wait_until`] takes a deadline and returns `(guard, timed_out)`.
//!
//! # Timeouts under loom
//!
//! Loom does not model time: its `Condvar::wait_timeout` never times out. This
//! facade models a timeout as an event that may happen at any interleaving
//! point instead: under loom, [`Condvar::wait_until`] unlocks the mutex, lets
//! other threads run, relocks and reports `timed_out = true`. A model then
//! explores "the timeout fires before the notify" *and* "after it". The rule
//! for code built on this facade: compute the deadline once, and leave a timed
//! loop as soon as `timed_out` is true (never loop on `Instant::now()`).
//!
//! # Example
//!
//! ```
//! use synclings::sync::{Arc, Condvar, Mutex};
//! use std::time::{Duration, Instant};
//!
//! let pair = Arc::new((Mutex::new(false), Condvar::new()));
//! let pair2 = Arc::clone(&pair);
//! let t = synclings::sync::thread::spawn(move || {
//!     let (flag, cv) = &*pair2;
//!     *flag.lock() = true;
//!     cv.notify_one();
//! });
//! let (flag, cv) = &*pair;
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let mut guard = flag.lock();
//! while !*guard {
//!     let (g, timed_out) = cv.wait_until(guard, deadline);
//!     guard = g;
//!     assert!(!timed_out || *guard, "no notification within 10 s");
//! }
//! drop(guard);
//! t.join().unwrap();
//! ```

pub use std::time::{Duration, Instant};

pub use crossbeam_utils::CachePadded;

#[cfg(not(loom))]
pub use std::sync::Arc;

#[cfg(loom)]
pub use loom::sync::Arc;

/// Atomic types: `std::sync::atomic` normally, `loom::sync::atomic` under loom.
pub mod atomic {
    #[cfg(not(loom))]
    pub use std::sync::atomic::*;

    #[cfg(loom)]
    pub use loom::sync::atomic::*;
}

/// Threads: `std::thread` normally, `loom::thread` under loom.
///
/// Use only what both have: `spawn`, `Builder` (`name`, `spawn`), `current`,
/// `yield_now`, `JoinHandle`, `Thread`, `ThreadId`, `park`.
pub mod thread {
    #[cfg(not(loom))]
    pub use std::thread::*;

    #[cfg(loom)]
    pub use loom::thread::*;
}

/// Interior mutability the model checker can see: `loom::cell::UnsafeCell`
/// under loom (which checks that no access races another), a thin wrapper of
/// `std::cell::UnsafeCell` otherwise.
///
/// The API is loom's closure API: [`with`](cell::UnsafeCell::with) hands the
/// closure a `*const T`, [`with_mut`](cell::UnsafeCell::with_mut) a `*mut T`.
/// Dereferencing the pointer is the caller's `unsafe` responsibility.
pub mod cell {
    #[cfg(loom)]
    pub use loom::cell::UnsafeCell;

    /// `std::cell::UnsafeCell` with loom's closure API (see [the module](self)).
    #[cfg(not(loom))]
    #[derive(Debug, Default)]
    pub struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    #[cfg(not(loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Calls `f` with a shared pointer to the value.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a mutable pointer to the value.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

pub use imp::{Condvar, Mutex, MutexGuard};

/// Exponential backoff for spin-then-park loops.
///
/// crossbeam_utils' schedule (spin 1, 2, 4 … 64 times, then yield, done
/// after eleven steps), kept here so that [`snooze_until`](Self::snooze_until)
/// can look at a condition between two spins of one step. Under loom every
/// step is a `thread::yield_now()`, so a spin loop stays a finite model.
#[derive(Debug, Default)]
pub struct Backoff {
    /// Steps taken (`spin` takes `&self`, hence the cell).
    #[cfg(not(loom))]
    step: std::cell::Cell<u32>,
    /// Yields to make after the steps completed, before `is_completed`.
    #[cfg(not(loom))]
    patience: u32,
    /// Yields made after the steps completed.
    #[cfg(not(loom))]
    extra_yields: u32,
    #[cfg(loom)]
    steps: u32,
}

/// The last step that spins (`2^SPIN_LIMIT` times) rather than yields.
#[cfg(not(loom))]
const SPIN_LIMIT: u32 = 6;
/// The last step of a backoff (without patience).
#[cfg(not(loom))]
const YIELD_LIMIT: u32 = 10;

/// Yields a blocked call makes, after spinning, before it parks: about the
/// cost of waking a thread on another core (tens of microseconds, at a
/// fraction of a microsecond per yield). Parking sooner makes a hand-over
/// between two cores cascade into a wake-up per item. Use it with
/// [`Backoff::with_patience`].
pub const PARK_PATIENCE: u32 = 100;

/// Lets at most one thread at a time wait longer than the others on one
/// side of a primitive (putters, say): the queue gives its patient thread a
/// second backoff round that yields [`PARK_PATIENCE`] times; the others park
/// as soon as one round is over.
///
/// Several threads waiting on one side share a core: the more they yield,
/// the more they hand the CPU round and round among themselves, each turn a
/// context switch. Parking all but one leaves a single thread per core
/// waiting against the other side. (At capacity 1 the rate then follows the
/// machine's core-to-core hand-over: ~2 M messages/s when a round trip
/// between the two vCPUs costs ~280 ns, ~15–22 M in the spells when the host
/// runs both on one physical core and it costs ~30 ns; see
/// `core_to_core_round_trip` in the bench package.) Under loom nobody is
/// patient (there is no patience to model).
#[derive(Debug, Default)]
pub struct PatientSlot {
    #[cfg(not(loom))]
    taken: std::sync::atomic::AtomicBool,
}

/// The patient turn claimed from a [`PatientSlot`]; gives it back on drop.
#[derive(Debug)]
pub struct PatientTurn<'a> {
    #[cfg(not(loom))]
    slot: &'a PatientSlot,
    #[cfg(loom)]
    _slot: std::marker::PhantomData<&'a PatientSlot>,
}

impl PatientSlot {
    /// A free slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The patient turn, if no other thread has it.
    #[inline]
    pub fn try_claim(&self) -> Option<PatientTurn<'_>> {
        #[cfg(not(loom))]
        {
            // Relaxed: the flag only spreads the waiting among threads; it
            // guards no data.
            use std::sync::atomic::Ordering::Relaxed;
            if self.taken.load(Relaxed) || self.taken.swap(true, Relaxed) {
                return None;
            }
            Some(PatientTurn { slot: self })
        }
        #[cfg(loom)]
        None
    }
}

impl Drop for PatientTurn<'_> {
    fn drop(&mut self) {
        #[cfg(not(loom))]
        self.slot
            .taken
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Backoff {
    /// A fresh backoff.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backoff that, once spinning stopped paying, still yields the CPU
    /// `yields` more times before [`is_completed`](Self::is_completed): for a
    /// wait where parking costs more than a long yield phase, such as a hand
    /// over between cores (a cross-core wake-up costs tens of microseconds).
    /// Under loom, the same as [`new`](Self::new).
    pub fn with_patience(yields: u32) -> Self {
        #[cfg(not(loom))]
        return Backoff {
            patience: yields,
            ..Self::default()
        };
        #[cfg(loom)]
        {
            let _ = yields;
            Self::default()
        }
    }

    /// Spins (busy-waits) a little longer each call; for lock-free retries.
    pub fn spin(&self) {
        #[cfg(not(loom))]
        {
            let step = self.step.get();
            for _ in 0..1u32 << step.min(SPIN_LIMIT) {
                std::hint::spin_loop();
            }
            if step <= SPIN_LIMIT {
                self.step.set(step + 1);
            }
        }
        #[cfg(loom)]
        loom::thread::yield_now();
    }

    /// Spins, then yields the CPU; for waiting on another thread's progress.
    pub fn snooze(&mut self) {
        self.snooze_until(|| false);
    }

    /// One step of [`snooze`](Self::snooze) that checks `ready` after every
    /// spin of the step (and after its yield), and ends as soon as it holds;
    /// returns the last `ready()`. Waiting on a word that only the other
    /// thread writes, `ready` reads this core's cached copy until that
    /// thread's write invalidates it: polling costs no cache-line transfer,
    /// and the waiter sees the change one spin after it lands instead of up
    /// to 64 spins (~3 µs) later. The step counts whether or not `ready`
    /// ended it, so the backoff's length stays bounded.
    #[inline]
    pub fn snooze_until(&mut self, mut ready: impl FnMut() -> bool) -> bool {
        #[cfg(not(loom))]
        {
            let step = self.step.get();
            if step > YIELD_LIMIT {
                self.extra_yields = self.extra_yields.saturating_add(1);
            } else {
                self.step.set(step + 1);
            }
            if step <= SPIN_LIMIT {
                for _ in 0..1u32 << step {
                    std::hint::spin_loop();
                    if ready() {
                        return true;
                    }
                }
                false
            } else {
                std::thread::yield_now();
                ready()
            }
        }
        #[cfg(loom)]
        {
            self.steps += 1;
            loom::thread::yield_now();
            ready()
        }
    }

    /// True once spinning has stopped paying: time to park instead.
    pub fn is_completed(&self) -> bool {
        #[cfg(not(loom))]
        return self.step.get() > YIELD_LIMIT && self.extra_yields >= self.patience;
        #[cfg(loom)]
        return self.steps >= 1;
    }
}

#[cfg(not(loom))]
mod imp {
    use std::time::Instant;

    /// A mutual-exclusion lock (parking_lot's; no poisoning).
    #[derive(Debug, Default)]
    pub struct Mutex<T: ?Sized>(parking_lot::Mutex<T>);

    /// The guard of a [`Mutex`]; dropping it unlocks.
    pub type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        /// A new unlocked mutex holding `value`.
        pub const fn new(value: T) -> Self {
            Mutex(parking_lot::const_mutex(value))
        }

        /// Consumes the mutex and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> Mutex<T> {
        /// Locks, blocking until the lock is free.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }

        /// Locks if the lock is free right now.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock()
        }

        /// Locks, giving up at `deadline`.
        pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock_until(deadline)
        }

        /// True if some thread holds the lock (a snapshot).
        pub fn is_locked(&self) -> bool {
            self.0.is_locked()
        }

        /// Mutable access without locking: `&mut self` proves exclusivity.
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }
    }

    /// A condition variable (parking_lot's: no spurious wake-ups in practice,
    /// but callers loop on their predicate anyway).
    #[derive(Debug, Default)]
    pub struct Condvar(parking_lot::Condvar);

    impl Condvar {
        /// A new condition variable.
        pub const fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }

        /// Unlocks, sleeps until notified, relocks.
        pub fn wait<'a, T: ?Sized>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        /// Unlocks, sleeps until notified or until `deadline`, relocks.
        /// Returns the guard and `true` if the deadline passed.
        pub fn wait_until<'a, T: ?Sized>(
            &self,
            mut guard: MutexGuard<'a, T>,
            deadline: Instant,
        ) -> (MutexGuard<'a, T>, bool) {
            let result = self.0.wait_until(&mut guard, deadline);
            (guard, result.timed_out())
        }

        /// Wakes one waiter, if any.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(loom)]
mod imp {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    /// A mutual-exclusion lock (loom's, under `--cfg loom`).
    #[derive(Debug)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of a [`Mutex`]; keeps the mutex so that a modelled timeout
    /// can unlock and relock it.
    pub struct MutexGuard<'a, T> {
        mutex: &'a Mutex<T>,
        guard: loom::sync::MutexGuard<'a, T>,
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    impl<T> Mutex<T> {
        /// A new unlocked mutex holding `value`.
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Consumes the mutex and returns its value.
        pub fn into_inner(self) -> T {
            self.0.into_inner().unwrap()
        }

        /// Locks, blocking until the lock is free.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: self,
                guard: self.0.lock().unwrap(),
            }
        }

        /// Locks if the lock is free right now.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0
                .try_lock()
                .ok()
                .map(|guard| MutexGuard { mutex: self, guard })
        }

        /// Locks, giving up at `deadline`: modelled as "try, let the others
        /// run, try once more", so both outcomes are explored.
        pub fn try_lock_until(&self, _deadline: Instant) -> Option<MutexGuard<'_, T>> {
            if let Some(guard) = self.try_lock() {
                return Some(guard);
            }
            loom::thread::yield_now();
            self.try_lock()
        }

        /// True if some thread holds the lock (a snapshot).
        pub fn is_locked(&self) -> bool {
            self.0.try_lock().is_err()
        }

        /// Mutable access without locking: `&mut self` proves exclusivity.
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap()
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.guard
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.guard
        }
    }

    impl<T: std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            std::fmt::Debug::fmt(&*self.guard, f)
        }
    }

    /// A condition variable (loom's, under `--cfg loom`).
    #[derive(Debug, Default)]
    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        /// A new condition variable.
        pub fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        /// Unlocks, sleeps until notified, relocks.
        pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            let MutexGuard { mutex, guard } = guard;
            MutexGuard {
                mutex,
                guard: self.0.wait(guard).unwrap(),
            }
        }

        /// The modelled timeout: unlock, let any other thread run, relock,
        /// and report that the deadline passed.
        pub fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _deadline: Instant,
        ) -> (MutexGuard<'a, T>, bool) {
            let MutexGuard { mutex, guard } = guard;
            drop(guard);
            loom::thread::yield_now();
            (mutex.lock(), true)
        }

        /// Wakes one waiter, if any.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
