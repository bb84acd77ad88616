//! # Solution 16 — a thread pool with a bounded backlog
//!
//! The teaching version of `concurrent.futures.ThreadPoolExecutor` (exam
//! question 23: a pool keeps the number of threads within what the machine
//! can bear). The library's `synclings::ThreadPool` adds `map`,
//! `shutdown_now` (cancelling the backlog) and named, counted workers; both
//! pass the same suite.
//!
//! - **The backlog** is a `synclings::Queue` of jobs with maxsize `backlog`
//!   (exercise 11): `submit` is `put` (blocks while full), `try_submit` is
//!   `try_put`, and `shutdown` is the queue's non-immediate shutdown.
//! - **A worker** loops on `get` and runs each job, until `get` reports
//!   `ShutDown`: that happens only once the backlog is drained, so a
//!   shutdown never drops queued work.
//! - **A job** is the closure and the *slot* its result goes to. The worker
//!   runs the closure under `catch_unwind`: a panic becomes
//!   `TaskError::Panicked(message)` in the slot and the worker goes on.
//! - **A handle** waits on the slot: a `Mutex<Option<..>>` and a `Condvar`,
//!   the same "check, then sleep on the condition, re-check" loop as ever.
//! - **`try_submit` hands the closure back**: the queue returns the boxed
//!   job; `Any` turns it back into the concrete `Task<F, R>`, and so into `F`.
//!
//! `cargo run -p solutions --bin thread_pool` runs ten tasks on a pool of
//! three workers with a backlog of two, and shows what `try_submit`, a
//! panicking task and `shutdown(wait=True)` do.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use synclings::sync::thread::{self, JoinHandle, ThreadId};
use synclings::sync::{Arc, Condvar, Duration, Mutex};
use synclings::{Queue, SubmitError, TaskError, ThreadPoolError, TrySubmitError};

/// Where a task's outcome lands: written once by the worker, taken by the
/// handle.
struct Slot<R> {
    /// `None` until the task returned or panicked.
    outcome: Mutex<Option<Result<R, TaskError>>>,
    /// Notified when `outcome` is written.
    done: Condvar,
}

/// A submitted task (Python's `Future`): `join` waits for its outcome.
pub struct TaskHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> TaskHandle<R> {
    /// Waits for the task; its value, or `TaskError::Panicked` (Python's
    /// `future.result()`).
    pub fn join(self) -> Result<R, TaskError> {
        let mut outcome = self.slot.outcome.lock();
        loop {
            if let Some(result) = outcome.take() {
                return result;
            }
            outcome = self.slot.done.wait(outcome);
        }
    }
}

/// A job in the backlog, whatever its closure and result types.
trait Job: Send {
    /// Runs the task and fills its slot.
    fn run(self: Box<Self>);
    /// Back to the concrete `Task`, to hand the closure back.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A closure and the slot its outcome goes to.
struct Task<F, R> {
    f: F,
    slot: Arc<Slot<R>>,
}

impl<F, R> Job for Task<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>) {
        let Task { f, slot } = *self;
        let outcome = catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            // `panic!("literal")` carries a `&str`, `panic!("{x}")` a `String`.
            let message = match payload.downcast::<String>() {
                Ok(message) => *message,
                Err(payload) => match payload.downcast::<&str>() {
                    Ok(message) => message.to_string(),
                    Err(_) => "a panic without a message".to_string(),
                },
            };
            TaskError::Panicked(message)
        });
        *slot.outcome.lock() = Some(outcome);
        slot.done.notify_all();
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Packages `f` as a job, with the handle to its outcome.
fn package<F, R>(f: F) -> (Box<dyn Job>, TaskHandle<R>)
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let slot = Arc::new(Slot {
        outcome: Mutex::new(None),
        done: Condvar::new(),
    });
    let job = Task {
        f,
        slot: Arc::clone(&slot),
    };
    (Box::new(job), TaskHandle { slot })
}

/// A fixed set of worker threads running submitted closures: Python's
/// `ThreadPoolExecutor`, with a bounded backlog.
pub struct ThreadPool {
    /// The backlog, shared with the workers.
    jobs: Arc<Queue<Box<dyn Job>>>,
    /// The workers not yet joined.
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// The workers' ids: a worker must not wait for itself.
    worker_ids: Vec<ThreadId>,
}

