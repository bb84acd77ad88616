//! [`Timer`]: run a callback once, on its own thread, after an interval —
//! Python's `threading.Timer`.
//!
//! What it mirrors from Python:
//!
//! - `Timer(interval, function)` is [`Timer::new`]; arguments are captured by
//!   the closure. The interval counts from [`start`](Timer::start).
//! - One thread per started timer, named `"timer"`. Use a
//!   [`Scheduler`](crate::Scheduler) to run many timers on one thread.
//! - `start()` a second time raises `RuntimeError` ("threads can only be
//!   started once") in Python; here it returns [`TimerError::AlreadyStarted`].
//! - `cancel()` before the interval ends means the callback never runs; after
//!   it ran (or while it runs) `cancel` is harmless; `cancel()` before
//!   `start()` makes the started timer finish without running it.
//! - `join()` before `start()` raises `RuntimeError`; here it returns
//!   [`TimerError::NotStarted`].
//!
//! Where it differs: a panicking callback is caught on the timer thread (the
//! panic hook prints it, as Python's `threading.excepthook` prints the
//! traceback) and [`join`](Timer::join) reports it as
//! [`TimerError::Panicked`] with the panic message. Dropping a `Timer` neither
//! cancels nor joins it: like a dropped `JoinHandle` (and like Python's thread,
//! which outlives its last reference) the callback still runs.
//!
//! # States
//!
//! ```text
//!  Idle ──start──▶ Waiting ──deadline──▶ Running ──callback returns──▶ Finished { panicked }
//!   │                 │                                                    ▲
//!   └────cancel───────┴─────▶ Cancelled ──timer thread sees it (after start)┘
//! ```
//!
//! The timer thread sleeps on a condition variable until the deadline or a
//! cancel; it marks `Running` under the lock and calls the callback *outside*
//! it, so `cancel`, `is_finished` and `join` never wait for the callback.
//!
//! # Examples
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use synclings::Timer;
//!
//! let (tx, rx) = mpsc::channel();
//! let timer = Timer::new(Duration::from_millis(10), move || tx.send("fired").unwrap());
//! timer.start().expect("a new timer starts");
//! timer.join().expect("the callback did not panic");
//! assert_eq!(rx.recv().unwrap(), "fired");
//!
//! // Cancelled in time: the callback never runs.
//! let timer = Timer::new(Duration::from_secs(3600), || unreachable!());
//! timer.start().unwrap();
//! timer.cancel();
//! timer.join().unwrap();
//! assert!(timer.is_cancelled());
//! ```

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::thread::{self, JoinHandle, ThreadId};
use crate::sync::{Arc, Condvar, Duration, Instant, Mutex};

/// The callback, boxed so that `Timer` is one type whatever closure it runs.
type Callback = Box<dyn FnOnce() + Send + 'static>;

/// A callback run once on its own thread after an interval, unless cancelled
/// first (Python's `threading.Timer`). See the [module docs](self).
pub struct Timer {
    /// How long the timer thread waits, counted from `start`.
    interval: Duration,
    /// Shared with the timer thread.
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// The timer thread waits here for a cancel (only it waits: notify one).
    cancel_requested: Condvar,
    /// Joiners wait here for `Finished` (any number of them: notify all).
    finished: Condvar,
}

struct State {
    /// Where the timer is in its life (see the module docs' diagram).
    phase: Phase,
    /// True once `start` succeeded: a second `start` is an error, and so is
    /// `join` before it.
    started: bool,
    /// True iff `cancel` came before the callback began: it never runs.
    /// Invariant: `cancelled` ⇔ the phase is or went through `Cancelled`.
    cancelled: bool,
    /// The callback until the timer thread takes it (to run it) or `cancel`
    /// takes it (to drop it); `None` afterwards.
    callback: Option<Callback>,
    /// The timer thread, taken by the first `join` to reap it.
    thread: Option<JoinHandle<()>>,
    /// The timer thread's id (after `start`): joining from the callback would
    /// wait for itself.
    thread_id: Option<ThreadId>,
}

/// The timer's life; only the timer thread moves to `Running` and `Finished`.
enum Phase {
    /// Created, not started, not cancelled.
    Idle,
    /// Started: the timer thread sleeps until the deadline or a cancel.
    Waiting,
    /// Cancelled before the callback began; the timer thread (if started)
    /// moves it to `Finished` and exits.
    Cancelled,
    /// The deadline passed: the callback runs now (cancel is a no-op).
    Running,
    /// The timer thread is done: the callback returned, panicked (with this
    /// message) or was cancelled.
    Finished { panicked: Option<String> },
}

