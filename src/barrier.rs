//! [`Barrier`]: Python's `threading.Barrier`, a meeting point where a fixed
//! number of threads wait for each other, round after round.
//!
//! Each of the `parties` threads calls [`wait`](Barrier::wait); the last to
//! arrive runs the optional action, then everyone is released with a distinct
//! index in `0..parties` (the arrival order), and the barrier is ready for the
//! next round.
//!
//! The state machine is CPython's (`Lib/threading.py`), state for state:
//! *filling* (0), *draining* (1), *resetting* (-1), *broken* (-2), with the
//! same transitions in `_enter`, `_release`, `_wait`, `_exit`, `reset` and
//! `abort`. Python's `BrokenBarrierError` is [`BrokenBarrier`]; a timeout,
//! [`abort`](Barrier::abort), or a panicking action breaks the barrier for
//! everyone until [`reset`](Barrier::reset).
//!
//! | Python | synclings |
//! |---|---|
//! | `Barrier(parties)` / `Barrier(parties, action)` | `Barrier::new(parties)` / `Barrier::with_action(parties, f)` |
//! | `Barrier(0)` raises `ValueError` | `Barrier::new(0)` panics; `Barrier::try_new(0)` returns `Err(ZeroParties)` |
//! | `b.wait()` / `b.wait(timeout)` | `wait() -> Result<usize, BrokenBarrier>` / `wait_timeout(t)` |
//! | `b.abort()` / `b.reset()` | `abort()` / `reset()` |
//! | `b.broken` / `b.parties` / `b.n_waiting` | `is_broken()` / `parties()` / `n_waiting()` |
//!
//! Unlike [`std::sync::Barrier`], this one can time out, be aborted or reset,
//! and runs an action between rounds.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::thread;
//! use synclings::Barrier;
//!
//! let barrier = Arc::new(Barrier::with_action(3, || println!("all three arrived")));
//! let workers: Vec<_> = (0..3)
//!     .map(|_| {
//!         let barrier = Arc::clone(&barrier);
//!         thread::spawn(move || barrier.wait().expect("nobody breaks this barrier"))
//!     })
//!     .collect();
//! let mut indices: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
//! indices.sort();
//! assert_eq!(indices, [0, 1, 2]);
//! ```

use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::sync::{Condvar, Duration, Instant, Mutex, MutexGuard};

/// A reusable meeting point for `parties` threads (Python's
/// `threading.Barrier`). See the [module docs](self).
pub struct Barrier {
    /// How many threads each round waits for (at least 1).
    parties: usize,
    /// Run by the last thread to arrive, before anyone is released.
    action: Option<Box<dyn Fn() + Send + Sync>>,
    state: Mutex<State>,
    /// Notified (all) on every phase change: release, break, reset, and the
    /// end of draining or resetting.
    changed: Condvar,
}

/// What the mutex protects (CPython's `_state` and `_count`).
struct State {
    phase: Phase,
    /// Threads inside `wait` (CPython's `_count`): while filling, how many
    /// arrived this round (the next arrival's index); while draining or
    /// resetting, how many have yet to leave.
    count: usize,
}

/// CPython's `_state`; its numbers are given for reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// 0: threads arrive and wait for the last party.
    Filling,
    /// 1: the round succeeded; its threads leave with `Ok`. New arrivals wait
    /// until the last one has left (then: filling).
    Draining,
    /// -1: `reset` interrupted a round; its threads leave with `Err`. New
    /// arrivals wait until the last one has left (then: filling).
    Resetting,
    /// -2: aborted, timed out or the action panicked: every wait fails at once
    /// until `reset`.
    Broken,
}

impl Barrier {
    /// A barrier for `parties` threads.
    ///
    /// # Panics
    ///
    /// If `parties` is 0 (Python raises `ValueError`): such a barrier could
    /// never release anyone. Use [`try_new`](Self::try_new) to get an error
    /// instead.
    pub fn new(parties: usize) -> Self {
        Self::try_new(parties).unwrap_or_else(|e| panic!("Barrier::new: {e}"))
    }

    /// A barrier for `parties` threads, or [`ZeroParties`] if `parties` is 0.
    pub fn try_new(parties: usize) -> Result<Self, ZeroParties> {
        Self::build(parties, None)
    }

    /// A barrier for `parties` threads whose last arrival runs `action` in
    /// each round before anyone is released.
    ///
    /// The action runs with the barrier's lock held, as in CPython: it must
    /// not call this barrier's methods (that would deadlock). If it panics,
    /// the panic is caught and the barrier breaks: every waiter of the round,
    /// the one that ran the action included, gets [`BrokenBarrier`].
    ///
    /// # Panics
    ///
    /// If `parties` is 0; see [`try_with_action`](Self::try_with_action).
    pub fn with_action(parties: usize, action: impl Fn() + Send + Sync + 'static) -> Self {
        Self::try_with_action(parties, action)
            .unwrap_or_else(|e| panic!("Barrier::with_action: {e}"))
    }