impl ThreadPool {
    /// Starts `workers` threads sharing a backlog of at most `backlog`
    /// waiting tasks (0 = unbounded).
    pub fn new(workers: usize, backlog: usize) -> Result<Self, ThreadPoolError> {
        if workers == 0 {
            return Err(ThreadPoolError::ZeroWorkers);
        }
        let jobs: Arc<Queue<Box<dyn Job>>> = Arc::new(Queue::new(backlog));
        let mut handles = Vec::with_capacity(workers);
        for n in 0..workers {
            let queue = Arc::clone(&jobs);
            let spawned = thread::Builder::new()
                .name(format!("pool-worker-{n}"))
                .spawn(move || {
                    // Runs until the backlog is shut down AND drained.
                    while let Ok(job) = queue.get() {
                        job.run();
                    }
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // Stop the workers already started before failing.
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

    /// Queues `f`, blocking while the backlog is full (Python's `submit`);
    /// `SubmitError` once the pool is shut down.
    pub fn submit<F, R>(&self, f: F) -> Result<TaskHandle<R>, SubmitError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, handle) = package(f);
        self.jobs.put(job).map_err(|_| SubmitError)?;
        Ok(handle)
    }

    /// Queues `f` if the backlog has room now; otherwise hands `f` back.
    pub fn try_submit<F, R>(&self, f: F) -> Result<TaskHandle<R>, TrySubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (job, handle) = package(f);
        match self.jobs.try_put(job) {
            Ok(()) => Ok(handle),
            Err(e) => {
                let full = e.is_full();
                let task = e
                    .into_inner()
                    .into_any()
                    .downcast::<Task<F, R>>()
                    .unwrap_or_else(|_| unreachable!("the job handed back is the one just put"));
                Err(if full {
                    TrySubmitError::Full(task.f)
                } else {
                    TrySubmitError::ShutDown(task.f)
                })
            }
        }
    }

    /// Stops accepting tasks (Python's `shutdown(wait)`); the backlog still
    /// runs. With `wait`, returns once it ran and the workers exited.
    pub fn shutdown(&self, wait: bool) {
        self.jobs.shutdown(false);
        // A task that shuts its own pool down must not wait for itself.
        if wait && !self.worker_ids.contains(&thread::current().id()) {
            for handle in self.workers.lock().drain(..) {
                // A worker catches its tasks' panics: joining cannot fail.
                let _ = handle.join();
            }
        }
    }
}

/// Python's `with ThreadPoolExecutor() as ex:` — leaving the block waits.
impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(true);
    }
}

fn main() {
    let pool = ThreadPool::new(3, 2).expect("three workers");
    let handles: Vec<_> = (0..10u64)
        .map(|n| {
            pool.submit(move || {
                std::thread::sleep(Duration::from_millis(20));
                println!(
                    "task {n} ran on {}",
                    std::thread::current().name().unwrap_or("?")
                );
                n * n
            })
            .expect("the pool is open")
        })
        .collect();
    let squares: Vec<u64> = handles
        .into_iter()
        .map(|h| h.join().expect("the task ran"))
        .collect();
    println!("squares: {squares:?}");

    // Three busy workers and a backlog of two: a sixth task does not fit.
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let busy: Vec<_> = (0..5)
        .map(|_| {
            let gate = Arc::clone(&gate);
            pool.submit(move || {
                let (open, cv) = &*gate;
                let mut open = open.lock();
                while !*open {
                    open = cv.wait(open);
                }
            })
            .expect("the pool is open")
        })
        .collect();
    // The five submits returned, so at most 2 tasks wait: the 3 workers took
    // the others and wait at the gate. The backlog is full.
    match pool.try_submit(|| ()) {
        Err(TrySubmitError::Full(_)) => println!(
            "try_submit with 3 busy workers and 2 tasks waiting -> Full (the closure is handed back)"
        ),
        other => println!("try_submit: unexpected {:?}", other.err()),
    }
    *gate.0.lock() = true;
    gate.1.notify_all();
    for h in busy {
        h.join().expect("the gated task ran");
    }

    // Python keeps a task's exception for `result()` and prints nothing:
    // silence the default panic message while the task panics.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let oops = pool
        .submit(|| -> u32 { panic!("bad input") })
        .expect("the pool is open");
    println!("a panicking task: {:?}", oops.join());
    std::panic::set_hook(default_hook);
    println!(
        "the workers survive: {:?}",
        pool.submit(|| 6 * 7).map(TaskHandle::join)
    );

    pool.submit(|| println!("queued before the shutdown: still runs"))
        .expect("the pool is open");
    pool.shutdown(true);
    println!(
        "after shutdown(wait=True): submit -> {:?}",
        pool.submit(|| ()).err()
    );
}

#[cfg(test)]
synclings_suites::thread_pool_suite!(crate::ThreadPool);
