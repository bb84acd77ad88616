//! Threads the way Python's `threading` module sees them: names, a count of
//! the live threads, thread-local data, and a thread pool
//! ([`ThreadPool`], Python's `concurrent.futures.ThreadPoolExecutor`).
//!
//! | Python | synclings |
//! |---|---|
//! | `Thread(target=f, name=n).start()` | [`spawn_named(n, f)`](spawn_named) (or [`Builder`]) |
//! | `Thread(target=f).start()` (named `Thread-N`) | [`spawn(f)`](spawn) |
//! | `current_thread().name` | [`current_name()`] (`"MainThread"` on the main thread) |
//! | `active_count()` | [`active_count()`]: threads started through this module, plus the main thread |
//! | `threading.local()` | `thread_local!` (see below) |
//! | `Thread(daemon=True)`, `current_thread().daemon` | [`Builder::daemon`], [`is_daemon()`] |
//! | the interpreter joining the non-daemon threads at exit | [`join_non_daemon()`] or [`exit_guard()`] (see [`daemon`](mod@daemon)) |
//! | `ThreadPoolExecutor(max_workers)` | [`ThreadPool::new(workers, backlog)`](ThreadPool::new) |
//!
//! The thread count and the `Thread-N` numbering are process-wide
//! `std::sync::atomic` statics: they are not modelled by loom (they are
//! statistics, never used to synchronise anything).
//!
//! # Examples
//!
//! Ten threads started and joined, as in Python's `for i in range(10):
//! Thread(target=task, args=(i,)).start()`:
//!
//! ```
//! use synclings::thread;
//!
//! // This example runs as a program's `main`: Python's name for it.
//! assert_eq!(thread::current_name(), "MainThread");
//! let handles: Vec<_> = (0..10)
//!     .map(|i| thread::spawn(move || format!("{}: {i}", thread::current_name())).unwrap())
//!     .collect();
//! for handle in handles {
//!     let line = handle.join().unwrap();
//!     assert!(line.starts_with("Thread-"), "{line}");
//! }
//! let worker = thread::spawn_named("worker", thread::current_name).unwrap();
//! assert_eq!(worker.join().unwrap(), "worker");
//! ```
//!
//! # Thread-local data: Python's `threading.local()`
//!
//! Rust's `thread_local!` gives every thread its own copy of a value, which
//! is what an attribute of a `threading.local()` object is. Each of ten
//! threads stores its own `name` and reads back its own, never another's:
//!
//! ```
//! use std::cell::RefCell;
//! use synclings::thread;
//!
//! thread_local! {
//!     // Python: `local = threading.local()`, then `local.name = ...`.
//!     static NAME: RefCell<String> = const { RefCell::new(String::new()) };
//! }
//!
//! let handles: Vec<_> = (0..10)
//!     .map(|i| {
//!         thread::spawn(move || {
//!             NAME.with(|name| *name.borrow_mut() = format!("alex_{i}"));
//!             std::thread::yield_now(); // let the others write theirs
//!             NAME.with(|name| name.borrow().clone())
//!         })
//!         .unwrap()
//!     })
//!     .collect();
//! for (i, handle) in handles.into_iter().enumerate() {
//!     assert_eq!(handle.join().unwrap(), format!("alex_{i}"));
//! }
//! // This thread never set its own: it still sees the initial value.
//! NAME.with(|name| assert_eq!(*name.borrow(), ""));
//! ```

use std::io;
// Relaxed: the counters are statistics; no other memory is published
// through them (a thread's exit is published by `join`, not by the count).
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use crate::sync::thread as facade;

pub mod daemon;
mod pool;

pub use crate::sync::thread::JoinHandle;
pub use daemon::{
    exit_guard, is_daemon, join_non_daemon, join_non_daemon_timeout, non_daemon_count, ExitGuard,
};
pub use pool::{SubmitError, TaskError, TaskHandle, ThreadPool, ThreadPoolError, TrySubmitError};

/// Live threads started through this module (the main thread not included).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The `N` of the next unnamed thread's `Thread-N`; starts at 1, as in Python.
static NEXT_NUMBER: AtomicUsize = AtomicUsize::new(1);

/// Counts one live thread while it exists: created by the spawner (so the
/// count rises as soon as `spawn` returns, like Python's `start()`), dropped
/// when the thread's closure returns or unwinds (or when spawning failed).
struct Active;

impl Active {
    fn enter() -> Active {
        ACTIVE.fetch_add(1, Relaxed);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Relaxed);
    }
}

/// Thread configuration: a name and a stack size, like
/// `std::thread::Builder`, but counted by [`active_count`] and numbered
/// `Thread-N` when unnamed.
#[derive(Debug, Default)]
pub struct Builder {
    /// The thread's name; `None` means "the next `Thread-N`".
    name: Option<String>,
    /// The stack size in bytes; `None` means the platform default.
    stack_size: Option<usize>,
    /// `None`: inherited from the spawning thread, as in Python.
    daemon: Option<bool>,
}

impl Builder {
    /// A builder for an unnamed thread with the default stack size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the thread (Python's `Thread(name=...)`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the stack size in bytes (Python's `threading.stack_size`).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Python's `daemon=True`: nothing waits for this thread at exit (see
    /// [`join_non_daemon`]). Unset, the flag is the spawning thread's, as
    /// in Python (the main thread is not a daemon).
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = Some(daemon);
        self
    }

    /// Starts the thread running `f`.
    ///
    /// Fails if the name contains a NUL byte or if the operating system
    /// refuses a new thread (Python's `RuntimeError: can't start new
    /// thread`).
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let name = match self.name {
            Some(name) if name.contains('\0') => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a thread name must not contain a NUL byte: remove it",
                ));
            }
            Some(name) => name,
            None => format!("Thread-{}", NEXT_NUMBER.fetch_add(1, Relaxed)),
        };
        let mut builder = facade::Builder::new().name(name);
        if let Some(bytes) = self.stack_size {
            builder = builder.stack_size(bytes);
        }
        let active = Active::enter();
        let membership = daemon::Membership::enter(self.daemon);
        builder.spawn(move || {
            let _active = active;
            membership.start();
            let _membership = membership;
            f()
        })
    }
}

/// Starts a thread named `Thread-N` (numbered from 1 across the process, as
/// Python numbers its unnamed threads) running `f`.
pub fn spawn<F, T>(f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f)
}

/// Starts a thread named `name` running `f`.
pub fn spawn_named<F, T>(name: impl Into<String>, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().name(name).spawn(f)
}

/// The calling thread's name (Python's `current_thread().name`).
///
/// `"MainThread"` on the main thread (the one Rust names `"main"`); the name
/// it was spawned with for threads started through this module (or named
/// through `std::thread::Builder`); `"Dummy-N"` for an unnamed thread
/// started elsewhere, `N` being its `ThreadId` number.
pub fn current_name() -> String {
    let current = facade::current();
    match current.name() {
        Some("main") => "MainThread".to_owned(),
        Some(name) => name.to_owned(),
        None => {
            let id = format!("{:?}", current.id());
            let number: String = id.chars().filter(char::is_ascii_digit).collect();
            format!("Dummy-{number}")
        }
    }
}

/// The number of live threads started through this module, plus one for
/// the main thread (Python's `threading.active_count()`).
///
/// A thread counts from the moment its spawn returns until its closure
/// returns or panics.
pub fn active_count() -> usize {
    ACTIVE.load(Relaxed) + 1
}
