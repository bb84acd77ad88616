//! [`ThreadPool`]: Python's `concurrent.futures.ThreadPoolExecutor`, built on
//! a bounded [`Queue`] of jobs (the Python mapping is in `ThreadPool`'s docs).
//!
//! How it works: each worker loops on `jobs.get()` until the queue reports
//! `ShutDown`. A job owns the task's closure and a *promise*: running the job
//! fulfils the promise with the closure's value or its panic; dropping the job
//! unrun (an immediate queue shutdown drops the backlog) fulfils it with
//! [`TaskError::Cancelled`] from the promise's `Drop`. The handle waits on the
//! promise's result slot (a facade `Mutex` + `Condvar`).

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::queue::Queue;
use crate::sync::thread::{self as facade, JoinHandle, ThreadId};
use crate::sync::{Arc, Condvar, Duration, Instant, Mutex};

/// The error of [`ThreadPool::new`].
#[derive(Debug)]
pub enum ThreadPoolError {
    /// `workers` was 0 (Python raises `ValueError`): a pool needs a worker.
    ZeroWorkers,
    /// The operating system refused to start a worker thread.
    Spawn(io::Error),
}

impl fmt::Display for ThreadPoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadPoolError::ZeroWorkers => {
                f.write_str("a thread pool needs at least one worker: pass workers >= 1")
            }
            ThreadPoolError::Spawn(e) => write!(
                f,
                "could not start a worker thread ({e}): use fewer workers or free some threads"
            ),
        }
    }
}

impl std::error::Error for ThreadPoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ThreadPoolError::ZeroWorkers => None,
            ThreadPoolError::Spawn(e) => Some(e),
        }
    }
}

/// [`ThreadPool::submit`] after a shutdown (Python's `RuntimeError: cannot
/// schedule new futures after shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubmitError;

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the thread pool is shut down: no new tasks can be submitted")
    }
}

impl std::error::Error for SubmitError {}

/// The error of [`ThreadPool::try_submit`]; the closure is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySubmitError<F> {
    /// The backlog was full: retry later, or use `submit` to wait for room.
    Full(F),
    /// The pool was shut down.
    ShutDown(F),
}

impl<F> TrySubmitError<F> {
    /// Gives back the closure that was not submitted.
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(f) | TrySubmitError::ShutDown(f) => f,
        }
    }
}

// By hand: closures are not `Debug`.
impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str(
                "the thread pool's backlog is full: retry later or use `submit` to wait \
                 (the closure is handed back)",
            ),
            TrySubmitError::ShutDown(_) => f.write_str(
                "the thread pool is shut down: no new tasks can be submitted \
                 (the closure is handed back)",
            ),
        }
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}

/// Why a task produced no value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskError {
    /// The task panicked with this message (Python: `result()` re-raises the
    /// task's exception). The worker survived and runs other tasks.
    Panicked(String),
    /// The task never ran: the pool was shut down with
    /// [`ThreadPool::shutdown_now`] while it waited in the backlog (Python's
    /// `CancelledError`).
    Cancelled,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(message) => write!(f, "the task panicked: {message}"),
            TaskError::Cancelled => f.write_str(
                "the task was cancelled before it ran (the pool was shut down with \
                 shutdown_now): submit it again to a running pool",
            ),
        }
    }
}

impl std::error::Error for TaskError {}

/// Where a task's outcome lands: written once by the promise, read by the
/// handle.
struct Slot<R> {
    /// `None` while the task waits or runs; `Some` once it returned, panicked
    /// or was cancelled. Never goes back to `None` (the handle takes the
    /// value only in `join(self)`, which consumes the handle).
    outcome: Mutex<Option<Result<R, TaskError>>>,
    /// Notified (all) when `outcome` becomes `Some`.
    done: Condvar,
}

/// The writing end of a [`Slot`]; fulfils it exactly once, with
/// [`TaskError::Cancelled`] if dropped unfulfilled.
struct Promise<R> {
    /// `Some` until fulfilled.
    slot: Option<Arc<Slot<R>>>,
}

impl<R> Promise<R> {
    fn fulfil(mut self, outcome: Result<R, TaskError>) {
        if let Some(slot) = self.slot.take() {
            Self::write(&slot, outcome);
        }
    }

    fn write(slot: &Slot<R>, outcome: Result<R, TaskError>) {
        *slot.outcome.lock() = Some(outcome);
        slot.done.notify_all();
    }
}

impl<R> Drop for Promise<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            Self::write(&slot, Err(TaskError::Cancelled));
        }
    }
}

/// A submitted task: Python's `Future`. [`join`](Self::join) waits for its
/// outcome. Dropping the handle does not cancel the task.
pub struct TaskHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> TaskHandle<R> {
    /// Waits for the task and returns its value, or why there is none
    /// (Python's `future.result()`).
    pub fn join(self) -> Result<R, TaskError> {
        let mut outcome = self.slot.outcome.lock();
        loop {
            if let Some(result) = outcome.take() {
                return result;
            }
            outcome = self.slot.done.wait(outcome);
        }
    }

