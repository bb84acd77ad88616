//! Process pools: Python's `multiprocessing.Pool` and
//! `concurrent.futures.ProcessPoolExecutor`.
//!
//! | Python | synclings |
//! |---|---|
//! | `def square(x): ...` at module level | `fn square(x: u64) -> u64`, listed with [`pool_task!`](crate::ipc::pool_task) in the table given to [`init`](crate::ipc::init) |
//! | `Pool(processes)` | [`Pool::new(processes)`](Pool::new) |
//! | `Pool(n, initializer, initargs, maxtasksperchild)` | [`Pool::builder(n)`](Pool::builder)`.initializer("f", &args)`, `.max_tasks_per_child(k)` |
//! | `pool.map(f, items, chunksize)` | [`map("f", items, chunksize)`](Pool::map) `-> Result<Vec<R>, PoolError>` |
//! | `pool.imap(f, items, chunksize)` / `imap_unordered` | [`imap`](Pool::imap) / [`imap_unordered`](Pool::imap_unordered): iterators of `Result<R, PoolError>` |
//! | `pool.apply_async(f, args)` → `AsyncResult.get()` / `ready()` / `wait(t)` | [`apply_async`](Pool::apply_async) → [`AsyncResult::get`] / [`ready`](AsyncResult::ready) / [`wait_timeout`](AsyncResult::wait_timeout) |
//! | `pool.apply(f, args)` / `executor.submit(f, *args).result()` | [`apply`](Pool::apply) |
//! | `close()` / `join()` / `terminate()`, `with Pool() as p:` | [`close`](Pool::close) / [`join`](Pool::join) / [`terminate`](Pool::terminate); dropping the pool terminates it, as `__exit__` does |
//! | the task's exception, re-raised by `get()` | [`PoolError::Panicked`] with the panic's message and location |
//! | `BrokenProcessPool` (executor) / a hang (`Pool`) when a worker is killed | [`PoolError::WorkerDied`] for the chunk it held, and nothing else: the worker is replaced |
//!
//! # Example
//!
//! ```no_run
//! use synclings::ipc::{self, pool_task, Entry, Pool};
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! static ENTRIES: &[Entry] = &[pool_task!(square)];
//!
//! fn main() -> Result<(), ipc::PoolError> {
//!     ipc::init(ENTRIES); // in a worker: serves tasks and exits
//!     let pool = Pool::new(2)?;
//!     let squares: Vec<u64> = pool.map("square", 0..10u64, 3)?;
//!     assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//!     let nine = pool.apply_async::<_, u64>("square", &3u64)?;
//!     assert_eq!(nine.get()?, 9);
//!     pool.close();
//!     pool.join()
//! }
//! ```
//!
//! # How it works
//!
//! Workers are daemon children (they end with the parent, also when it is
//! killed) running a built-in entry point. Items are sent in chunks: a
//! chunk is one frame each way (its arguments encoded as one `Vec<A>`, its
//! results as one `Vec<R>`, or `Vec<Result<R, String>>` if an item
//! panicked), so a `map` of 100 000 tiny
//! items with `chunksize` 1 000 costs at most 100 writes and 100 reads, not
//! 100 000. One dispatcher thread in the parent owns the workers (see
//! `dispatch.rs`); a worker runs one chunk at a time, with more waiting in
//! its pipe: up to two (`dispatch::DEPTH`; fewer when its fair share of
//! the work is fewer, or chunks are over 32 KiB: up to 64 KiB in flight),
//! for fast chunks while the queue is long, as many as take about a
//! millisecond (up to 63), and for chunks of 5 ms or more none (as in
//! Python, where an idle worker takes the next task from a shared queue, no
//! long task waits behind another while a worker idles). Chunks go several
//! in one write and replies come several in one `read` (a connection reads
//! ahead), so a wake-up handles several chunks.
//!
//! Results are streamed: `imap` pulls its input lazily and keeps at most
//! `(3 + 1) × processes + 2` chunks submitted and not yet consumed, so an `imap`
//! over ten million items (or an endless iterator) runs in memory bounded by
//! that window, whatever the input's length.
//!
//! # Beyond Python: a worker that dies
//!
//! CPython's `Pool` waits forever for the result of a worker killed by
//! `SIGKILL` or the OOM killer; `ProcessPoolExecutor` marks the whole pool
//! broken. Here the dispatcher sees the worker's connection end, reaps it,
//! starts a replacement, and fails the chunk it held with
//! [`PoolError::WorkerDied`] (its pid and how it ended), or sends it once
//! more to another worker if the pool was built with
//! [`retry_on_worker_death`](PoolBuilder::retry_on_worker_death). Every
//! other chunk completes.
//!
//! `Pool` is `Send + Sync`: share it with `Arc` or scoped threads; several
//! threads may run jobs on it at once.

