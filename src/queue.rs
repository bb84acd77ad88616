//! `Queue`, `LifoQueue` and `PriorityQueue`: Python's `queue` module,
//! with the Python 3.13 semantics, shutdown included.
//!
//! | Python | synclings |
//! |---|---|
//! | `queue.Queue(maxsize)` / `LifoQueue` / `PriorityQueue` | [`Queue::new`] / [`LifoQueue::new`] / [`PriorityQueue::new`] (`0` = unbounded) |
//! | `put(x)` / `put(x, timeout=t)` / `put_nowait(x)` | `put` / `put_timeout` / `try_put` → `Result<(), PutError<T>>` |
//! | `get()` / `get(timeout=t)` / `get_nowait()` | `get` / `get_timeout` / `try_get` → `Result<T, GetError>` |
//! | `queue.Full` / `queue.Empty` / `queue.ShutDown` | [`PutError::Full`] / [`GetError::Empty`] / [`PutError::ShutDown`], [`GetError::ShutDown`] |
//! | `qsize()` / `empty()` / `full()` / `maxsize` | `len` / `is_empty` / `is_full` / `maxsize` |
//! | `task_done()` / `join()` | `task_done` → `Result<(), TaskDoneError>` / `join` (and `join_timeout`) |
//! | `shutdown(immediate)` / `is_shutdown` | `shutdown(immediate)` / `is_shutdown()` |
//!
//! As in Python, `ShutDown` wins over `Full` and `Empty`: after a shutdown
//! every put fails (handing its item back), gets drain what is left and then
//! fail, and every blocked putter and getter wakes up. `shutdown(true)` also
//! drops the remaining items, counting each as done, which releases `join`
//! once nothing else is unfinished.
//!
//! # How it works
//!
//! One engine serves the three flavours; only the storage discipline differs
//! (`VecDeque` for FIFO, `Vec` for LIFO, a `BinaryHeap` of `Reverse` for
//! smallest-first). Its state lives under one [`Mutex`], with Python's three
//! condition variables: `not_empty` (getters sleep on it), `not_full`
//! (putters) and `all_tasks_done` (`join`).
//!
//! - **Invariant**: `items.len() <= maxsize` when `maxsize > 0`;
//!   `unfinished_tasks` counts the puts not yet matched by a `task_done`; the
//!   atomic `len` mirrors `items.len()`.
//! - **Wait loop**: a blocked call first spins briefly on the `len` mirror
//!   without the lock (waking a thread costs far more than a few spins), then
//!   registers as a sleeper and waits on its condition variable, re-checking
//!   shutdown and its predicate after every wake-up. A timed wait computes
//!   its deadline once and gives up when the condition variable reports the
//!   deadline passed (after one last check of the predicate).
//! - **Wake rule**: a put wakes one sleeping getter, a get wakes one sleeping
//!   putter, the last `task_done` wakes every joiner, and a shutdown wakes
//!   everyone; each notification is skipped when nobody sleeps.
//!
//! # Examples
//!
//! A producer and a consumer, Python's classic worker pattern:
//!
//! ```
//! use std::sync::Arc;
//! use synclings::{GetError, Queue};
//!
//! let q = Arc::new(Queue::new(2));
//! let consumer = {
//!     let q = Arc::clone(&q);
//!     std::thread::spawn(move || {
//!         let mut sum = 0;
//!         // Drains the queue, then `get` reports the shutdown.
//!         while let Ok(n) = q.get() {
//!             sum += n;
//!             q.task_done().unwrap();
//!         }
//!         assert_eq!(q.get(), Err(GetError::ShutDown));
//!         sum
//!     })
//! };
//! for n in 1..=10 {
//!     q.put(n).unwrap(); // blocks while 2 items wait
//! }
//! q.join(); // every item was taken and marked done
//! q.shutdown(false);
//! assert_eq!(consumer.join().unwrap(), 55);
//! assert!(q.put(11).unwrap_err().is_shutdown());
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

// Relaxed: `len` is a hint for spinners and a snapshot for `len()`; every
// decision that matters is re-taken under the mutex, which orders the data.
use crate::sync::atomic::AtomicUsize;
use crate::sync::atomic::Ordering::Relaxed;
use crate::sync::{Backoff, CachePadded, Condvar, Duration, Instant, Mutex, MutexGuard};