    /// Waits at most `timeout` for the task to finish; true if it did (then
    /// [`join`](Self::join) returns at once).
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        // Computed once; an overflowing timeout means "no deadline".
        let deadline = Instant::now().checked_add(timeout);
        let mut outcome = self.slot.outcome.lock();
        while outcome.is_none() {
            let Some(deadline) = deadline else {
                outcome = self.slot.done.wait(outcome);
                continue;
            };
            let (woken, timed_out) = self.slot.done.wait_until(outcome, deadline);
            outcome = woken;
            if timed_out {
                break;
            }
        }
        outcome.is_some()
    }

    /// True once the task returned, panicked or was cancelled (Python's
    /// `future.done()`).
    pub fn is_done(&self) -> bool {
        self.slot.outcome.lock().is_some()
    }
}

impl<R> fmt::Debug for TaskHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("done", &self.is_done())
            .finish()
    }
}

/// A job in the backlog, type-erased.
trait Job: Send {
    /// Runs the task, fulfilling its promise.
    fn run(self: Box<Self>);
    /// For `try_submit`: back to the concrete task, to return the closure.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A closure and the promise its outcome goes to.
struct Task<F, R> {
    f: F,
    promise: Promise<R>,
}

impl<F, R> Task<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    /// Packages `f` as a job for the backlog, with the handle to its outcome.
    fn package(f: F) -> (Box<dyn Job>, TaskHandle<R>) {
        let slot = Arc::new(Slot {
            outcome: Mutex::new(None),
            done: Condvar::new(),
        });
        let promise = Promise {
            slot: Some(Arc::clone(&slot)),
        };
        (Box::new(Task { f, promise }), TaskHandle { slot })
    }

    /// The closure of a job this `Task` made (its promise, whose handle is
    /// being dropped too, is dropped).
    fn into_closure(job: Box<dyn Job>) -> F {
        match job.into_any().downcast::<Self>() {
            Ok(task) => {
                let Task { f, promise } = *task;
                drop(promise); // its handle is dropped too: nobody sees the "cancelled"
                f
            }
            Err(_) => unreachable!("a job handed back by the queue is the one just put"),
        }
    }
}

impl<F, R> Job for Task<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>) {
        let Task { f, promise } = *self;
        let outcome = catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let message = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_owned()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "a panic with a non-string payload".to_owned()
            };
            TaskError::Panicked(message)
        });
        promise.fulfil(outcome);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A fixed set of worker threads running submitted closures: Python's
/// `concurrent.futures.ThreadPoolExecutor`.
///
/// - The backlog is a bounded [`Queue`]: [`submit`](Self::submit) blocks
///   while it is full, [`try_submit`](Self::try_submit) hands the closure
///   back instead (`backlog == 0` means unbounded, as Python's executor).
/// - A panicking task is caught: its handle reports
///   [`TaskError::Panicked`] and the worker goes on.
/// - Workers are named `pool-worker-0`, `pool-worker-1`, ... and counted by
///   [`active_count`](crate::thread::active_count).
/// - Dropping the pool is [`shutdown(true)`](Self::shutdown): the backlog
///   runs, then the workers are joined.
///
/// | Python | synclings |
/// |---|---|
/// | `ThreadPoolExecutor(max_workers)` | [`ThreadPool::new(workers, backlog)`](ThreadPool::new) (`workers == 0` is an error, like Python's `ValueError`) |
/// | `executor.submit(f)` → `Future` | [`submit(f)`](ThreadPool::submit) → [`TaskHandle`] (blocks while the backlog is full); [`try_submit`](ThreadPool::try_submit) never blocks |
/// | `future.result()` / `result(timeout)` | [`join`](TaskHandle::join) → `Result<R, TaskError>` / [`join_timeout`](TaskHandle::join_timeout) then `join` |
/// | `future.done()` | [`is_done`](TaskHandle::is_done) |
/// | `executor.map(f, xs)` | [`map(f, xs)`](ThreadPool::map): results in input order |
/// | `shutdown(wait)` / `shutdown(wait, cancel_futures=True)` | [`shutdown(wait)`](ThreadPool::shutdown) / [`shutdown_now(wait)`](ThreadPool::shutdown_now) |
/// | `with ThreadPoolExecutor() as ex:` | dropping the pool: `shutdown(true)` |
///
/// # Examples
///
/// ```
/// use synclings::{TaskError, ThreadPool};
///
/// let pool = ThreadPool::new(4, 16).unwrap();
/// let answer = pool.submit(|| 6 * 7).unwrap();
/// let oops = pool.submit(|| -> u32 { panic!("bad input") }).unwrap();
/// assert_eq!(answer.join(), Ok(42));
/// assert_eq!(oops.join(), Err(TaskError::Panicked("bad input".into())));
///
/// let squares: Vec<_> = pool.map(|x: u64| x * x, 1..=5).map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
/// pool.shutdown(true);
/// assert!(pool.submit(|| ()).is_err());
/// ```
pub struct ThreadPool {
    /// The backlog. Shut down non-immediately by `shutdown` (the workers
    /// drain it, then exit), immediately by `shutdown_now` (the jobs are
    /// dropped, which cancels them).
    jobs: Arc<Queue<Box<dyn Job>>>,
    /// The workers not yet joined. Held locked for the whole join, so that
    /// every concurrent `shutdown(true)` returns only once they exited.
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// The workers' ids: a worker cannot wait for itself.
    worker_ids: Vec<ThreadId>,
}