mod dispatch;
mod job;
mod outbox;
mod wire;
pub(crate) mod worker;

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use self::dispatch::{Chunk, Config, Shared};
use self::job::{Job, Outcome};
use super::frame;
use super::process::{find_entry, Entry, EntryKind};

#[doc(hidden)]
pub use worker::__run_chunk;

/// The built-in entry point of a pool's workers.
pub(crate) const WORKER_ENTRY: Entry = Entry::__new(worker::WORKER, |args| {
    worker::main(super::process::__decode_args(args)?);
    Ok(())
});

/// Why a pool, or one of its tasks, produced no value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PoolError {
    /// `Pool::new(0)` (Python: `ValueError: Number of processes must be at
    /// least 1`).
    ZeroProcesses,
    /// A worker process could not be started.
    Spawn(String),
    /// The initializer panicked in a worker: the pool cannot run tasks.
    Initializer(String),
    /// The name is not a pool task of the table given to
    /// [`init`](crate::ipc::init).
    UnknownTask(String),
    /// The pool was closed (or terminated) before this job was submitted
    /// (Python: `ValueError: Pool not running`).
    Closed,
    /// [`Pool::join`] before [`Pool::close`] or [`Pool::terminate`] (Python:
    /// `ValueError`).
    NotClosed,
    /// The task panicked; the message and its location. The worker lives on.
    Panicked(String),
    /// The worker running this task's chunk died (killed by a signal, say):
    /// its pid and how it ended. The pool replaced it.
    WorkerDied {
        /// The dead worker's process id.
        pid: u32,
        /// How it ended (e.g. "killed by signal 9").
        status: String,
    },
    /// The pool was terminated before the task finished.
    Terminated,
    /// The arguments could not be encoded.
    Encode(String),
    /// A result did not decode as the asked type.
    Decode(String),
    /// The worker could not run the chunk (its arguments do not decode as
    /// the task's, for example).
    Failed(String),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::ZeroProcesses => {
                f.write_str("a pool needs at least one process: pass processes >= 1")
            }
            PoolError::Spawn(e) => write!(f, "could not start a pool worker: {e}"),
            PoolError::Initializer(e) => {
                write!(f, "the pool's initializer failed in a worker: {e}")
            }
            PoolError::UnknownTask(e) => f.write_str(e),
            PoolError::Closed => {
                f.write_str("the pool is closed: no new tasks can be submitted (make a new Pool)")
            }
            PoolError::NotClosed => {
                f.write_str("join() waits for a closed pool: call close() or terminate() first")
            }
            PoolError::Panicked(m) => write!(f, "the task panicked: {m}"),
            PoolError::WorkerDied { pid, status } => write!(
                f,
                "the worker running this task (pid {pid}) died: {status}; the pool replaced it \
                 (build it with retry_on_worker_death(true) to run such a task once more)"
            ),
            PoolError::Terminated => {
                f.write_str("the pool was terminated before the task finished")
            }
            PoolError::Encode(e) => write!(f, "the task's arguments could not be encoded: {e}"),
            PoolError::Decode(e) => write!(f, "the task's result did not decode: {e}"),
            PoolError::Failed(e) => write!(f, "the worker could not run the task: {e}"),
        }
    }
}

impl std::error::Error for PoolError {}

/// Options of a [`Pool`]: [`Pool::builder`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    config: Config,
    error: Option<PoolError>,
}

impl PoolBuilder {
    /// Python's `initializer, initargs`: every worker runs the pool task
    /// `task` once with `args` before any other task (to open a file, fill
    /// a cache, ...). A panic there fails [`build`](Self::build) with
    /// [`PoolError::Initializer`] (CPython keeps restarting such workers).
    pub fn initializer<A: Serialize + ?Sized>(mut self, task: &str, args: &A) -> Self {
        match (task_entry(task), frame::encode(args)) {
            (Ok(entry), Ok(args)) => {
                self.config.initializer = Some((entry.name().to_string(), args))
            }
            (Err(e), _) => self.error = Some(e),
            (_, Err(e)) => self.error = Some(PoolError::Encode(e.to_string())),
        }
        self
    }

