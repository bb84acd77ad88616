//! Producer-consumer, three ways: threads over a [`Queue`](crate::Queue)
//! with poison pills, processes over a process queue, and the textbook's
//! bounded buffer built from two semaphores and a lock ([`BoundedBuffer`]).
//!
//! The seed's program 7 and exercises 12 and 15 of the course are the first
//! two; the third is the classic (Dijkstra's) solution, which the others
//! hide inside their queues.
//!
//! | Model | Blocks a producer when | Stops a consumer with | Use it for |
//! |---|---|---|---|
//! | threads + [`Queue`](crate::Queue) | `maxsize` items wait | one `None` per consumer (or [`Queue::shutdown`](crate::Queue::shutdown)) | work inside one program |
//! | processes + [`ipc::Queue`](crate::ipc::Queue) | `maxsize` messages wait | one `None` per consumer | work that needs its own process (CPU-bound Python, isolation) |
//! | [`BoundedBuffer`]: `empty` + `full` semaphores + a lock | every slot is full | (up to you: a pill works) | seeing how a bounded queue works inside |
//!
//! # Threads, a `Queue` and poison pills
//!
//! Producers put `Some(item)`. Once every producer has been joined, the main
//! thread puts one `None` (the poison pill) per consumer: a pill put earlier
//! could stop a consumer before the last items, and a consumer left without
//! one waits in `get` for ever. The queue hands each item to exactly one
//! `get`, so nothing is lost or taken twice.
//!
//! ```
//! use std::thread;
//! use synclings::Queue;
//!
//! let queue = Queue::new(4); // a producer waits while 4 items are queued
//! let received: Vec<Vec<u64>> = thread::scope(|s| {
//!     let queue = &queue;
//!     let consumers: Vec<_> = (0..3)
//!         .map(|_| {
//!             s.spawn(move || {
//!                 let mut got = Vec::new();
//!                 while let Some(item) = queue.get().unwrap() {
//!                     got.push(item);
//!                 }
//!                 got
//!             })
//!         })
//!         .collect();
//!     let producers: Vec<_> = (0..2u64)
//!         .map(|p| {
//!             s.spawn(move || {
//!                 for i in 0..5 {
//!                     queue.put(Some(p * 5 + i)).unwrap();
//!                 }
//!             })
//!         })
//!         .collect();
//!     for p in producers {
//!         p.join().unwrap();
//!     }
//!     for _ in 0..3 {
//!         queue.put(None).unwrap(); // one pill per consumer, after the last item
//!     }
//!     consumers.into_iter().map(|c| c.join().unwrap()).collect()
//! });
//! let mut all = received.concat();
//! all.sort_unstable();
//! assert_eq!(all, (0..10).collect::<Vec<u64>>());
//! ```
//!
//! (A helper that wraps these twenty lines would hide the two rules that make
//! them right; exercise 12 has the learner write them.)
//!
//! # Processes and a process queue
//!
//! The same program with producer and consumer *processes* over an
//! [`ipc::Queue`](crate::ipc::Queue) (Python's `multiprocessing.Queue`): the
//! example ["Producers and consumers in separate
//! processes"](crate::ipc::queue#producers-and-consumers-in-separate-processes-the-seeds-program-7)
//! of the [`ipc::queue`](crate::ipc::queue) module runs the seed's program 7
//! with 2 producers, 3 consumers and one sentinel per consumer. A child
//! cannot return a value, so its results come back as messages too.
//!
//! # The bounded buffer: two semaphores and a lock
//!
//! The textbook's answer to "producers must wait when the buffer is full,
//! consumers when it is empty":
//!
//! - `empty` counts the free slots (starts at `capacity`); a put takes one,
//!   waiting while there is none;
//! - `full` counts the filled slots (starts at 0); a get takes one, waiting
//!   while there is none;
//! - a lock guards the items themselves, held only to push or pop.
//!
//! A put is `empty.acquire(); lock { push }; full.release()`, a get is
//! `full.acquire(); lock { pop }; empty.release()`. The order matters: taking
//! the lock *before* the semaphore would make a producer sleep on a full
//! buffer while holding the lock that every consumer needs (a deadlock).
//!
//! ```
//! use std::sync::Arc;
//! use std::thread;
//! use synclings::producer_consumer::BoundedBuffer;
//!
//! let buffer = Arc::new(BoundedBuffer::new(2));
//! let b = Arc::clone(&buffer);
//! let producer = thread::spawn(move || {
//!     for i in 0..10 {
//!         b.put(i); // waits while both slots are full
//!     }
//! });
//! let taken: Vec<i32> = (0..10).map(|_| buffer.get()).collect();
//! producer.join().unwrap();
//! assert_eq!(taken, (0..10).collect::<Vec<_>>());
//! ```
//!
//! [`Queue`](crate::Queue) does the same job with one mutex and Python's
//! three conditions (`not_empty`, `not_full`, `all_tasks_done`), and adds
//! `task_done`/`join` and `shutdown`; [`BoundedBuffer`] is the smaller,
//! older design, and a fine first bounded queue to read.

use std::collections::VecDeque;
use std::fmt;

use crate::sync::Duration;
use crate::{Lock, Semaphore};

