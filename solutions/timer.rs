//! # Solution 10 — `Timer` with cancel
//!
//! The teaching version: one mutex, one condvar, one thread per timer. (The
//! library's `synclings::Timer` tracks an explicit state machine and adds
//! `join_timeout`; both pass the same suite.)
//!
//! - State, under one mutex: `started`, `cancelled` (a cancel came before
//!   the callback began), `finished` (the timer thread is done), the
//!   callback until someone takes it, and the thread's handle.
//! - The commit point: the timer thread takes the callback out of the state
//!   with the lock held. Before that, `cancel` wins (the callback never
//!   runs); after it, `cancel` is a no-op.
//! - Wait loops: the timer thread sleeps until the deadline or a cancel
//!   (deadline computed once, in `start`; it leaves on `timed_out`); joiners
//!   sleep until `finished`.
//! - Wake rule: every change (`cancel`, `finished`) notifies ALL: the timer
//!   thread and any number of joiners share the condvar.
//! - The callback runs outside the lock, so `cancel`, `is_finished` and
//!   `join` never wait for it; a panic in it is caught and reported by
//!   `join`.
//!
//! `cargo run -p solutions --bin timer` prints what seed program 6 prints:
//! "alex say  Hello World!", after a delay, without sleeping in `main`.

use std::panic::{self, AssertUnwindSafe};

use synclings::sync::thread::{self, JoinHandle, ThreadId};
use synclings::sync::{Arc, Condvar, Duration, Instant, Mutex};
use synclings::TimerError;

type Callback = Box<dyn FnOnce() + Send + 'static>;

/// A callback run once on its own thread after an interval, unless cancelled
/// first: Python's `threading.Timer`.
pub struct Timer {
    interval: Duration,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Notified (all) on a cancel and when the timer thread finishes.
    changed: Condvar,
}

struct State {
    /// `start` succeeded once (a timer runs once).
    started: bool,
    /// A cancel came before the callback began: it never runs.
    cancelled: bool,
    /// The timer thread is done (ran the callback, or dropped it).
    finished: bool,
    /// The callback's panic message, if it panicked.
    panicked: Option<String>,
    /// The callback, until the timer thread (or a cancel) takes it.
    callback: Option<Callback>,
    /// The timer thread, until a joiner reaps it.
    thread: Option<JoinHandle<()>>,
    /// The timer thread's id: the callback must not join its own timer.
    thread_id: Option<ThreadId>,
}

impl Timer {
    /// A timer that will call `callback` once, `interval` after `start`.
    pub fn new(interval: Duration, callback: impl FnOnce() + Send + 'static) -> Self {
        let state = State {
            started: false,
            cancelled: false,
            finished: false,
            panicked: None,
            callback: Some(Box::new(callback)),
            thread: None,
            thread_id: None,
        };
        Timer {
            interval,
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                changed: Condvar::new(),
            }),
        }
    }

    /// Starts the timer thread; returns at once. A second call is
    /// `TimerError::AlreadyStarted`.
    pub fn start(&self) -> Result<(), TimerError> {
        let mut state = self.shared.state.lock();
        if state.started {
            return Err(TimerError::AlreadyStarted);
        }
        // Computed once; an interval too large to add means "never".
        let deadline = Instant::now().checked_add(self.interval);
        let shared = Arc::clone(&self.shared);
        let handle = thread::Builder::new()
            .name("timer".to_owned())
            .spawn(move || run(&shared, deadline))
            .map_err(TimerError::Spawn)?;
        state.started = true;
        state.thread_id = Some(handle.thread().id());
        state.thread = Some(handle);
        Ok(())
    }

    /// Stops the timer if its callback has not begun; harmless otherwise.
    pub fn cancel(&self) {
        let mut state = self.shared.state.lock();
        if state.callback.is_none() {
            return; // already running, ran, or cancelled
        }
        state.cancelled = true;
        // Not started: drop the callback now (nobody else will).
        let dropped = if state.started {
            None
        } else {
            state.callback.take()
        };
        self.shared.changed.notify_all();
        drop(state);
        // Outside the lock: a closure's destructor may do anything.
        drop(dropped);
    }

    /// Waits until the timer thread is done. `TimerError::NotStarted` before
    /// `start`; `TimerError::Panicked` if the callback panicked.
    pub fn join(&self) -> Result<(), TimerError> {
        let mut state = self.shared.state.lock();
        if !state.started {
            return Err(TimerError::NotStarted);
        }
        if state.thread_id == Some(thread::current().id()) {
            return Err(TimerError::JoinFromCallback);
        }
        while !state.finished {
            state = self.shared.changed.wait(state);
        }
        let result = match &state.panicked {
            Some(message) => Err(TimerError::Panicked(message.clone())),
            None => Ok(()),
        };
        let handle = state.thread.take();
        drop(state);
        if let Some(handle) = handle {
            // The thread is past its last lock: this returns at once.
            let _ = handle.join();
        }
        result
    }

    /// True once the timer thread is done: `join` will not block.
    pub fn is_finished(&self) -> bool {
        self.shared.state.lock().finished
    }
}

/// The timer thread: sleep until the deadline or a cancel, then run the
/// callback (outside the lock) or drop it.
fn run(shared: &Shared, deadline: Option<Instant>) {
    let mut state = shared.state.lock();
    while !state.cancelled {
        match deadline {
            None => state = shared.changed.wait(state),
            Some(deadline) => {
                let (s, timed_out) = shared.changed.wait_until(state, deadline);
                state = s;
                if timed_out {
                    break;
                }
            }
        }
    }
    // The commit point: whoever takes the callback decides.
    let callback = state.callback.take();
    let cancelled = state.cancelled;
    drop(state);
    let panicked = match callback {
        Some(callback) if !cancelled => panic::catch_unwind(AssertUnwindSafe(callback))
            .err()
            .map(|payload| panic_message(&*payload)),
        // Cancelled: drop it (a panicking destructor must not kill us).
        dropped => {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(dropped)));
            None
        }
    };
    let mut state = shared.state.lock();
    state.finished = true;
    state.panicked = panicked;
    shared.changed.notify_all();
}

/// The message of a panic payload, as the panic hook prints it.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

fn hello(name: &str) {
    println!("{name} say  Hello World!");
}

fn main() {
    // Seed program 6: `Timer(5, hello, args=('alex',)).start()`; here half a
    // second. `main` does not sleep: the timer's own thread waits.
    let t = Timer::new(Duration::from_millis(500), || hello("alex"));
    t.start().expect("a new timer starts");
    t.join().expect("hello did not panic");
}

#[cfg(test)]
synclings_suites::timer_suite!(crate::Timer);