    /// Python's `maxtasksperchild`: a worker exits after answering `tasks`
    /// chunks and a fresh one takes its place (a task that leaks memory
    /// cannot grow a worker forever). Counted in chunks, as Python counts.
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.config.max_tasks_per_child = Some(tasks.max(1));
        self
    }

    /// When a worker dies holding a chunk, send that chunk once more to
    /// another worker instead of failing it with [`PoolError::WorkerDied`]
    /// (a second death fails it). Only for tasks that may run twice.
    pub fn retry_on_worker_death(mut self, retry: bool) -> Self {
        self.config.retry_on_worker_death = retry;
        self
    }

    /// Starts the workers and waits until each one is ready.
    pub fn build(self) -> Result<Pool, PoolError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.config.processes == 0 {
            return Err(PoolError::ZeroProcesses);
        }
        let processes = self.config.processes;
        let (shared, wakee) = Shared::new().map_err(|e| PoolError::Spawn(e.to_string()))?;
        let (started, start) = mpsc::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            let config = self.config;
            std::thread::Builder::new()
                .name("synclings-pool".into())
                .spawn(move || dispatch::run(shared, config, wakee, started))
                .map_err(|e| PoolError::Spawn(e.to_string()))?
        };
        match start.recv() {
            Ok(Ok(())) => Ok(Pool {
                shared,
                thread: Mutex::new(Some(thread)),
                processes,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(PoolError::Spawn(
                    "the pool's dispatcher thread failed".into(),
                ))
            }
        }
    }
}

/// The entry `task`, which must be a pool task.
fn task_entry(task: &str) -> Result<Entry, PoolError> {
    match find_entry(task) {
        Some(e) if matches!(e.kind(), EntryKind::Task(_)) && task.len() <= u8::MAX as usize => {
            Ok(e)
        }
        Some(e) if e.is_pool_task() => Err(PoolError::UnknownTask(format!(
            "the pool task name `{task}` is over 255 bytes: register it under a shorter name"
        ))),
        Some(_) => Err(PoolError::UnknownTask(format!(
            "`{task}` is a process entry point (entry!): register the function with pool_task! \
             to run it in a pool"
        ))),
        None => Err(PoolError::UnknownTask(format!(
            "no pool task named `{task}`: list pool_task!({task}) in the table given to ipc::init"
        ))),
    }
}

/// A pool of worker processes; see the [module docs](self).
pub struct Pool {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    processes: usize,
}

impl Pool {
    /// A pool of `processes` workers (Python's `Pool(processes)`), started
    /// and ready.
    ///
    /// Errors: [`PoolError::ZeroProcesses`], [`PoolError::Spawn`] (also when
    /// [`init`](crate::ipc::init) was not called first thing in `main`).
    pub fn new(processes: usize) -> Result<Pool, PoolError> {
        Pool::builder(processes).build()
    }

    /// A pool with options: see [`PoolBuilder`].
    pub fn builder(processes: usize) -> PoolBuilder {
        PoolBuilder {
            config: Config {
                processes,
                initializer: None,
                max_tasks_per_child: None,
                retry_on_worker_death: false,
            },
            error: None,
        }
    }

