//! # Solution 11 — a bounded `Queue<T>` with Python's three conditions
//!
//! The teaching version, built the way CPython's `queue.py` is: one mutex,
//! and three condition variables that all use it. (The library's
//! `synclings::Queue` adds a spin phase, skips notifications nobody waits
//! for and serves three storage disciplines; both pass the same suite.)
//!
//! - **State** (behind the one `Mutex`): the items, Python's
//!   `unfinished_tasks` (puts not yet matched by a `task_done`) and the
//!   shutdown flag. `maxsize` never changes, so it lives outside.
//! - **Invariant**: `items.len() <= maxsize` when `maxsize > 0`;
//!   `unfinished_tasks >= items.len()`.
//! - **Wait loops**: a putter sleeps on `not_full`, a getter on `not_empty`,
//!   `join` on `all_tasks_done`; each re-checks shutdown and its predicate
//!   after every wake-up. A timed call computes its deadline once and, when
//!   `wait_until` reports the deadline passed, checks its predicate one last
//!   time before giving up.
//! - **Wake rules**: a put frees a getter (`not_empty.notify_one`), a get
//!   frees a putter (`not_full.notify_one`), the last `task_done` frees every
//!   joiner, and a shutdown wakes everybody (they all must see it).
//!
//! `cargo run -p solutions --bin queue` walks through exam question 32
//! (`put`, `put_nowait`, `get`, `get_nowait` on `Queue(3)`), then the
//! classic worker with `task_done`/`join` and a shutdown.

use std::collections::VecDeque;
use std::sync::Arc;

use synclings::sync::{Condvar, Duration, Instant, Mutex, MutexGuard};
use synclings::{GetError, PutError, TaskDoneError};

/// A first-in, first-out queue: Python's `queue.Queue`.
pub struct Queue<T> {
    /// Everything that changes, behind the one lock the three conditions share.
    state: Mutex<State<T>>,
    /// Getters sleep here until an item (or the shutdown) comes.
    not_empty: Condvar,
    /// Putters sleep here until there is room (or the shutdown comes).
    not_full: Condvar,
    /// `join` sleeps here until `unfinished_tasks` drops to 0.
    all_tasks_done: Condvar,
    /// The bound given to `new`; 0 means unbounded.
    maxsize: usize,
}

/// What the mutex protects.
struct State<T> {
    /// The items, oldest first.
    items: VecDeque<T>,
    /// Items put and not yet marked done with `task_done`.
    unfinished_tasks: usize,
    /// Set once by `shutdown`, never cleared.
    is_shutdown: bool,
}

/// How long a put or a get may block.
#[derive(Clone, Copy)]
enum Wait {
    /// Not at all (`try_put`, `try_get`).
    No,
    /// Until it can proceed or the queue shuts down.
    Forever,
    /// Until this deadline.
    Until(Instant),
}

impl Wait {
    /// The deadline `timeout` from now, computed once; a timeout too far
    /// away to represent means "no deadline".
    fn timeout(timeout: Duration) -> Wait {
        Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until)
    }

    /// Sleeps on `cv`; returns the guard and whether the time is up.
    fn on<'a, S>(self, cv: &Condvar, guard: MutexGuard<'a, S>) -> (MutexGuard<'a, S>, bool) {
        match self {
            Wait::No => (guard, true),
            Wait::Forever => (cv.wait(guard), false),
            Wait::Until(deadline) => cv.wait_until(guard, deadline),
        }
    }
}

