//! # Exercise 10 — build `Timer` with cancel
//!
//! **What to build.** "Say hello after a delay, without sleeping in the
//! caller": `Timer::new(interval, callback)` does nothing yet; `start()`
//! spawns the timer's own thread and returns at once; that thread waits
//! `interval` and calls `callback` once, unless `cancel()` came first, in
//! which case the callback never runs. `cancel()` after the callback began
//! (or ran) is harmless; `cancel()` before `start()` means the started timer
//! finishes without running it. `join()` waits until the timer thread is
//! done; `is_finished()` says whether it is. Python raises `RuntimeError`
//! for a second `start()` and for `join()` before `start()`: here they
//! return `Err(TimerError::AlreadyStarted)` and `Err(TimerError::NotStarted)`
//! (the library's error type, `synclings::TimerError`).
//!
//! **The Python it mirrors** (seed program 6: "print Hello, World! 30 s
//! after the program starts, without `time.sleep()`"):
//!
//! ```python
//! from threading import Timer
//! def hello(name):
//!     print('%s say ' % name, 'Hello World!')
//! if __name__ == '__main__':
//!     t = Timer(5, hello, args=('alex',))
//!     t.start()
//! ```
//!
//! CPython's `Timer` is a `Thread` whose `run` does
//! `self.finished.wait(self.interval)` and calls the function only if
//! `finished` was not set meanwhile; `cancel()` sets `finished`.
//!
//! **Build it from** `synclings::sync::{Mutex, Condvar, Arc}` and spawn the
//! thread with `synclings::sync::thread` (so loom sees it). Compute the
//! deadline once, in `start`, and leave the timed wait when `wait_until`
//! reports `timed_out`. Run the callback outside your lock.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin timer` runs the suite against your code;
//! - `RUSTFLAGS="--cfg loom" cargo test -p exercises --bin timer --release`
//!   lets loom race `cancel` against the timer firing;
//! - `cargo run -p exercises --bin timer` runs the `main` below.
//! - Stuck? `cargo run -- hint timer`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::sync::thread::{self, JoinHandle, ThreadId};
use synclings::sync::{Arc, Condvar, Duration, Instant, Mutex};
use synclings::TimerError;

/// A callback run once on its own thread after an interval, unless cancelled
/// first: Python's `threading.Timer`.
pub struct Timer {
    // TODO: the interval, and an `Arc` of what the timer thread shares with
    // you: a `Mutex` around the state (started? cancelled? finished? the
    // callback until someone takes it, the thread's `JoinHandle`) and a
    // `Condvar` for the timer thread (waiting for a cancel) and for joiners
    // (waiting for the finish).
}

impl Timer {
    /// A timer that will call `callback` once, `interval` after `start`.
    pub fn new(interval: Duration, callback: impl FnOnce() + Send + 'static) -> Self {
        // TODO: box the callback: `Box<dyn FnOnce() + Send + 'static>`.
        todo!()
    }

    /// Starts the timer thread and returns at once;
    /// `Err(TimerError::AlreadyStarted)` on a second call.
    pub fn start(&self) -> Result<(), TimerError> {
        // TODO: the thread sleeps until the deadline or a cancel; then it
        // takes the callback under the lock (the commit point: a cancel
        // before it wins), runs it outside the lock (or drops it), marks
        // the timer finished and wakes every joiner.
        todo!()
    }

    /// Stops the timer if its callback has not begun; harmless otherwise.
    pub fn cancel(&self) {
        todo!()
    }

    /// Waits until the timer thread is done;
    /// `Err(TimerError::NotStarted)` before `start`.
    pub fn join(&self) -> Result<(), TimerError> {
        todo!()
    }

    /// True once the timer thread is done.
    pub fn is_finished(&self) -> bool {
        todo!()
    }
}

fn main() {
    let t = Timer::new(Duration::from_millis(500), || {
        println!("alex say  Hello World!")
    });
    t.start().expect("a new timer starts");
    println!("started; main is free to do other work");
    t.join().expect("the callback did not panic");
}

#[cfg(test)]
synclings_suites::timer_suite!(crate::Timer);