    /// The number of workers.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// The process ids of the workers now (a replaced worker's successor
    /// has a new one).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared.lock().pids.clone()
    }

    /// Python's `map`: runs the pool task `task` on every item and returns
    /// the results in the items' order, or the first error.
    ///
    /// Items go to the workers `chunksize` at a time (`0`: Python's default,
    /// the item count ÷ (4 × processes), rounded up, from the iterator's
    /// size hint). As Python's `map`, it submits every chunk at once, so
    /// the workers never wait for the caller; it then decodes the results
    /// in runs of 64 chunks as they come, waking once per run, not once per
    /// chunk. Its memory is the encoded items and results, about the size
    /// of the returned `Vec`; for an input too large for that, use
    /// [`imap`](Self::imap), which keeps a bounded window.
    pub fn map<A, R, I>(&self, task: &str, items: I, chunksize: usize) -> Result<Vec<R>, PoolError>
    where
        I: IntoIterator<Item = A>,
        A: Serialize,
        R: DeserializeOwned,
    {
        let mut all = self.start_imap(task, items.into_iter(), chunksize, true)?;
        all.window = u64::MAX;
        all.top_up();
        all.collect_all()
    }

    /// Python's `imap`: an iterator of each item's result, in the items'
    /// order, computed `chunksize` items at a time (`0`: as in
    /// [`map`](Self::map)). The input is pulled lazily; at most
    /// `(3 + 1) × processes + 2` chunks are in flight.
    pub fn imap<A, R, I>(
        &self,
        task: &str,
        items: I,
        chunksize: usize,
    ) -> Result<Imap<'_, I::IntoIter, R>, PoolError>
    where
        I: IntoIterator<Item = A>,
        A: Serialize,
        R: DeserializeOwned,
    {
        self.start_imap(task, items.into_iter(), chunksize, true)
    }

    /// Python's `imap_unordered`: like [`imap`](Self::imap), but each
    /// chunk's results come as soon as that chunk is done.
    pub fn imap_unordered<A, R, I>(
        &self,
        task: &str,
        items: I,
        chunksize: usize,
    ) -> Result<Imap<'_, I::IntoIter, R>, PoolError>
    where
        I: IntoIterator<Item = A>,
        A: Serialize,
        R: DeserializeOwned,
    {
        self.start_imap(task, items.into_iter(), chunksize, false)
    }

    fn start_imap<I: Iterator, R>(
        &self,
        task: &str,
        items: I,
        chunksize: usize,
        ordered: bool,
    ) -> Result<Imap<'_, I, R>, PoolError> {
        let entry = task_entry(task)?;
        let chunksize = if chunksize > 0 {
            chunksize
        } else {
            items.size_hint().0.div_ceil(4 * self.processes).max(1)
        };
        {
            let mut st = self.shared.lock();
            if st.closed || st.terminating || st.finished {
                return Err(PoolError::Closed);
            }
            st.open_jobs += 1;
        }
        Ok(Imap {
            pool: self,
            task: entry.name(),
            items: Some(items),
            chunksize,
            window: ((dispatch::DEPTH + 1) * self.processes + 2) as u64,
            job: Arc::new(Job::default()),
            submitted: 0,
            received: 0,
            counts: HashMap::new(),
            ordered,
            current: Vec::new().into_iter(),
            failed: None,
        })
    }

    /// Python's `apply_async`: runs `task(args)` on a worker; the handle
    /// waits for the result.
    pub fn apply_async<A, R>(&self, task: &str, args: &A) -> Result<AsyncResult<R>, PoolError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let entry = task_entry(task)?;
        let mut frame = Vec::new();
        wire::chunk_header(entry.name(), &mut frame);
        // A slice, not an array: an array encodes as a tuple (no length).
        let frame =
            frame::encode_into(&[args][..], frame).map_err(|e| PoolError::Encode(e.to_string()))?;
        let job = Arc::new(Job::default());
        self.submit(&job, 0, frame, true)?;
        Ok(AsyncResult {
            job,
            _result: PhantomData,
        })
    }

    /// Python's `apply`: [`apply_async`](Self::apply_async) and wait.
    pub fn apply<A, R>(&self, task: &str, args: &A) -> Result<R, PoolError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.apply_async(task, args)?.get()
    }

    /// Queues one chunk. `new_job`: refused once the pool is closed (an
    /// `imap` already running may go on submitting).
    fn submit(
        &self,
        job: &Arc<Job>,
        index: u64,
        frame: Vec<u8>,
        new_job: bool,
    ) -> Result<(), PoolError> {
        {
            let mut st = self.shared.lock();
            if new_job && st.closed {
                return Err(PoolError::Closed);
            }
            if st.terminating || st.finished {
                return Err(st.broken.clone().unwrap_or(PoolError::Terminated));
            }
            if let Some(e) = &st.broken {
                return Err(e.clone());
            }
            st.pending.push_back(Chunk {
                job: Arc::clone(job),
                index,
                frame,
                retried: false,
            });
            if !std::mem::take(&mut st.hungry) {
                return Ok(()); // the dispatcher is busy: it will see the chunk
            }
        }
        self.shared.wake();
        Ok(())
    }

    /// Python's `close`: no new jobs; the workers exit once the jobs already
    /// submitted are done (an `imap` already created still runs to its end).
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake();
    }

    /// Python's `terminate`: kills the workers now; every task not finished
    /// fails with [`PoolError::Terminated`]. Returns at once; [`join`](Self::join)
    /// waits for the workers to be reaped.
    pub fn terminate(&self) {
        {
            let mut st = self.shared.lock();
            st.closed = true;
            st.terminating = true;
        }
        self.shared.wake();
    }

    /// Python's `join`: waits for the workers to exit, after
    /// [`close`](Self::close) or [`terminate`](Self::terminate)
    /// ([`PoolError::NotClosed`] otherwise).
    pub fn join(&self) -> Result<(), PoolError> {
        if !self.shared.lock().closed {
            return Err(PoolError::NotClosed);
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        Ok(())
    }
}