impl<T> Queue<T> {
    /// A queue holding at most `maxsize` items; 0 means unbounded.
    pub fn new(maxsize: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                unfinished_tasks: 0,
                is_shutdown: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_tasks_done: Condvar::new(),
            maxsize,
        }
    }

    fn full(&self, state: &State<T>) -> bool {
        self.maxsize > 0 && state.items.len() >= self.maxsize
    }

    /// The one put behind `put`, `put_timeout` and `try_put`.
    fn put_waiting(&self, item: T, wait: Wait) -> Result<(), PutError<T>> {
        let mut out_of_time = matches!(wait, Wait::No);
        let mut state = self.state.lock();
        loop {
            // ShutDown wins over Full.
            if state.is_shutdown {
                return Err(PutError::ShutDown(item));
            }
            if !self.full(&state) {
                break;
            }
            if out_of_time {
                return Err(PutError::Full(item));
            }
            (state, out_of_time) = wait.on(&self.not_full, state);
        }
        state.items.push_back(item);
        state.unfinished_tasks += 1;
        self.not_empty.notify_one();
        Ok(())
    }

    /// The one get behind `get`, `get_timeout` and `try_get`.
    fn get_waiting(&self, wait: Wait) -> Result<T, GetError> {
        let mut out_of_time = matches!(wait, Wait::No);
        let mut state = self.state.lock();
        loop {
            // Items first: after a (non-immediate) shutdown, getters drain.
            if let Some(item) = state.items.pop_front() {
                self.not_full.notify_one();
                return Ok(item);
            }
            if state.is_shutdown {
                return Err(GetError::ShutDown);
            }
            if out_of_time {
                return Err(GetError::Empty);
            }
            (state, out_of_time) = wait.on(&self.not_empty, state);
        }
    }

    /// Puts `item`, blocking while the queue is full (Python's `put`).
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_waiting(item, Wait::Forever)
    }

    /// Puts `item`, blocking at most `timeout` while the queue is full.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_waiting(item, Wait::timeout(timeout))
    }

    /// Puts `item` without blocking (Python's `put_nowait`).
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_waiting(item, Wait::No)
    }

    /// Takes the oldest item, blocking while the queue is empty.
    pub fn get(&self) -> Result<T, GetError> {
        self.get_waiting(Wait::Forever)
    }

    /// Takes the oldest item, blocking at most `timeout` while the queue is empty.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_waiting(Wait::timeout(timeout))
    }

    /// Takes the oldest item without blocking (Python's `get_nowait`).
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_waiting(Wait::No)
    }

    /// The number of items waiting (Python's `qsize()`).
    pub fn len(&self) -> usize {
        self.state.lock().items.len()
    }

    /// True if no item waits (Python's `empty()`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the queue is bounded and holds `maxsize` items (Python's `full()`).
    pub fn is_full(&self) -> bool {
        self.full(&self.state.lock())
    }

    /// The bound given to `new`; 0 means unbounded.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// Marks one item taken with `get` as processed; fails when called
    /// more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut state = self.state.lock();
        if state.unfinished_tasks == 0 {
            return Err(TaskDoneError);
        }
        state.unfinished_tasks -= 1;
        if state.unfinished_tasks == 0 {
            self.all_tasks_done.notify_all();
        }
        Ok(())
    }

    /// Blocks until every item ever put was marked done.
    pub fn join(&self) {
        let mut state = self.state.lock();
        while state.unfinished_tasks > 0 {
            state = self.all_tasks_done.wait(state);
        }
    }

    /// Shuts the queue down (Python 3.13): puts fail from now on, gets fail
    /// once the queue is empty, and every blocked caller wakes up to see it.
    /// With `immediate`, the waiting items are dropped and count as done.
    pub fn shutdown(&self, immediate: bool) {
        let mut state = self.state.lock();
        state.is_shutdown = true;
        let mut dropped = VecDeque::new();
        if immediate {
            dropped = std::mem::take(&mut state.items);
            state.unfinished_tasks = state.unfinished_tasks.saturating_sub(dropped.len());
            self.all_tasks_done.notify_all();
        }
        self.not_empty.notify_all();
        self.not_full.notify_all();
        drop(state);
        // Dropped after unlocking: an item's `Drop` may run any code.
        drop(dropped);
    }

    /// True once `shutdown` was called.
    pub fn is_shutdown(&self) -> bool {
        self.state.lock().is_shutdown
    }
}

fn main() {
    println!("q = Queue(3)");
    let q = Queue::new(3);
    for n in 1..=3 {
        q.put(n).expect("room for three");
        println!("q.put({n})            qsize = {}", q.len());
    }
    match q.try_put(4) {
        Err(PutError::Full(item)) => {
            println!("q.put_nowait({item})     raises queue.Full (the item is handed back)")
        }
        other => println!("q.put_nowait(4)     unexpected: {other:?}"),
    }
    for _ in 0..3 {
        println!(
            "q.get()             -> {}",
            q.get().expect("three items wait")
        );
    }
    match q.try_get() {
        Err(GetError::Empty) => println!("q.get_nowait()      raises queue.Empty"),
        other => println!("q.get_nowait()      unexpected: {other:?}"),
    }

    println!("\na worker with task_done / join, then a shutdown:");
    let q = Arc::new(Queue::new(2));
    let worker = {
        let q = Arc::clone(&q);
        std::thread::spawn(move || {
            let mut sum = 0;
            // Runs until the shutdown; gets drain what is left first.
            while let Ok(n) = q.get() {
                sum += n;
                q.task_done().expect("one task_done per get");
            }
            sum
        })
    };
    for n in 1..=10 {
        q.put(n).expect("the queue is open"); // blocks while 2 items wait
    }
    q.join();
    println!("q.join() returned: all 10 items were processed");
    q.shutdown(false);
    println!(
        "after q.shutdown(): the worker stopped with a sum of {}, and q.put(11) -> {:?}",
        worker.join().expect("the worker finished"),
        q.put(11)
    );
}

#[cfg(test)]
synclings_suites::queue_suite!(crate::Queue);