/// Capacity reserved up front (at most): a bounded queue never allocates
/// after warm-up, and `Queue::new(0)` does not reserve a huge buffer.
const MAX_PREALLOCATED: usize = 1024;

/// The error of a failed put; the item is handed back in both cases.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue was full (Python's `queue.Full`): a non-blocking put found no
    /// room, or a timed put found none before its timeout.
    Full(T),
    /// The queue was shut down (Python's `queue.ShutDown`): no put can succeed.
    ShutDown(T),
}

impl<T> PutError<T> {
    /// Gives back the item that could not be put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::ShutDown(item) => item,
        }
    }

    /// True for [`PutError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }

    /// True for [`PutError::ShutDown`].
    pub fn is_shutdown(&self) -> bool {
        matches!(self, PutError::ShutDown(_))
    }
}

// By hand: an error must be `Debug` whatever the item it carries.
impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str(
                "the queue is full: get items out first, block with `put`, \
                 or create the queue with a larger maxsize (the item is handed back)",
            ),
            PutError::ShutDown(_) => f.write_str(
                "the queue is shut down and accepts no more items \
                 (the item is handed back; stop producing)",
            ),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

/// The error of a failed get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetError {
    /// The queue was empty (Python's `queue.Empty`): a non-blocking get found
    /// no item, or a timed get found none before its timeout.
    Empty,
    /// The queue was shut down and holds no more items (Python's
    /// `queue.ShutDown`): no get can succeed.
    ShutDown,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str(
                "the queue is empty: put an item first, or block with `get`/`get_timeout`",
            ),
            GetError::ShutDown => f.write_str(
                "the queue is shut down and drained: no more items will come; stop consuming",
            ),
        }
    }
}

impl std::error::Error for GetError {}

/// `task_done` was called more times than items were put (Python raises
/// `ValueError('task_done() called too many times')`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "task_done() called too many times: call it once per item taken with get, \
             after processing it",
        )
    }
}

impl std::error::Error for TaskDoneError {}

/// A storage discipline: the order in which the engine hands items out.
trait Discipline: Default {
    type Item;
    fn with_capacity(capacity: usize) -> Self;
    fn push(&mut self, item: Self::Item);
    fn pop(&mut self) -> Option<Self::Item>;
    fn len(&self) -> usize;
}

/// First in, first out.
struct Fifo<T>(VecDeque<T>);

/// Last in, first out.
struct Lifo<T>(Vec<T>);

/// Smallest first (`BinaryHeap` is a max-heap, hence `Reverse`).
struct Priority<T: Ord>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Discipline for Fifo<T> {
    type Item = T;
    fn with_capacity(capacity: usize) -> Self {
        Fifo(VecDeque::with_capacity(capacity))
    }
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Discipline for Lifo<T> {
    type Item = T;
    fn with_capacity(capacity: usize) -> Self {
        Lifo(Vec::with_capacity(capacity))
    }
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T: Ord> Discipline for Priority<T> {
    type Item = T;
    fn with_capacity(capacity: usize) -> Self {
        Priority(BinaryHeap::with_capacity(capacity))
    }
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// How long a call may block.
#[derive(Clone, Copy)]
enum Wait {
    /// Not at all (`try_*`).
    No,
    /// Until it succeeds or the queue shuts down.
    Forever,
    /// Until this deadline.
    Until(Instant),
}

impl Wait {
    /// The deadline `timeout` from now, computed once; an overflowing
    /// timeout means "no deadline".
    fn timeout(timeout: Duration) -> Wait {
        Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until)
    }

    /// Sleeps on `cv`; returns the guard and whether the deadline passed.
    fn on<'a, D>(self, cv: &Condvar, guard: Guard<'a, D>) -> (Guard<'a, D>, bool) {
        match self {
            Wait::No => (guard, true),
            Wait::Forever => (cv.wait(guard), false),
            Wait::Until(deadline) => cv.wait_until(guard, deadline),
        }
    }
}

type Guard<'a, D> = MutexGuard<'a, State<D>>;

/// Everything the mutex protects.
struct State<D> {
    /// The items, in the discipline's order.
    items: D,
    /// Puts not yet matched by a `task_done` (Python's `unfinished_tasks`).
    unfinished_tasks: usize,
    /// Set once by `shutdown`, never cleared.
    is_shutdown: bool,
    /// Getters asleep on `not_empty` (or just woken, not yet relocked).
    sleeping_getters: usize,
    /// Putters asleep on `not_full` (or just woken, not yet relocked).
    sleeping_putters: usize,
    /// Joiners asleep on `all_tasks_done` (or just woken, not yet relocked).
    sleeping_joiners: usize,
}

/// The engine shared by the three flavours.
struct Engine<D> {
    /// Mirror of `state.items.len()`, stored under the lock after every change
    /// and read without it (spinners, `len()`). Padded: it is the hot line
    /// spinners read while the lock holder writes the state.
    len: CachePadded<AtomicUsize>,
    /// The queue's state; the lock is kept for a few instructions only.
    state: CachePadded<Mutex<State<D>>>,
    /// Getters wait here for an item (or the shutdown).
    not_empty: Condvar,
    /// Putters wait here for room (or the shutdown).
    not_full: Condvar,
    /// Joiners wait here for `unfinished_tasks == 0`.
    all_tasks_done: Condvar,
    /// The bound; 0 means unbounded.
    maxsize: usize,
}

impl<D: Discipline> Engine<D> {
    fn new(maxsize: usize) -> Self {
        let reserve = if maxsize == 0 {
            0
        } else {
            maxsize.min(MAX_PREALLOCATED)
        };
        Engine {
            len: CachePadded::new(AtomicUsize::new(0)),
            state: CachePadded::new(Mutex::new(State {
                items: D::with_capacity(reserve),
                unfinished_tasks: 0,
                is_shutdown: false,
                sleeping_getters: 0,
                sleeping_putters: 0,
                sleeping_joiners: 0,
            })),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_tasks_done: Condvar::new(),
            maxsize,
        }
    }