impl Drop for Pool {
    /// Terminates the pool (Python's `with Pool() as p:` does the same on
    /// exit) and reaps its workers.
    fn drop(&mut self) {
        if !self.shared.lock().finished {
            self.terminate();
        }
        let _ = self.join();
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Pool")
            .field("processes", &self.processes)
            .field("pids", &st.pids)
            .field("pending_chunks", &st.pending.len())
            .field("closed", &st.closed)
            .field("terminating", &st.terminating)
            .finish()
    }
}

/// `map` takes its results in runs of this many chunks (fewer at the end):
/// the caller wakes once per run, and decodes one run while the workers
/// compute the next.
const MAP_BATCH: u64 = 64;

/// A chunk's results as the worker sent them (see `wire`).
enum ChunkResults<R> {
    /// Every item returned: its values.
    AllOk(Vec<R>),
    /// Some item panicked: one result per item.
    Mixed(Vec<Result<R, String>>),
}

/// Decodes a chunk's outcome of `count` items: its tag, its encoding and
/// its length checked.
fn parse_chunk<R: DeserializeOwned>(
    outcome: Outcome,
    count: usize,
) -> Result<ChunkResults<R>, PoolError> {
    let bytes = outcome?;
    let decode_error = |e: crate::ipc::RecvError| PoolError::Decode(e.to_string());
    let (results, len) = match bytes.split_first() {
        Some((&wire::ALL_OK, values)) => {
            let values: Vec<R> = frame::decode(values).map_err(decode_error)?;
            let len = values.len();
            (ChunkResults::AllOk(values), len)
        }
        Some((&wire::MIXED, results)) => {
            let results: Vec<Result<R, String>> = frame::decode(results).map_err(decode_error)?;
            let len = results.len();
            (ChunkResults::Mixed(results), len)
        }
        _ => {
            return Err(PoolError::Decode(
                "a chunk's results without their tag".into(),
            ))
        }
    };
    if len != count {
        return Err(PoolError::Decode(format!(
            "a chunk of {count} items came back with {len} results"
        )));
    }
    Ok(results)
}

/// Decodes a chunk's outcome, of `count` items, onto the end of `out`: its
/// values, or the first item's error (`out` then holds a prefix).
fn decode_chunk_into<R: DeserializeOwned>(
    outcome: Outcome,
    count: usize,
    out: &mut Vec<R>,
) -> Result<(), PoolError> {
    match parse_chunk(outcome, count)? {
        ChunkResults::AllOk(mut values) => out.append(&mut values),
        ChunkResults::Mixed(results) => {
            for result in results {
                out.push(result.map_err(PoolError::Panicked)?);
            }
        }
    }
    Ok(())
}

/// Decodes a chunk's outcome into one result per item (`count` items).
fn decode_chunk<R: DeserializeOwned>(outcome: Outcome, count: usize) -> Vec<Result<R, PoolError>> {
    match parse_chunk(outcome, count) {
        Ok(ChunkResults::AllOk(values)) => values.into_iter().map(Ok).collect(),
        Ok(ChunkResults::Mixed(results)) => results
            .into_iter()
            .map(|r| r.map_err(PoolError::Panicked))
            .collect(),
        Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
    }
}

/// The results of [`Pool::imap`] or [`Pool::imap_unordered`], one per item.
///
/// Pulls the input as results are consumed; dropping it early drops the
/// chunks not yet sent to a worker.
pub struct Imap<'p, I, R> {
    pool: &'p Pool,
    task: &'static str,
    /// `None` once used up (or submission failed).
    items: Option<I>,
    chunksize: usize,
    /// Chunks submitted and not yet consumed, at most.
    window: u64,
    job: Arc<Job>,
    submitted: u64,
    received: u64,
    /// Items per chunk submitted and not yet received.
    counts: HashMap<u64, usize>,
    ordered: bool,
    current: std::vec::IntoIter<Result<R, PoolError>>,
    /// Why submitting stopped, reported once after the last result.
    failed: Option<PoolError>,
}