impl Timer {
    /// A timer that will call `callback` once, `interval` after
    /// [`start`](Self::start). Nothing happens until it is started.
    ///
    /// An interval too large to add to the clock means "never": the timer
    /// waits until it is cancelled.
    pub fn new(interval: Duration, callback: impl FnOnce() + Send + 'static) -> Self {
        let state = State {
            phase: Phase::Idle,
            started: false,
            cancelled: false,
            callback: Some(Box::new(callback)),
            thread: None,
            thread_id: None,
        };
        Timer {
            interval,
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                cancel_requested: Condvar::new(),
                finished: Condvar::new(),
            }),
        }
    }

    /// The interval given to [`new`](Self::new) (Python's `timer.interval`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Starts the timer thread; the callback runs `interval` from now unless
    /// [`cancel`](Self::cancel) comes first.
    ///
    /// Returns [`TimerError::AlreadyStarted`] on a second call (Python raises
    /// `RuntimeError`), and [`TimerError::Spawn`] if the system refused a new
    /// thread (then nothing changed and `start` may be retried). A timer
    /// cancelled before `start` starts, and finishes at once.
    #[must_use = "starting can fail: a timer can be started only once"]
    pub fn start(&self) -> Result<(), TimerError> {
        let mut state = self.inner.state.lock();
        if state.started {
            return Err(TimerError::AlreadyStarted);
        }
        // The deadline is computed once; overflow means "no deadline".
        let deadline = Instant::now().checked_add(self.interval);
        let inner = Arc::clone(&self.inner);
        let handle = thread::Builder::new()
            .name("timer".to_owned())
            .spawn(move || run(&inner, deadline))
            .map_err(TimerError::Spawn)?;
        state.started = true;
        state.thread_id = Some(handle.thread().id());
        state.thread = Some(handle);
        if let Phase::Idle = state.phase {
            state.phase = Phase::Waiting;
        }
        Ok(())
    }

    /// Stops the timer if its callback has not begun: it will never run.
    /// Harmless after the callback ran or while it runs (like Python, this
    /// returns nothing; [`is_cancelled`](Self::is_cancelled) tells which
    /// happened).
    pub fn cancel(&self) {
        let mut state = self.inner.state.lock();
        let callback = match state.phase {
            // Not started: nobody else will drop the callback soon; do it now.
            Phase::Idle => state.callback.take(),
            Phase::Waiting => {
                self.inner.cancel_requested.notify_one();
                None
            }
            Phase::Cancelled | Phase::Running | Phase::Finished { .. } => return,
        };
        state.phase = Phase::Cancelled;
        state.cancelled = true;
        drop(state);
        // Outside the lock: the closure's destructor may do anything.
        drop_quietly(callback);
    }

    /// Waits until the timer thread is done: the callback returned or
    /// panicked, or the timer was cancelled.
    ///
    /// Errors: [`TimerError::NotStarted`] before [`start`](Self::start),
    /// [`TimerError::Panicked`] (every time) if the callback panicked, and
    /// [`TimerError::JoinFromCallback`] when called by the callback itself
    /// (it would wait for itself forever).
    pub fn join(&self) -> Result<(), TimerError> {
        self.join_until(None)
            .expect("a join without deadline returns only when finished")
    }

    /// Like [`join`](Self::join), giving up after `timeout`: `None` if the
    /// timer thread is still not done, else `Some` of what `join` returns.
    pub fn join_timeout(&self, timeout: Duration) -> Option<Result<(), TimerError>> {
        self.join_until(Instant::now().checked_add(timeout))
    }

    /// True once the timer thread is done (the callback returned or panicked,
    /// or the timer was cancelled): [`join`](Self::join) will not block.
    /// False before `start`.
    pub fn is_finished(&self) -> bool {
        matches!(self.inner.state.lock().phase, Phase::Finished { .. })
    }

    /// True iff [`cancel`](Self::cancel) came before the callback began: it
    /// has not run and never will.
    pub fn is_cancelled(&self) -> bool {
        self.inner.state.lock().cancelled
    }

    /// The join, with an optional deadline (`None`: wait as long as it takes).
    fn join_until(&self, deadline: Option<Instant>) -> Option<Result<(), TimerError>> {
        let mut state = self.inner.state.lock();
        if !state.started {
            return Some(Err(TimerError::NotStarted));
        }
        if state.thread_id == Some(thread::current().id()) {
            return Some(Err(TimerError::JoinFromCallback));
        }
        // The wait loop: until the timer thread marks `Finished`.
        while !matches!(state.phase, Phase::Finished { .. }) {
            match deadline {
                None => state = self.inner.finished.wait(state),
                Some(deadline) => {
                    let (guard, timed_out) = self.inner.finished.wait_until(state, deadline);
                    state = guard;
                    if timed_out && !matches!(state.phase, Phase::Finished { .. }) {
                        return None;
                    }
                }
            }
        }
        let result = match &state.phase {
            Phase::Finished {
                panicked: Some(message),
            } => Err(TimerError::Panicked(message.clone())),
            _ => Ok(()),
        };
        let handle = state.thread.take();
        drop(state);
        if let Some(handle) = handle {
            // The thread is past its last lock and only exits now. It cannot
            // have panicked: everything it runs is under `catch_unwind`.
            let _ = handle.join();
        }
        Some(result)
    }
}