/// A FIFO buffer of at most `capacity` items: the classic bounded buffer of
/// two semaphores (free slots, filled slots) and a lock around the items.
///
/// See the [module documentation](self) for how it works and how it
/// compares with [`Queue`](crate::Queue).
///
/// | Call | Waits while | On timeout |
/// |---|---|---|
/// | [`put`](Self::put) / [`put_timeout`](Self::put_timeout) / [`try_put`](Self::try_put) | every slot is full | [`Full`], the item handed back |
/// | [`get`](Self::get) / [`get_timeout`](Self::get_timeout) / [`try_get`](Self::try_get) | the buffer is empty | [`Empty`] |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::producer_consumer::{BoundedBuffer, Empty, Full};
///
/// let buffer = BoundedBuffer::new(1);
/// buffer.put("first");
/// assert_eq!(buffer.try_put("second"), Err(Full("second")));
/// assert_eq!(buffer.len(), 1);
/// assert_eq!(buffer.get(), "first");
/// assert_eq!(buffer.get_timeout(Duration::from_millis(1)), Err(Empty));
/// ```
pub struct BoundedBuffer<T> {
    /// Free slots: a put takes one (waiting at 0), a get gives one back.
    empty: Semaphore,
    /// Filled slots: a get takes one (waiting at 0), a put gives one back
    /// once its item is in `items`, so `full <= items.len()` always.
    full: Semaphore,
    /// The items, oldest first; held only to push or to pop.
    items: Lock<VecDeque<T>>,
    /// The number of slots: `empty + full + (puts and gets between their two
    /// semaphore steps) == capacity`.
    capacity: usize,
}

impl<T> BoundedBuffer<T> {
    /// An empty buffer of `capacity` slots.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (every put would wait for ever); see
    /// [`try_new`](Self::try_new).
    pub fn new(capacity: usize) -> Self {
        Self::try_new(capacity).unwrap_or_else(|e| panic!("BoundedBuffer::new: {e}"))
    }

    /// An empty buffer of `capacity` slots, or [`ZeroCapacity`] if
    /// `capacity` is 0.
    pub fn try_new(capacity: usize) -> Result<Self, ZeroCapacity> {
        if capacity == 0 {
            return Err(ZeroCapacity);
        }
        Ok(BoundedBuffer {
            empty: Semaphore::new(capacity),
            full: Semaphore::new(0),
            items: Lock::new(VecDeque::with_capacity(capacity)),
            capacity,
        })
    }

    /// Puts `item` at the end, waiting while every slot is full.
    pub fn put(&self, item: T) {
        // The slot is ours until a get gives it back: keep it taken.
        self.empty.acquire().forget();
        self.push(item);
    }

    /// Puts `item` if a slot is free right now; else hands it back in
    /// [`Full`].
    pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
        match self.empty.try_acquire() {
            Some(slot) => slot.forget(),
            None => return Err(Full(item)),
        }
        self.push(item);
        Ok(())
    }

    /// Puts `item`, waiting at most `timeout` for a free slot; else hands it
    /// back in [`Full`] (never before `timeout` has passed).
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        match self.empty.acquire_timeout(timeout) {
            Some(slot) => slot.forget(),
            None => return Err(Full(item)),
        }
        self.push(item);
        Ok(())
    }

    /// Takes the oldest item, waiting while the buffer is empty.
    pub fn get(&self) -> T {
        self.full.acquire().forget();
        self.pop()
    }

    /// Takes the oldest item if there is one right now; else [`Empty`].
    pub fn try_get(&self) -> Result<T, Empty> {
        match self.full.try_acquire() {
            Some(item) => item.forget(),
            None => return Err(Empty),
        }
        Ok(self.pop())
    }

    /// Takes the oldest item, waiting at most `timeout` for one; else
    /// [`Empty`] (never before `timeout` has passed).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
        match self.full.acquire_timeout(timeout) {
            Some(item) => item.forget(),
            None => return Err(Empty),
        }
        Ok(self.pop())
    }

    /// The number of items in the buffer now (a snapshot).
    pub fn len(&self) -> usize {
        self.items.acquire().len()
    }

    /// True if the buffer holds no item now (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Second half of a put, once a free slot is ours: store the item, then
    /// announce it (a get may take it from that moment).
    fn push(&self, item: T) {
        self.items.acquire().push_back(item);
        self.full.release(1);
    }

    /// Second half of a get, once a filled slot is ours: take the item, then
    /// give its slot back.
    fn pop(&self) -> T {
        let item = self
            .items
            .acquire()
            .pop_front()
            .expect("`full` counts only items already in the buffer");
        self.empty.release(1);
        item
    }
}

impl<T> fmt::Debug for BoundedBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedBuffer")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("free_slots", &self.empty.available())
            .field("filled_slots", &self.full.available())
            .finish()
    }
}

/// The buffer stayed full: [`BoundedBuffer::try_put`] or
/// [`BoundedBuffer::put_timeout`] found no free slot, and hands the item
/// back (Python's `queue.Full`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the buffer is full: no slot came free in time (the item is handed back: \
             retry later, wait longer, or let consumers catch up)",
        )
    }
}

impl<T> std::error::Error for Full<T> {}

/// The buffer stayed empty: [`BoundedBuffer::try_get`] or
/// [`BoundedBuffer::get_timeout`] found no item (Python's `queue.Empty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the buffer is empty: no item came in time (retry later or wait longer)")
    }
}

impl std::error::Error for Empty {}

/// [`BoundedBuffer::try_new`] was asked for 0 slots: every put would wait for
/// ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroCapacity;

impl fmt::Display for ZeroCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a bounded buffer needs at least 1 slot (with 0, every put would wait for ever)",
        )
    }
}

impl std::error::Error for ZeroCapacity {}