impl<I, R> Imap<'_, I, R>
where
    I: Iterator,
    I::Item: Serialize,
{
    /// Submits chunks until the window is full or the input ends.
    fn top_up(&mut self) {
        while self.submitted - self.received < self.window {
            let Some(items) = self.items.as_mut() else {
                break;
            };
            let chunk: Vec<I::Item> = items.by_ref().take(self.chunksize).collect();
            if chunk.is_empty() {
                self.end_input();
                break;
            }
            let mut frame = frame::buffer();
            wire::chunk_header(self.task, &mut frame);
            let result = frame::encode_into(&chunk, frame)
                .map_err(|e| PoolError::Encode(e.to_string()))
                .and_then(|frame| self.pool.submit(&self.job, self.submitted, frame, false));
            match result {
                Ok(()) => {
                    self.counts.insert(self.submitted, chunk.len());
                    self.submitted += 1;
                }
                Err(e) => {
                    self.failed = Some(e);
                    self.end_input();
                    break;
                }
            }
        }
    }

    /// `map`'s end, once every chunk is submitted: every value in order,
    /// decoded straight into one `Vec`, or the first error. Results are
    /// decoded in runs of up to [`MAP_BATCH`] chunks as they come, while
    /// the workers run the next ones.
    fn collect_all(mut self) -> Result<Vec<R>, PoolError>
    where
        R: DeserializeOwned,
    {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let mut out = Vec::with_capacity(self.counts.values().sum());
        while self.received < self.submitted {
            let batch = MAP_BATCH.min(self.submitted - self.received);
            for outcome in self.job.take_run(self.received, batch) {
                let count = self.counts.remove(&self.received).unwrap_or(0);
                self.received += 1;
                decode_chunk_into(outcome, count, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The input is used up: a closed pool no longer waits for this job.
    fn end_input(&mut self) {
        if self.items.take().is_some() {
            self.pool.shared.lock().open_jobs -= 1;
            self.pool.shared.wake();
        }
    }
}

impl<I, R> Iterator for Imap<'_, I, R>
where
    I: Iterator,
    I::Item: Serialize,
    R: DeserializeOwned,
{
    type Item = Result<R, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.current.next() {
                return Some(result);
            }
            self.top_up();
            if self.submitted == self.received {
                return self.failed.take().map(Err);
            }
            let want = self.ordered.then_some(self.received);
            let (index, outcome) = self.job.wait(want, None, true)?;
            self.received += 1;
            let count = self.counts.remove(&index).unwrap_or(0);
            let outcome = outcome.expect("taken");
            self.current = decode_chunk(outcome, count).into_iter();
        }
    }
}

impl<I, R> Drop for Imap<'_, I, R> {
    fn drop(&mut self) {
        let mut st = self.pool.shared.lock();
        st.pending.retain(|c| !Arc::ptr_eq(&c.job, &self.job));
        if self.items.take().is_some() {
            st.open_jobs -= 1;
        }
        drop(st);
        self.pool.shared.wake();
    }
}

impl<I, R> fmt::Debug for Imap<'_, I, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("task", &self.task)
            .field("chunksize", &self.chunksize)
            .field("submitted_chunks", &self.submitted)
            .field("received_chunks", &self.received)
            .field("ordered", &self.ordered)
            .finish()
    }
}

/// The handle of [`Pool::apply_async`] (Python's `AsyncResult`).
pub struct AsyncResult<R> {
    job: Arc<Job>,
    _result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> AsyncResult<R> {
    /// Waits for the result (Python's `get()`).
    pub fn get(self) -> Result<R, PoolError> {
        let (_, outcome) = self.job.wait(Some(0), None, true).expect("no deadline");
        decode_chunk(outcome.expect("taken"), 1)
            .pop()
            .expect("one result")
    }

    /// True once the result is there (Python's `ready()`).
    pub fn ready(&self) -> bool {
        self.job
            .wait(Some(0), Some(Instant::now()), false)
            .is_some()
    }

    /// Waits at most `timeout` for the result; true if it is there
    /// (Python's `wait(timeout)`, then `ready()`).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.job
            .wait(Some(0), Some(Instant::now() + timeout), false)
            .is_some()
    }
}

impl<R> fmt::Debug for AsyncResult<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult").finish_non_exhaustive()
    }
}
