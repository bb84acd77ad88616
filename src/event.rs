//! [`Event`]: a flag that threads wait on, like Python's `threading.Event`.
//!
//! One thread [`set`](Event::set)s the flag, every thread waiting for it
//! wakes; [`clear`](Event::clear) resets it. As in CPython, a waiter returns
//! `true` if a `set` happened while it waited, even when a `clear` followed at
//! once and the flag is already false again by the time the waiter runs.
//!
//! # Design
//!
//! - `flag` is an atomic mirror of "is set", so [`is_set`](Event::is_set) and
//!   the fast path of [`wait`](Event::wait) never lock. It is only *written*
//!   with the mutex held, so its changes are ordered with the generation.
//! - `generation` counts the times the flag went from clear to set. A waiter
//!   notes the generation under the mutex and sleeps until it changes: that is
//!   "a set happened while I waited", whatever the flag says afterwards.
//! - Wake rule: a `set` that changes the flag wakes every waiter.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use synclings::Event;
//!
//! let ready = Arc::new(Event::new());
//! let r = Arc::clone(&ready);
//! let worker = std::thread::spawn(move || {
//!     r.wait(); // blocks until the main thread calls `set`
//!     "started"
//! });
//! assert!(!ready.wait_timeout(Duration::from_millis(1)));
//! ready.set();
//! assert!(ready.is_set());
//! assert_eq!(worker.join().unwrap(), "started");
//! ready.clear();
//! assert!(!ready.is_set());
//! ```

use std::fmt;

use crate::sync::atomic::AtomicBool;
// Acquire/Release: a waiter that sees the flag set also sees what the setter
// wrote before `set`. Relaxed: reads made with the mutex held (the mutex
// already orders them).
use crate::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::sync::{Backoff, Condvar, Duration, Instant, Mutex, PARK_PATIENCE};

/// A flag threads can wait on: Python's `threading.Event`.
///
/// See the [module documentation](self) for the semantics and an example.
pub struct Event {
    /// `true` while the event is set. Read without the lock; written only
    /// with `state` locked.
    flag: AtomicBool,
    /// What waiters sleep on, guarded by the mutex.
    state: Mutex<State>,
    /// Notified (all waiters) when the flag goes from clear to set.
    changed: Condvar,
}

/// The part of an [`Event`] guarded by its mutex.
struct State {
    /// Bumped (wrapping) each time the flag goes from clear to set. A waiter
    /// is done once it differs from the value it saw when it started waiting.
    generation: u64,
    /// Threads currently blocked in `wait`/`wait_timeout`.
    waiters: usize,
}

impl Event {
    /// A new event, not set (Python's `Event()`).
    pub fn new() -> Self {
        Event {
            flag: AtomicBool::new(false),
            state: Mutex::new(State {
                generation: 0,
                waiters: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// True if the event is set. Lock-free: one atomic load.
    pub fn is_set(&self) -> bool {
        self.flag.load(Acquire)
    }

    /// Sets the flag and wakes every thread waiting for it. Setting an event
    /// that is already set does nothing.
    pub fn set(&self) {
        if self.flag.load(Acquire) {
            // Already set: no thread is waiting for this generation.
            return;
        }
        let mut state = self.state.lock();
        if self.flag.load(Relaxed) {
            return;
        }
        // Release: publishes the setter's earlier writes to lock-free readers.
        self.flag.store(true, Release);
        state.generation = state.generation.wrapping_add(1);
        if state.waiters > 0 {
            self.changed.notify_all();
        }
    }

    /// Resets the flag: later calls to [`wait`](Event::wait) block until the
    /// next [`set`](Event::set).
    pub fn clear(&self) {
        let _state = self.state.lock();
        self.flag.store(false, Relaxed);
    }

    /// Blocks until the event is set. Returns at once if it is set already.
    pub fn wait(&self) {
        self.wait_inner(None);
    }

    /// Blocks until the event is set or `timeout` passes.
    ///
    /// Returns `true` if the flag was set on entry or a [`set`](Event::set)
    /// happened while waiting (even if a [`clear`](Event::clear) followed),
    /// `false` if the timeout passed first. A timeout too large to represent
    /// means "no timeout".
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_inner(Some(timeout))
    }

    /// The number of threads blocked in `wait`/`wait_timeout` right now.
    ///
    /// For tests and introspection only (a snapshot; it takes the lock).
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        self.state.lock().waiters
    }

    /// The wait loop shared by `wait` (`timeout: None`) and `wait_timeout`.
    fn wait_inner(&self, timeout: Option<Duration>) -> bool {
        if self.flag.load(Acquire) {
            return true;
        }
        // Computed once; `None` (no timeout, or overflow) waits forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));

        // Spin, then yield, before parking: a set often comes sooner than the
        // ~25 µs a cross-core wake-up costs. Until it registers below, this
        // waiter is simply one that has not started waiting yet (as a Python
        // thread that has not yet taken the condition's lock). Not under loom:
        // the spin reads only the flag, and a yield in every model would hide
        // the interleavings where the timeout wins.
        let mut backoff = Backoff::with_patience(PARK_PATIENCE);
        while cfg!(not(loom)) && !backoff.is_completed() {
            backoff.snooze();
            if self.flag.load(Acquire) {
                return true;
            }
        }

        let mut state = self.state.lock();
        if self.flag.load(Relaxed) {
            return true;
        }
        let start = state.generation;
        state.waiters += 1;
        let signalled = loop {
            if state.generation != start {
                break true;
            }
            match deadline {
                Some(deadline) => {
                    let (guard, timed_out) = self.changed.wait_until(state, deadline);
                    state = guard;
                    if timed_out {
                        break state.generation != start;
                    }
                }
                None => state = self.changed.wait(state),
            }
        };
        state.waiters -= 1;
        signalled
    }
}

impl Default for Event {
    /// Same as [`Event::new`]: not set.
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}