    fn full(&self, len: usize) -> bool {
        self.maxsize > 0 && len >= self.maxsize
    }

    fn put(&self, item: D::Item, wait: Wait) -> Result<(), PutError<D::Item>> {
        let mut backoff = Backoff::new();
        let mut out_of_time = matches!(wait, Wait::No);
        let mut state = self.state.lock();
        loop {
            if state.is_shutdown {
                return Err(PutError::ShutDown(item));
            }
            if !self.full(state.items.len()) {
                break;
            }
            if out_of_time {
                return Err(PutError::Full(item));
            }
            state = if backoff.is_completed() {
                state.sleeping_putters += 1;
                let (mut woken, timed_out) = wait.on(&self.not_full, state);
                woken.sleeping_putters -= 1;
                out_of_time = timed_out;
                woken
            } else {
                drop(state);
                spin(&mut backoff, || !self.full(self.len.load(Relaxed)));
                self.state.lock()
            };
        }
        state.items.push(item);
        state.unfinished_tasks += 1;
        self.len.store(state.items.len(), Relaxed);
        if state.sleeping_getters > 0 {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    fn get(&self, wait: Wait) -> Result<D::Item, GetError> {
        let mut backoff = Backoff::new();
        let mut out_of_time = matches!(wait, Wait::No);
        let mut state = self.state.lock();
        loop {
            // Items first: after a (non-immediate) shutdown, gets drain.
            if let Some(item) = state.items.pop() {
                self.len.store(state.items.len(), Relaxed);
                if state.sleeping_putters > 0 {
                    self.not_full.notify_one();
                }
                return Ok(item);
            }
            if state.is_shutdown {
                return Err(GetError::ShutDown);
            }
            if out_of_time {
                return Err(GetError::Empty);
            }
            state = if backoff.is_completed() {
                state.sleeping_getters += 1;
                let (mut woken, timed_out) = wait.on(&self.not_empty, state);
                woken.sleeping_getters -= 1;
                out_of_time = timed_out;
                woken
            } else {
                drop(state);
                spin(&mut backoff, || self.len.load(Relaxed) > 0);
                self.state.lock()
            };
        }
    }

    fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut state = self.state.lock();
        if state.unfinished_tasks == 0 {
            return Err(TaskDoneError);
        }
        state.unfinished_tasks -= 1;
        if state.unfinished_tasks == 0 && state.sleeping_joiners > 0 {
            self.all_tasks_done.notify_all();
        }
        Ok(())
    }

    /// Waits until every put item was marked done; false if `wait` ran out.
    fn join(&self, wait: Wait) -> bool {
        let mut out_of_time = matches!(wait, Wait::No);
        let mut state = self.state.lock();
        while state.unfinished_tasks > 0 {
            if out_of_time {
                return false;
            }
            state.sleeping_joiners += 1;
            let (woken, timed_out) = wait.on(&self.all_tasks_done, state);
            state = woken;
            state.sleeping_joiners -= 1;
            out_of_time = timed_out;
        }
        true
    }

    fn shutdown(&self, immediate: bool) {
        let mut state = self.state.lock();
        state.is_shutdown = true;
        // Dropped after unlocking: an item's `Drop` may run arbitrary code.
        let mut dropped = None;
        if immediate {
            let items = std::mem::take(&mut state.items);
            state.unfinished_tasks = state.unfinished_tasks.saturating_sub(items.len());
            self.len.store(0, Relaxed);
            dropped = Some(items);
            if state.sleeping_joiners > 0 {
                self.all_tasks_done.notify_all();
            }
        }
        if state.sleeping_getters > 0 {
            self.not_empty.notify_all();
        }
        if state.sleeping_putters > 0 {
            self.not_full.notify_all();
        }
        drop(state);
        drop(dropped);
    }

    fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct(name)
            .field("len", &state.items.len())
            .field("maxsize", &self.maxsize)
            .field("unfinished_tasks", &state.unfinished_tasks)
            .field("is_shutdown", &state.is_shutdown)
            .finish()
    }
}

/// Spins (lock-free) until `ready()` or until the backoff says that parking
/// pays off.
fn spin(backoff: &mut Backoff, ready: impl Fn() -> bool) {
    loop {
        backoff.snooze();
        if ready() || backoff.is_completed() {
            return;
        }
    }
}

/// Generates a public flavour: a thin handle over the engine with the
/// discipline `$storage`, and the whole shared API.
macro_rules! queue_flavour {
    ($(#[$doc:meta])* $name:ident<T $(: $bound:ident)?>, $storage:ident) => {
        $(#[$doc])*
        pub struct $name<T $(: $bound)?> {
            engine: Engine<$storage<T>>,
        }

        impl<T $(: $bound)?> $name<T> {
            /// A new queue holding at most `maxsize` items; `0` means
            /// unbounded, as in Python.
            pub fn new(maxsize: usize) -> Self {
                $name { engine: Engine::new(maxsize) }
            }

            /// Puts `item`, blocking while the queue is full.
            ///
            /// Fails with [`PutError::ShutDown`] (handing the item back) if the
            /// queue is or gets shut down meanwhile.
            pub fn put(&self, item: T) -> Result<(), PutError<T>> {
                self.engine.put(item, Wait::Forever)
            }

            /// Puts `item`, blocking at most `timeout` while the queue is full.
            ///
            /// Fails with [`PutError::Full`] if no room was found in time (no
            /// earlier than `timeout`), with [`PutError::ShutDown`] if the queue
            /// is or gets shut down; the item is handed back either way.
            pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
                self.engine.put(item, Wait::timeout(timeout))
            }

            /// Puts `item` without blocking (Python's `put_nowait`).
            ///
            /// Fails with [`PutError::Full`] or [`PutError::ShutDown`]
            /// (shutdown wins), handing the item back.
            pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
                self.engine.put(item, Wait::No)
            }

            /// Takes the next item, blocking while the queue is empty.
            ///
            /// After a shutdown, the remaining items are still handed out;
            /// then it fails with [`GetError::ShutDown`].
            pub fn get(&self) -> Result<T, GetError> {
                self.engine.get(Wait::Forever)
            }

            /// Takes the next item, blocking at most `timeout` while the queue
            /// is empty.
            ///
            /// Fails with [`GetError::Empty`] if no item came in time (no
            /// earlier than `timeout`), with [`GetError::ShutDown`] if the
            /// queue is shut down and empty.
            pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
                self.engine.get(Wait::timeout(timeout))
            }

            /// Takes the next item without blocking (Python's `get_nowait`).
            ///
            /// Fails with [`GetError::Empty`], or [`GetError::ShutDown`] once
            /// the queue is shut down and empty.
            pub fn try_get(&self) -> Result<T, GetError> {
                self.engine.get(Wait::No)
            }

            /// The number of items waiting (Python's `qsize()`); a snapshot
            /// read without locking.
            pub fn len(&self) -> usize {
                self.engine.len.load(Relaxed)
            }

            /// True if no item is waiting (Python's `empty()`); a snapshot.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// True if the queue is bounded and holds `maxsize` items (Python's
            /// `full()`); a snapshot.
            pub fn is_full(&self) -> bool {
                self.engine.full(self.len())
            }

            /// The bound given to `new`; 0 means unbounded.
            pub fn maxsize(&self) -> usize {
                self.engine.maxsize
            }

            /// Items put and not yet marked done (Python's `unfinished_tasks`).
            pub fn unfinished_tasks(&self) -> usize {
                self.engine.state.lock().unfinished_tasks
            }

            /// Marks one item taken with `get` as processed; when every put
            /// item is done, [`join`](Self::join) returns.
            ///
            /// Fails with [`TaskDoneError`], changing nothing, when called more
            /// times than items were put.
            pub fn task_done(&self) -> Result<(), TaskDoneError> {
                self.engine.task_done()
            }

            /// Blocks until every item ever put was marked done with
            /// [`task_done`](Self::task_done) (or dropped by an immediate
            /// shutdown).
            pub fn join(&self) {
                self.engine.join(Wait::Forever);
            }

            /// Like [`join`](Self::join), giving up after `timeout`; true if
            /// every item was done.
            pub fn join_timeout(&self, timeout: Duration) -> bool {
                self.engine.join(Wait::timeout(timeout))
            }

            /// Shuts the queue down (Python 3.13's `shutdown`): every later
            /// put fails, gets fail once the queue is empty, and every blocked
            /// putter and getter wakes up to see it.
            ///
            /// With `immediate`, the waiting items are dropped at once (each
            /// counting as done, which may release [`join`](Self::join)), so
            /// gets fail at once too. Calling it again is harmless.
            pub fn shutdown(&self, immediate: bool) {
                self.engine.shutdown(immediate);
            }

            /// True once [`shutdown`](Self::shutdown) was called.
            pub fn is_shutdown(&self) -> bool {
                self.engine.state.lock().is_shutdown
            }
        }

        /// An unbounded queue (`maxsize` 0).
        impl<T $(: $bound)?> Default for $name<T> {
            fn default() -> Self {
                Self::new(0)
            }
        }

        impl<T $(: $bound)?> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.engine.fmt(stringify!($name), f)
            }
        }
    };
}