/// The timer thread: sleep until the deadline or a cancel, then run the
/// callback (outside the lock) or drop it.
fn run(inner: &Inner, deadline: Option<Instant>) {
    let mut state = inner.state.lock();
    // The wait loop: leave on cancel, or as soon as the wait times out.
    while let Phase::Waiting = state.phase {
        match deadline {
            None => state = inner.cancel_requested.wait(state),
            Some(deadline) => {
                let (guard, timed_out) = inner.cancel_requested.wait_until(state, deadline);
                state = guard;
                if timed_out {
                    break;
                }
            }
        }
    }
    // Re-check once after the timeout: a cancel may have slipped in.
    let callback = state.callback.take();
    let panicked = if let Phase::Cancelled = state.phase {
        drop(state);
        drop_quietly(callback);
        None
    } else {
        state.phase = Phase::Running;
        drop(state);
        let callback = callback.expect("only this thread takes the callback of a started timer");
        panic::catch_unwind(AssertUnwindSafe(callback))
            .err()
            .map(panic_message)
    };
    // The wake rule: every joiner waits for `Finished`, so wake them all.
    inner.state.lock().phase = Phase::Finished { panicked };
    inner.finished.notify_all();
}

/// Drops a callback that will not run; a panicking destructor must not take
/// down the timer thread (joiners would wait forever).
fn drop_quietly(callback: Option<Callback>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(callback)));
}

/// The message of a panic payload, as the default panic hook prints it.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("Timer")
            .field("interval", &self.interval)
            .field("state", &state.phase)
            .field("started", &state.started)
            .finish()
    }
}

impl fmt::Debug for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Idle => f.write_str("Idle"),
            Phase::Waiting => f.write_str("Waiting"),
            Phase::Cancelled => f.write_str("Cancelled"),
            Phase::Running => f.write_str("Running"),
            Phase::Finished { panicked } => f
                .debug_struct("Finished")
                .field("panicked", panicked)
                .finish(),
        }
    }
}

/// What can go wrong with a [`Timer`] (Python raises `RuntimeError`).
#[derive(Debug)]
#[non_exhaustive]
pub enum TimerError {
    /// [`Timer::start`] was called on a timer that was already started.
    AlreadyStarted,
    /// [`Timer::join`] was called before [`Timer::start`].
    NotStarted,
    /// The callback panicked; this is the panic message.
    Panicked(String),
    /// The callback called [`Timer::join`] on its own timer.
    JoinFromCallback,
    /// The system could not spawn the timer thread.
    Spawn(std::io::Error),
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::AlreadyStarted => f.write_str(
                "the timer was already started: a timer runs once; create a new Timer to run the callback again",
            ),
            TimerError::NotStarted => {
                f.write_str("the timer was not started: call start() before join()")
            }
            TimerError::Panicked(message) => write!(
                f,
                "the timer's callback panicked: {message} (catch the error inside the callback to recover)"
            ),
            TimerError::JoinFromCallback => f.write_str(
                "a timer's callback tried to join its own timer, which would wait forever: join from another thread",
            ),
            TimerError::Spawn(error) => write!(
                f,
                "could not spawn the timer thread: {error} (too many threads? retry start() later)"
            ),
        }
    }
}

impl std::error::Error for TimerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TimerError::Spawn(error) => Some(error),
            _ => None,
        }
    }
}
