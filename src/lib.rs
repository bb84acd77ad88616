//! # synclings
//!
//! Python's concurrency primitives rebuilt in Rust, for real: `threading`'s
//! `Event`, `Lock`, `RLock`, `Condition`, `Semaphore`, `BoundedSemaphore`,
//! `Barrier` and `Timer`, `sched`, `queue`'s three queues and
//! `concurrent.futures.ThreadPoolExecutor`. Each one keeps Python's behaviour
//! (checked against CPython's own test-suite semantics), is model-checked with
//! [loom](https://docs.rs/loom), and is fast enough for production.
//!
//! ## Python → Rust
//!
//! | Python | synclings |
//! |---|---|
//! | `threading.Event()` | [`Event::new`]: `set`, `clear`, `is_set`, `wait`, `wait_timeout(d) -> bool` |
//! | `threading.Lock()` | [`Lock<T>`](Lock): `acquire() -> guard`, `try_acquire`, `acquire_timeout`, `is_locked` |
//! | `threading.RLock()` | [`RLock<T>`](RLock): the same, re-entrant; `is_owned`, `recursion_count` |
//! | `threading.Condition()` | [`Condition<T>`](Condition): `lock()` → guard with `wait`, `wait_timeout`, `wait_for`, `wait_for_timeout`, `notify(n)`, `notify_all` |
//! | `threading.Semaphore(n)` | [`Semaphore::new`]: `acquire() -> Permit`, `try_acquire`, `acquire_timeout`, `release(n)`, `available` |
//! | `threading.BoundedSemaphore(n)` | [`BoundedSemaphore::new`]: `release(n) -> Result` refuses to exceed `n` |
//! | `threading.Barrier(parties, action, timeout)` | [`Barrier::new`], [`Barrier::with_action`]: `wait() -> Result<index, BrokenBarrier>`, `wait_timeout`, `abort`, `reset` |
//! | `threading.Timer(interval, f)` | [`Timer::new`]: `start() -> Result`, `cancel`, `join`, `is_finished` |
//! | `sched.scheduler` (thread-safe) | [`Scheduler`]: many timers on one thread, `schedule`, `schedule_periodic`, `cancel` |
//! | `queue.Queue` / `LifoQueue` / `PriorityQueue` | [`Queue`], [`LifoQueue`], [`PriorityQueue`]: `put`, `get`, `try_*`, `*_timeout`, `task_done`, `join`, `shutdown(immediate)` |
//! | `queue.Full` / `Empty` / `ShutDown` | [`PutError::Full`], [`GetError::Empty`], [`PutError::ShutDown`] / [`GetError::ShutDown`] |
//! | `threading.current_thread().name`, `active_count()`, `local()` | [`thread::current_name`], [`thread::active_count`], `thread_local!` (see [`thread`]) |
//! | `concurrent.futures.ThreadPoolExecutor` | [`thread::ThreadPool`]: `submit -> TaskHandle`, `map`, `shutdown(wait)` |
//! | producer-consumer (seed program 7), the textbook's bounded buffer | [`producer_consumer`]: the three models; [`producer_consumer::BoundedBuffer`] (two semaphores and a lock) |
//! | `selectors.DefaultSelector`, `EpollSelector`, `PollSelector`, `SelectSelector`, `KqueueSelector` | [`selector::DefaultSelector`] (alias [`selector::Selector`]), `EpollSelector`, `PollSelector`, `SelectSelector`, [`selector::PollingSelector`]: one [`selector::BaseSelector`] per backend, `register`, `modify`, `unregister`, `select(timeout)`, `get_key`, `close` |
//! | `multiprocessing`: `Process`, `Pipe`, `Queue`, `JoinableQueue`, `Lock`, `Semaphore`, `Value`, `Array` | [`ipc`] (Unix): real child processes, see its docs |
//! | `asyncio`: `run`, `create_task`, `sleep`, `wait_for`, `gather`, `TaskGroup`, `to_thread`, `Event`, `Lock`, `Queue`, `start_server`, streams | [`asyncio`]: an event loop on the selector, see its docs |
//! | `multiprocessing.Pool`, `Manager`, `connection.Listener`/`Client`, `Process(daemon=True)` | [`ipc::Pool`], [`ipc::Manager`], [`ipc::connection`], [`ipc::Builder::daemon`] |
//! | `Thread(daemon=True)`, the join of non-daemon threads at exit | [`thread::Builder::daemon`], [`thread::join_non_daemon`] |
//!
//! The rule of the mapping: Python's name where Rust allows it, `try_*` for
//! non-blocking calls, `*_timeout(Duration)` for timed calls, RAII guards
//! instead of `release()`, `Result` instead of exceptions. Python errors that
//! Rust's types rule out (a negative timeout, `Semaphore(-1)`, `notify()`
//! without holding the lock, releasing a lock you do not hold) are impossible
//! by construction.
//!
//! ## One example per primitive
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use synclings::*;
//!
//! // Event: a gate that many threads wait on.
//! let gate = Arc::new(Event::new());
//! let g = gate.clone();
//! let waiter = std::thread::spawn(move || g.wait_timeout(Duration::from_secs(10)));
//! gate.set();
//! assert!(waiter.join().unwrap());
//!
//! // Lock<T>: the data lives inside the lock, the guard releases it.
//! let counter = Lock::new(0);
//! *counter.acquire() += 1;
//! assert_eq!(*counter.acquire(), 1);
//!
//! // RLock: the owner may re-enter.
//! let r = RLock::new(());
//! let outer = r.acquire();
//! let inner = r.acquire();
//! assert_eq!(r.recursion_count(), 2);
//! drop((inner, outer));
//!
//! // Condition: wait for a predicate, notified by another thread.
//! let cond = Arc::new(Condition::new(Vec::<i32>::new()));
//! let c = cond.clone();
//! let producer = std::thread::spawn(move || {
//!     let mut items = c.lock();
//!     items.push(42);
//!     items.notify(1);
//! });
//! let mut items = cond.lock();
//! assert!(items.wait_for_timeout(|v| !v.is_empty(), Duration::from_secs(10)));
//! assert_eq!(items.pop(), Some(42));
//! drop(items);
//! producer.join().unwrap();
//!
//! // Semaphore: at most 2 at a time.
//! let sem = Semaphore::new(2);
//! let a = sem.acquire();
//! let _b = sem.acquire();
//! assert!(sem.try_acquire().is_none());
//! drop(a);
//! assert!(sem.try_acquire().is_some());
//!
//! // BoundedSemaphore: releasing more than was taken is an error.
//! let bounded = BoundedSemaphore::new(1);
//! assert!(bounded.release(1).is_err());
//!
//! // Barrier: every party gets a distinct index.
//! let barrier = Arc::new(Barrier::new(2));
//! let b = barrier.clone();
//! let other = std::thread::spawn(move || b.wait().unwrap());
//! let mine = barrier.wait().unwrap();
//! assert_ne!(mine, other.join().unwrap());
//!
//! // Timer: run once after a delay, unless cancelled first.
//! let fired = Arc::new(Event::new());
//! let f = fired.clone();
//! let timer = Timer::new(Duration::from_millis(10), move || f.set());
//! timer.start().unwrap();
//! timer.join().unwrap();
//! assert!(fired.is_set());
//!
//! // Scheduler: many timers, one thread.
//! let sched = Scheduler::new();
//! let done = Arc::new(Event::new());
//! let d = done.clone();
//! sched.schedule(Duration::from_millis(5), move || d.set());
//! assert!(done.wait_timeout(Duration::from_secs(10)));
//!
//! // Queue: bounded FIFO with task_done / join.
//! let q = Queue::new(2);
//! q.put("job").unwrap();
//! assert_eq!(q.get().unwrap(), "job");
//! q.task_done().unwrap();
//! q.join();
//! assert!(matches!(q.try_get(), Err(GetError::Empty)));
//!
//! // LifoQueue and PriorityQueue: other orders, same API.
//! let lifo = LifoQueue::new(0);
//! lifo.put(1).unwrap();
//! lifo.put(2).unwrap();
//! assert_eq!(lifo.get().unwrap(), 2);
//! let prio = PriorityQueue::new(0);
//! prio.put(5).unwrap();
//! prio.put(1).unwrap();
//! assert_eq!(prio.get().unwrap(), 1);
//!
//! // ThreadPool: submit work, get results (or the panic) back.
//! let pool = thread::ThreadPool::new(2, 8).unwrap();
//! let task = pool.submit(|| 6 * 7).unwrap();
//! assert_eq!(task.join().unwrap(), 42);
//! ```
//!
//! ## Layers
//!
//! Everything is built on [`sync`], a facade over `parking_lot` that switches
//! to loom under `RUSTFLAGS="--cfg loom"`, with timeouts modelled as events
//! that can happen at any interleaving point. Data flows one way:
//! `sync` ← primitives ← (queue, timer, scheduler, thread pool) ← (ipc,
//! selector) ← asyncio ← net.

#![warn(missing_docs)]

#[cfg(unix)]
pub mod asyncio;
pub mod barrier;
pub mod condition;
pub mod event;
#[cfg(unix)]
pub mod ipc;
pub mod lock;
pub mod net;
pub mod producer_consumer;
pub mod queue;
pub mod scheduler;
pub mod selector;
pub mod semaphore;
pub mod sync;
pub mod testing;
pub mod thread;
pub mod timer;

pub use barrier::{Barrier, BrokenBarrier, ZeroParties};
pub use condition::{Condition, ConditionGuard};
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use queue::{GetError, LifoQueue, PriorityQueue, PutError, Queue, TaskDoneError};
pub use scheduler::{Scheduler, TimerId};
pub use semaphore::{BoundedSemaphore, Permit, ReleaseError, Semaphore};
pub use thread::{SubmitError, TaskError, TaskHandle, ThreadPool, ThreadPoolError, TrySubmitError};
pub use timer::{Timer, TimerError};
