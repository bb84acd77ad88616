//! Daemon threads and the wait at the end of `main`: Python's interpreter
//! exit (exam question 10).
//!
//! In Python, when the main thread's code ends, the interpreter *joins
//! every non-daemon thread* (`threading._shutdown`), then exits, killing the
//! daemon threads wherever they are. In Rust, returning from `main` exits the
//! process at once: every thread behaves like a Python daemon. So:
//!
//! | Python | synclings |
//! |---|---|
//! | `Thread(daemon=True)` / `t.daemon = True` before `start()` | [`Builder::daemon(true)`](super::Builder::daemon) |
//! | the default: inherited from the creating thread (the main thread is not a daemon) | the same: a thread started through [`synclings::thread`](super) inherits its creator's flag |
//! | `current_thread().daemon` | [`is_daemon()`] |
//! | the implicit join of non-daemon threads at exit | [`join_non_daemon()`] at the end of `main`, or [`exit_guard()`] at its start |
//!
//! Only threads started through [`synclings::thread`](super) are counted
//! (a `std::thread::spawn`ed thread is neither: nothing waits for it). The
//! workers of a [`ThreadPool`](super::ThreadPool) are non-daemon threads:
//! shut the pool down (or drop it) before the wait, as Python's exit waits
//! for its executors.
//!
//! The count lives in a `std` `Mutex` + `Condvar` (process-wide
//! bookkeeping, like [`active_count`](super::active_count)): it is not
//! modelled by loom.
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use synclings::thread;
//!
//! let wrote = Arc::new(AtomicBool::new(false));
//! let w = Arc::clone(&wrote);
//! // A non-daemon thread (the default, inherited from main).
//! thread::spawn(move || w.store(true, Ordering::SeqCst)).unwrap();
//! // A daemon: nobody waits for it.
//! thread::Builder::new().daemon(true).spawn(|| loop { std::thread::park() }).unwrap();
//! // What Python does when main's code ends:
//! thread::join_non_daemon();
//! assert!(wrote.load(Ordering::SeqCst));
//! ```

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Live non-daemon threads started through this module.
static NON_DAEMON: Mutex<usize> = Mutex::new(0);
/// Notified when [`NON_DAEMON`] falls to zero.
static ALL_ENDED: Condvar = Condvar::new();

thread_local! {
    /// The calling thread's daemon flag (false on the main thread and on
    /// threads this module did not start).
    static DAEMON: Cell<bool> = const { Cell::new(false) };
}

/// True if the calling thread is a daemon thread (Python's
/// `current_thread().daemon`).
pub fn is_daemon() -> bool {
    DAEMON.with(Cell::get)
}

/// The number of live non-daemon threads started through this module.
pub fn non_daemon_count() -> usize {
    *NON_DAEMON.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until every non-daemon thread started through this module has
/// ended: what Python's interpreter does when the main thread's code ends.
/// Call it last in `main` (or use [`exit_guard`]).
///
/// A thread that starts while this waits is waited for too. Called from a
/// non-daemon thread, it would wait for itself: it waits for the others
/// only.
pub fn join_non_daemon() {
    join_until(None);
}

/// [`join_non_daemon`], at most `timeout`: true if every non-daemon thread
/// ended.
pub fn join_non_daemon_timeout(timeout: Duration) -> bool {
    join_until(Some(Instant::now() + timeout))
}

fn join_until(deadline: Option<Instant>) -> bool {
    // A counted caller waits for the others, not for itself.
    let me = usize::from(COUNTED.with(Cell::get));
    let mut live = NON_DAEMON.lock().unwrap_or_else(|e| e.into_inner());
    while *live > me {
        live = match deadline {
            None => ALL_ENDED.wait(live).unwrap_or_else(|e| e.into_inner()),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                ALL_ENDED
                    .wait_timeout(live, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
    true
}

thread_local! {
    /// True on a thread counted in [`NON_DAEMON`].
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Calls [`join_non_daemon`] when dropped: `let _exit = thread::exit_guard();`
/// first thing in `main` gives it Python's exit, also when `main` returns
/// early with `?`. (A panic in `main` skips the wait while unwinding, so
/// that a failing program does not hang.)
#[must_use = "the wait happens when the guard is dropped: bind it with `let _exit = ...`"]
#[derive(Debug)]
pub struct ExitGuard(());

/// See [`ExitGuard`].
pub fn exit_guard() -> ExitGuard {
    ExitGuard(())
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            join_non_daemon();
        }
    }
}

/// A thread's daemon flag and, for a non-daemon thread, its place in the
/// count: made by the spawner (so that a wait that starts right after
/// `spawn` returns sees the thread), moved into the thread, dropped when its
/// closure returns or unwinds.
pub(super) struct Membership {
    daemon: bool,
}

impl Membership {
    /// For a thread about to start; `daemon`: `None` inherits the calling
    /// thread's flag, as in Python.
    pub(super) fn enter(daemon: Option<bool>) -> Membership {
        let daemon = daemon.unwrap_or_else(is_daemon);
        if !daemon {
            *NON_DAEMON.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        Membership { daemon }
    }

    /// In the new thread, before its closure runs.
    pub(super) fn start(&self) {
        DAEMON.with(|d| d.set(self.daemon));
        COUNTED.with(|c| c.set(!self.daemon));
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if !self.daemon {
            let mut live = NON_DAEMON.lock().unwrap_or_else(|e| e.into_inner());
            *live -= 1;
            ALL_ENDED.notify_all();
        }
    }
}