    /// [`with_action`](Self::with_action), or [`ZeroParties`] if `parties`
    /// is 0.
    pub fn try_with_action(
        parties: usize,
        action: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self, ZeroParties> {
        Self::build(parties, Some(Box::new(action)))
    }

    fn build(
        parties: usize,
        action: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> Result<Self, ZeroParties> {
        if parties == 0 {
            return Err(ZeroParties);
        }
        Ok(Barrier {
            parties,
            action,
            state: Mutex::new(State {
                phase: Phase::Filling,
                count: 0,
            }),
            changed: Condvar::new(),
        })
    }

    /// Waits until `parties` threads have called `wait` (Python's `wait()`).
    ///
    /// Returns this thread's arrival index in `0..parties` (the last to
    /// arrive gets `parties - 1`), or [`BrokenBarrier`] if the barrier is or
    /// becomes broken, or is reset, before this round is released.
    pub fn wait(&self) -> Result<usize, BrokenBarrier> {
        self.wait_deadline(None)
    }

    /// Like [`wait`](Self::wait), but if the round is not released within
    /// `timeout`, breaks the barrier (for every waiter, as in Python) and
    /// returns [`BrokenBarrier`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, BrokenBarrier> {
        // Overflow (a timeout of centuries) means no deadline at all.
        self.wait_deadline(Instant::now().checked_add(timeout))
    }

    /// Breaks the barrier: current and future waiters get [`BrokenBarrier`]
    /// until [`reset`](Self::reset) (Python's `abort()`).
    pub fn abort(&self) {
        self.break_barrier(&mut self.state.lock());
    }

    /// Returns the barrier to its initial, empty state (Python's `reset()`).
    /// Threads waiting in the current round get [`BrokenBarrier`]; threads
    /// arriving meanwhile wait until they have left, then start a new round.
    /// A round already released (draining) is not affected.
    pub fn reset(&self) {
        let mut state = self.state.lock();
        if state.count > 0 {
            if matches!(state.phase, Phase::Filling | Phase::Broken) {
                // The last thread to leave makes it filling again (`exit`).
                state.phase = Phase::Resetting;
            }
        } else {
            state.phase = Phase::Filling;
        }
        self.changed.notify_all();
    }

    /// True if the barrier is broken (Python's `broken`).
    pub fn is_broken(&self) -> bool {
        self.state.lock().phase == Phase::Broken
    }

    /// How many threads each round waits for (Python's `parties`).
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many threads are waiting in the current round (Python's
    /// `n_waiting`); 0 while a finished or reset round is draining.
    pub fn n_waiting(&self) -> usize {
        let state = self.state.lock();
        match state.phase {
            Phase::Filling => state.count,
            _ => 0,
        }
    }

    /// CPython's `wait`: enter, take an index, release or wait, exit.
    fn wait_deadline(&self, deadline: Option<Instant>) -> Result<usize, BrokenBarrier> {
        let mut state = self.enter()?;
        let index = state.count;
        state.count += 1;
        let result = if index + 1 == self.parties {
            self.release(&mut state)
        } else {
            let (relocked, result) = self.wait_released(state, deadline);
            state = relocked;
            result
        };
        state.count -= 1;
        self.exit(&mut state);
        result.map(|()| index)
    }

    /// CPython's `_enter`: wait while the previous round drains or resets.
    fn enter(&self) -> Result<MutexGuard<'_, State>, BrokenBarrier> {
        let mut state = self.state.lock();
        while matches!(state.phase, Phase::Draining | Phase::Resetting) {
            state = self.changed.wait(state);
        }
        match state.phase {
            Phase::Broken => Err(BrokenBarrier),
            _ => Ok(state),
        }
    }

    /// CPython's `_release`: the last arrival runs the action, then releases
    /// the round. A panicking action breaks the barrier instead.
    fn release(&self, state: &mut State) -> Result<(), BrokenBarrier> {
        if let Some(action) = &self.action {
            if catch_unwind(AssertUnwindSafe(action)).is_err() {
                self.break_barrier(state);
                return Err(BrokenBarrier);
            }
        }
        state.phase = Phase::Draining;
        self.changed.notify_all();
        Ok(())
    }

    /// CPython's `_wait`: sleep while filling; a timeout breaks the barrier.
    fn wait_released<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State>, Result<(), BrokenBarrier>) {
        while state.phase == Phase::Filling {
            match deadline {
                None => state = self.changed.wait(state),
                Some(deadline) => {
                    let (relocked, timed_out) = self.changed.wait_until(state, deadline);
                    state = relocked;
                    if timed_out && state.phase == Phase::Filling {
                        self.break_barrier(&mut state);
                    }
                }
            }
        }
        let result = match state.phase {
            Phase::Draining => Ok(()),
            _ => Err(BrokenBarrier),
        };
        (state, result)
    }

    /// CPython's `_exit`: the last thread to leave a drained or reset round
    /// opens the barrier for the next one.
    fn exit(&self, state: &mut State) {
        if state.count == 0 && matches!(state.phase, Phase::Draining | Phase::Resetting) {
            state.phase = Phase::Filling;
            self.changed.notify_all();
        }
    }

    /// CPython's `_break`.
    fn break_barrier(&self, state: &mut State) {
        state.phase = Phase::Broken;
        self.changed.notify_all();
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Barrier");
        out.field("parties", &self.parties);
        match self.state.try_lock() {
            Some(state) => out
                .field("phase", &state.phase)
                .field("count", &state.count),
            None => out.field("phase", &format_args!("<locked>")),
        };
        out.field("has_action", &self.action.is_some()).finish()
    }
}

/// The error of a barrier wait that was not released (Python's
/// `BrokenBarrierError`): the barrier was aborted or reset, a wait timed out,
/// or the action panicked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrokenBarrier;

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "barrier broken: it was aborted or reset, a wait timed out, or its action panicked; \
             call reset() to use it again",
        )
    }
}

impl Error for BrokenBarrier {}

/// The error of [`Barrier::try_new`] with 0 parties (Python's `ValueError`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZeroParties;

impl fmt::Display for ZeroParties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a barrier needs at least 1 party (0 would never release anyone); pass parties >= 1",
        )
    }
}

impl Error for ZeroParties {}