queue_flavour! {
    /// A first-in, first-out queue: Python's `queue.Queue`.
    ///
    /// See the [module docs](self) for the semantics shared by the three
    /// flavours.
    ///
    /// # Examples
    ///
    /// ```
    /// use synclings::{GetError, PutError, Queue};
    ///
    /// let q = Queue::new(2);
    /// q.put("a").unwrap();
    /// q.put("b").unwrap();
    /// assert_eq!(q.try_put("c"), Err(PutError::Full("c")));
    /// assert_eq!(q.get(), Ok("a"));
    /// assert_eq!(q.get(), Ok("b"));
    /// assert_eq!(q.try_get(), Err(GetError::Empty));
    /// ```
    Queue<T>, Fifo
}

queue_flavour! {
    /// A last-in, first-out queue (a stack): Python's `queue.LifoQueue`.
    ///
    /// See the [module docs](self) for the semantics shared by the three
    /// flavours.
    ///
    /// # Examples
    ///
    /// ```
    /// use synclings::LifoQueue;
    ///
    /// let q = LifoQueue::new(0);
    /// for n in 1..=3 {
    ///     q.put(n).unwrap();
    /// }
    /// assert_eq!([q.get(), q.get(), q.get()], [Ok(3), Ok(2), Ok(1)]);
    /// ```
    LifoQueue<T>, Lifo
}

queue_flavour! {
    /// A queue handing out the smallest item first: Python's
    /// `queue.PriorityQueue` (a heap, like `heapq`). Equal items come out in
    /// no particular order; put `(priority, sequence, item)` tuples to break
    /// ties by arrival.
    ///
    /// See the [module docs](self) for the semantics shared by the three
    /// flavours.
    ///
    /// # Examples
    ///
    /// ```
    /// use synclings::PriorityQueue;
    ///
    /// let q = PriorityQueue::new(0);
    /// q.put((2, "write the docs")).unwrap();
    /// q.put((1, "fix the bug")).unwrap();
    /// q.put((3, "rest")).unwrap();
    /// assert_eq!(q.get(), Ok((1, "fix the bug")));
    /// assert_eq!(q.get(), Ok((2, "write the docs")));
    /// ```
    PriorityQueue<T: Ord>, Priority
}
