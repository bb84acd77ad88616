//! # Exercise 16 — build a `ThreadPool` with a bounded backlog
//!
//! **What to build.** Python's `concurrent.futures.ThreadPoolExecutor`, with
//! a backlog of bounded size:
//!
//! - `ThreadPool::new(workers, backlog)` starts `workers` threads (0 is an
//!   error: `ThreadPoolError::ZeroWorkers`) sharing a backlog of at most
//!   `backlog` waiting tasks (0 = unbounded).
//! - `submit(f)` queues the closure `f`, blocking while the backlog is full,
//!   and returns a `TaskHandle`; `try_submit(f)` never blocks and hands `f`
//!   back in `TrySubmitError::Full(f)` (or `ShutDown(f)`). After a shutdown,
//!   `submit` fails with `SubmitError`.
//! - `handle.join()` waits for the task and returns its value, or
//!   `TaskError::Panicked(message)` if it panicked. A panicking task never
//!   kills its worker: the worker goes on with the next task.
//! - `shutdown(wait)` stops accepting tasks; the backlog still runs. With
//!   `wait`, it returns once every queued task ran and the workers exited.
//!
//! **The Python it mirrors** (exam question 23: "why use a thread pool? To
//! keep the number of threads within what the machine can bear"):
//!
//! ```python
//! from concurrent.futures import ThreadPoolExecutor
//! pool = ThreadPoolExecutor(max_workers=4)
//! future = pool.submit(task, n)
//! future.result()          # the value, or the task's exception re-raised
//! pool.shutdown(wait=True) # queued tasks still run
//! ```
//!
//! **Build it from** `synclings::Queue` (exercise 11: the backlog is a
//! bounded queue of jobs, and the queue's shutdown is the pool's) and the
//! facade `synclings::sync::{Mutex, Condvar, Arc, thread}` (so loom can see
//! your threads). The errors are the library's: `synclings::{ThreadPoolError,
//! SubmitError, TrySubmitError, TaskError}`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin thread_pool` runs the suite;
//! - `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 cargo test -p exercises --bin thread_pool --release`
//!   lets loom hunt for a lost wake-up on the result slot;
//! - `cargo run -p exercises --bin thread_pool` runs the `main` below.
//! - Stuck? `cargo run -- hint thread_pool`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use synclings::sync::thread::{self, JoinHandle};
use synclings::sync::{Arc, Condvar, Mutex};
use synclings::{Queue, SubmitError, TaskError, ThreadPoolError, TrySubmitError};

/// Where a task's outcome lands: written once by the worker, taken by the
/// handle.
struct Slot<R> {
    /// `None` until the task returned or panicked.
    outcome: Mutex<Option<Result<R, TaskError>>>,
    /// Notified when `outcome` is written.
    done: Condvar,
}

/// A submitted task (Python's `Future`).
pub struct TaskHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> TaskHandle<R> {
    /// Waits for the task; its value, or `TaskError::Panicked(message)`.
    pub fn join(self) -> Result<R, TaskError> {
        // TODO: lock the slot; loop: an outcome? take it and return it.
        // Otherwise sleep on `done`.
        todo!()
    }
}

// TODO: a job type for the backlog. The queue holds one item type, but
// every submitted closure has its own type `F` (and result `R`): box them
// behind a trait, e.g.
//
//     trait Job: Send {
//         fn run(self: Box<Self>);                 // run f, fill the slot
//         fn into_any(self: Box<Self>) -> Box<dyn Any>; // for try_submit
//     }
//
// implemented by a struct holding the closure and an `Arc<Slot<R>>`. Run
// the closure under `catch_unwind(AssertUnwindSafe(f))`; a panic's payload
// is a `&str` or a `String`: that is the `TaskError::Panicked` message.

/// A fixed set of worker threads running submitted closures, with a bounded
/// backlog: Python's `ThreadPoolExecutor`.
pub struct ThreadPool {
    // TODO: the backlog (an `Arc<Queue<Box<dyn Job>>>` shared with the
    // workers) and the workers' `JoinHandle`s (behind a `Mutex`: `shutdown`
    // takes `&self`).
}

impl ThreadPool {
    /// Starts `workers` threads sharing a backlog of at most `backlog`
    /// waiting tasks (0 = unbounded); `ThreadPoolError::ZeroWorkers` for 0.
    pub fn new(workers: usize, backlog: usize) -> Result<Self, ThreadPoolError> {
        // TODO: each worker loops on `jobs.get()` until it fails (the queue
        // was shut down and is drained), running each job.
        todo!()
    }

    /// Queues `f`, blocking while the backlog is full; `SubmitError` once
    /// the pool is shut down.
    pub fn submit<F, R>(&self, f: F) -> Result<TaskHandle<R>, SubmitError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // TODO: a new slot; box the closure and the slot as a job; `put` it.
        todo!()
    }

    /// Queues `f` if the backlog has room now; otherwise hands `f` back in
    /// `TrySubmitError::Full(f)` (or `ShutDown(f)`).
    pub fn try_submit<F, R>(&self, f: F) -> Result<TaskHandle<R>, TrySubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // TODO: `try_put`; on failure the queue hands the boxed job back:
        // `into_any()` then `downcast::<YourJobStruct<F, R>>()` gets `f` out.
        todo!()
    }

    /// Stops accepting tasks; the backlog still runs. With `wait`, returns
    /// once every queued task ran and the workers exited.
    pub fn shutdown(&self, wait: bool) {
        // TODO: shut the queue down (not immediately: the workers drain it);
        // with `wait`, join every worker.
        todo!()
    }
}

// TODO (once `shutdown` works): Python's `with ThreadPoolExecutor() as ex:`
// waits when the block ends. Do the same when the pool is dropped:
//
//     impl Drop for ThreadPool {
//         fn drop(&mut self) { self.shutdown(true); }
//     }

fn main() {
    let pool = ThreadPool::new(4, 8).expect("four workers");
    let handles: Vec<_> = (0..10u64)
        .map(|n| pool.submit(move || n * n).expect("the pool is open"))
        .collect();
    for h in handles {
        println!("{:?}", h.join());
    }
    let oops = pool
        .submit(|| -> u32 { panic!("bad input") })
        .expect("open");
    println!("a panicking task: {:?}", oops.join());
    pool.shutdown(true);
}

#[cfg(test)]
synclings_suites::thread_pool_suite!(crate::ThreadPool);