impl ThreadPool {
    /// Starts `workers` threads sharing a backlog of at most `backlog`
    /// waiting tasks (`0` = unbounded).
    ///
    /// Fails with [`ThreadPoolError::ZeroWorkers`] if `workers == 0`, with
    /// [`ThreadPoolError::Spawn`] if a thread cannot be started (the ones
    /// already started are stopped).
    pub fn new(workers: usize, backlog: usize) -> Result<Self, ThreadPoolError> {
        if workers == 0 {
            return Err(ThreadPoolError::ZeroWorkers);
        }
        let jobs: Arc<Queue<Box<dyn Job>>> = Arc::new(Queue::new(backlog));
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let queue = Arc::clone(&jobs);
            match super::spawn_named(format!("pool-worker-{n}"), move || work(&queue)) {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    jobs.shutdown(false);
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(ThreadPoolError::Spawn(e));
                }
            }
        }
        let worker_ids = handles.iter().map(|h| h.thread().id()).collect();
        Ok(ThreadPool {
            jobs,
            workers: Mutex::new(handles),
            worker_ids,
        })
    }

    /// Queues `f` to run on a worker, blocking while the backlog is full
    /// (Python's `submit`).
    ///
    /// Fails with [`SubmitError`] once the pool is shut down (also if it is
    /// shut down while this call waits for room).
    pub fn submit<F, R>(&self, f: F) -> Result<TaskHandle<R>, SubmitError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, handle) = Task::package(f);
        match self.jobs.put(job) {
            Ok(()) => Ok(handle),
            Err(_) => Err(SubmitError),
        }
    }

    /// Queues `f` if the backlog has room right now; otherwise hands `f`
    /// back in [`TrySubmitError::Full`] (or [`TrySubmitError::ShutDown`]).
    pub fn try_submit<F, R>(&self, f: F) -> Result<TaskHandle<R>, TrySubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, handle) = Task::package(f);
        match self.jobs.try_put(job) {
            Ok(()) => Ok(handle),
            Err(e) => {
                let full = e.is_full();
                let f = Task::<F, R>::into_closure(e.into_inner());
                Err(if full {
                    TrySubmitError::Full(f)
                } else {
                    TrySubmitError::ShutDown(f)
                })
            }
        }
    }

    /// Runs `f` on every input (submitting them all now, blocking while the
    /// backlog is full) and yields the outcomes in input order (Python's
    /// `executor.map`). Inputs that could not be submitted because the pool
    /// is shut down yield [`TaskError::Cancelled`].
    pub fn map<I, F, R>(&self, f: F, inputs: I) -> impl Iterator<Item = Result<R, TaskError>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        let handles: Vec<_> = inputs
            .into_iter()
            .map(|input| {
                let f = Arc::clone(&f);
                self.submit(move || f(input))
            })
            .collect();
        handles.into_iter().map(|handle| match handle {
            Ok(handle) => handle.join(),
            Err(SubmitError) => Err(TaskError::Cancelled),
        })
    }

    /// Stops accepting tasks (Python's `shutdown(wait)`); the backlog still
    /// runs. With `wait`, returns once every queued task ran and the workers
    /// exited. Called from one of the pool's own tasks, it does not wait (a
    /// worker cannot wait for itself).
    pub fn shutdown(&self, wait: bool) {
        self.jobs.shutdown(false);
        if wait {
            self.join_workers();
        }
    }

    /// Stops accepting tasks and cancels the backlog: the tasks not yet
    /// started never run and their handles report [`TaskError::Cancelled`]
    /// (Python's `shutdown(wait, cancel_futures=True)`). Running tasks
    /// finish; with `wait`, returns once they did and the workers exited.
    pub fn shutdown_now(&self, wait: bool) {
        self.jobs.shutdown(true);
        if wait {
            self.join_workers();
        }
    }

    /// True once [`shutdown`](Self::shutdown) or
    /// [`shutdown_now`](Self::shutdown_now) was called.
    pub fn is_shutdown(&self) -> bool {
        self.jobs.is_shutdown()
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.worker_ids.len()
    }

    /// The number of tasks waiting for a worker (a snapshot).
    pub fn backlog_len(&self) -> usize {
        self.jobs.len()
    }

    fn join_workers(&self) {
        if self.worker_ids.contains(&facade::current().id()) {
            return;
        }
        let mut workers = self.workers.lock();
        for handle in workers.drain(..) {
            // A worker catches its tasks' panics: joining cannot fail.
            let _ = handle.join();
        }
    }
}

/// A worker's life: run jobs until the backlog is shut down and drained.
fn work(jobs: &Queue<Box<dyn Job>>) {
    while let Ok(job) = jobs.get() {
        job.run();
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(true);
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers())
            .field("backlog_len", &self.jobs.len())
            .field("backlog_max", &self.jobs.maxsize())
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}
