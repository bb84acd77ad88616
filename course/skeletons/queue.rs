//! # Exercise 11 — build `Queue<T>`
//!
//! **What to build.** Python's `queue.Queue`: a first-in, first-out queue
//! that threads share, bounded by `maxsize` (0 means unbounded).
//!
//! - `put` blocks while the queue is full, `get` while it is empty;
//!   `put_timeout`/`get_timeout` give up after a while (`queue.Full` /
//!   `queue.Empty`), `try_put`/`try_get` never block (`put_nowait` /
//!   `get_nowait`). A failed put hands its item back inside the error.
//! - `task_done` marks one item taken with `get` as processed; `join` blocks
//!   until every item ever put was marked done. Calling `task_done` more
//!   times than items were put is an error.
//! - `shutdown(immediate)` (Python 3.13): from then on every put fails with
//!   `ShutDown`, gets drain the remaining items and then fail with
//!   `ShutDown`, and every blocked putter and getter wakes up to see it.
//!   `ShutDown` wins over `Full` and `Empty`. With `immediate`, the remaining
//!   items are dropped at once, each counting as done (which may release
//!   `join`).
//!
//! Build it the way CPython does: ONE `Mutex` around the state, and Python's
//! own three conditions on that same mutex: `not_empty` (getters sleep on
//! it), `not_full` (putters) and `all_tasks_done` (`join`). The errors are
//! the library's: `synclings::{PutError, GetError, TaskDoneError}`.
//!
//! **The Python it mirrors** (exam question 32):
//!
//! ```python
//! q = Queue(3)    # FIFO
//! q.put()
//! q.put_nowait()  # never blocks: raises queue.Full when the queue is full
//! q.get()
//! q.get_nowait()  # never blocks: raises queue.Empty when the queue is empty
//! ```
//!
//! **Build it from** `synclings::sync::{Mutex, Condvar}` (the course's
//! facade: `lock()`, `Condvar::wait(guard) -> guard`,
//! `Condvar::wait_until(guard, deadline) -> (guard, timed_out)`,
//! `notify_one()`, `notify_all()`). Three `Condvar`s may share one `Mutex`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin queue` runs the suite against your code
//!   (it mirrors CPython's `test_queue`);
//! - `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 cargo test -p exercises --bin queue --release`
//!   lets loom hunt for lost wake-ups in every interleaving;
//! - `cargo run -p exercises --bin queue` runs the `main` below.
//! - Stuck? `cargo run -- hint queue`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::collections::VecDeque;

use synclings::sync::{Condvar, Duration, Instant, Mutex, MutexGuard};
use synclings::{GetError, PutError, TaskDoneError};

/// A first-in, first-out queue: Python's `queue.Queue`.
pub struct Queue<T> {
    /// Everything that changes, behind the one lock.
    state: Mutex<State<T>>,
    // TODO: Python's three conditions, all used with `state`'s mutex:
    // `not_empty`, `not_full`, `all_tasks_done`. And the `maxsize`.
}

/// What the mutex protects.
struct State<T> {
    /// The items, oldest first.
    items: VecDeque<T>,
    // TODO: Python's `unfinished_tasks` (puts not yet matched by a
    // `task_done`) and a shutdown flag.
}

impl<T> Queue<T> {
    /// A queue holding at most `maxsize` items; 0 means unbounded.
    pub fn new(maxsize: usize) -> Self {
        todo!("the state behind one Mutex, three Condvars, the maxsize")
    }

    /// Puts `item`, blocking while the queue is full (Python's `put`).
    /// Fails with `PutError::ShutDown(item)` if the queue is (or gets) shut
    /// down.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        // TODO: lock; loop: shut down? -> ShutDown. Room? -> leave the loop.
        // Otherwise sleep on `not_full`. Then push, count the unfinished
        // task, and wake one getter.
        todo!()
    }

    /// Puts `item`, blocking at most `timeout` while the queue is full;
    /// `PutError::Full(item)` if no room came in time.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        // TODO: compute the deadline ONCE; loop on `wait_until` and, when it
        // reports `timed_out`, check for room one last time before failing.
        // (Three puts share one loop: write it once, with a "how long may I
        // wait" parameter.)
        todo!()
    }

    /// Puts `item` without blocking (Python's `put_nowait`).
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        todo!()
    }

    /// Takes the oldest item, blocking while the queue is empty. After a
    /// shutdown, the remaining items still come out; then `GetError::ShutDown`.
    pub fn get(&self) -> Result<T, GetError> {
        // TODO: lock; loop: an item? -> take it, wake one putter, return it.
        // Shut down? -> ShutDown. Otherwise sleep on `not_empty`.
        todo!()
    }

    /// Takes the oldest item, blocking at most `timeout` while the queue is
    /// empty; `GetError::Empty` if none came in time.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        todo!()
    }

    /// Takes the oldest item without blocking (Python's `get_nowait`).
    pub fn try_get(&self) -> Result<T, GetError> {
        todo!()
    }

    /// The number of items waiting (Python's `qsize()`).
    pub fn len(&self) -> usize {
        todo!()
    }

    /// True if no item waits (Python's `empty()`).
    pub fn is_empty(&self) -> bool {
        todo!()
    }

    /// True if the queue is bounded and holds `maxsize` items (Python's `full()`).
    pub fn is_full(&self) -> bool {
        todo!()
    }

    /// The bound given to `new`; 0 means unbounded.
    pub fn maxsize(&self) -> usize {
        todo!()
    }

    /// Marks one item taken with `get` as processed; `Err(TaskDoneError)`,
    /// changing nothing, when called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        // TODO: the last one (unfinished_tasks reaching 0) wakes EVERY joiner.
        todo!()
    }

    /// Blocks until every item ever put was marked done.
    pub fn join(&self) {
        todo!()
    }

    /// Shuts the queue down; with `immediate`, drops the waiting items, each
    /// counting as done.
    pub fn shutdown(&self, immediate: bool) {
        // TODO: set the flag; with `immediate`, empty the items, lower
        // unfinished_tasks by as many, and wake the joiners. Wake every
        // getter and every putter: they must all see the shutdown.
        todo!()
    }

    /// True once `shutdown` was called.
    pub fn is_shutdown(&self) -> bool {
        todo!()
    }
}

fn main() {
    let q = Queue::new(3);
    for n in 1..=3 {
        q.put(n).expect("room for three");
    }
    println!("q.put_nowait(4) -> {:?}", q.try_put(4));
    for _ in 0..3 {
        println!("q.get() -> {:?}", q.get());
    }
    println!("q.get_nowait() -> {:?}", q.try_get());
}

#[cfg(test)]
synclings_suites::queue_suite!(crate::Queue);
