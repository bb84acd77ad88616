//! The storage of `LifoQueue`, `PriorityQueue` and of an unbounded (or very
//! large) `Queue`: a collection behind a mutex, ordered by a discipline.
//!
//! Every push and pop takes the mutex for a few instructions; a push checks
//! the bound and the closed flag under it, and an immediate shutdown takes
//! every item in one critical section. The mutex also gives the engine's
//! sleeper handshake its order: a registered waiter's re-check locks it
//! after registering, a waker locks it before reading the sleeper count, so
//! one of them sees the other ([`sync_with_pushes`](Storage::sync_with_pushes)
//! has nothing left to do).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::{Missing, Refused, Storage};
use crate::sync::atomic::AtomicU64;
// Relaxed: `pushed` is changed only under the mutex and read as a snapshot;
// a push that happened before the reader is seen by coherence.
use crate::sync::atomic::Ordering::Relaxed;
use crate::sync::Mutex;

/// Capacity reserved up front (at most): a bounded queue does not allocate
/// after warm-up, and an unbounded one does not reserve a huge buffer.
const MAX_PREALLOCATED: usize = 1024;

/// The order in which items come out.
pub(super) trait Discipline {
    /// The items' type.
    type Item;
    /// An empty collection with room for `capacity` items.
    fn with_capacity(capacity: usize) -> Self;
    /// Adds an item.
    fn push(&mut self, item: Self::Item);
    /// Removes the next item in the discipline's order.
    fn pop(&mut self) -> Option<Self::Item>;
    /// The number of items.
    fn len(&self) -> usize;
    /// Every item, in no particular order.
    fn into_vec(self) -> Vec<Self::Item>;
}

/// First in, first out.
pub(super) struct Fifo<T>(VecDeque<T>);

/// Last in, first out.
pub(super) struct Lifo<T>(Vec<T>);

/// Smallest first (`BinaryHeap` is a max-heap, hence `Reverse`).
pub(super) struct Priority<T: Ord>(BinaryHeap<Reverse<T>>);

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
    fn into_vec(self) -> Vec<T> {
        self.0.into()
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
    fn into_vec(self) -> Vec<T> {
        self.0
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
    fn into_vec(self) -> Vec<T> {
        self.0.into_iter().map(|Reverse(item)| item).collect()
    }
}

/// What the mutex protects.
struct Inner<D> {
    /// The items, in the discipline's order; at most `maxsize` when bounded.
    items: D,
    /// Set once by a shutdown, never cleared: pushes are refused.
    closed: bool,
}

/// A discipline behind a mutex, with an optional bound.
pub(super) struct Locked<D> {
    /// The items and the closed flag.
    inner: Mutex<Inner<D>>,
    /// Items ever pushed (changed under `inner`'s lock, read without it).
    pushed: AtomicU64,
    /// The bound; 0 means unbounded.
    maxsize: usize,
}

impl<D: Discipline> Locked<D> {
    /// An empty storage holding at most `maxsize` items (0 = unbounded).
    pub(super) fn new(maxsize: usize) -> Self {
        let reserve = if maxsize == 0 {
            0
        } else {
            maxsize.min(MAX_PREALLOCATED)
        };
        Locked {
            inner: Mutex::new(Inner {
                items: D::with_capacity(reserve),
                closed: false,
            }),
            pushed: AtomicU64::new(0),
            maxsize,
        }
    }
}

impl<D: Discipline> Storage for Locked<D> {
    type Item = D::Item;

    fn try_push(&self, item: D::Item) -> Result<(), Refused<D::Item>> {
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(Refused::Closed(item));
        }
        if self.maxsize > 0 && inner.items.len() >= self.maxsize {
            return Err(Refused::Full(item));
        }
        inner.items.push(item);
        self.pushed.fetch_add(1, Relaxed);
        Ok(())
    }

    fn try_pop(&self) -> Result<D::Item, Missing> {
        let mut inner = self.inner.lock();
        match inner.items.pop() {
            Some(item) => Ok(item),
            None if inner.closed => Err(Missing::Closed),
            None => Err(Missing::Empty),
        }
    }

    fn sync_with_pushes(&self) {
        // The re-check's `try_pop` locks the mutex: that is the handshake.
    }

    fn sync_with_pops(&self) {
        // The re-check's `try_push` locks the mutex: that is the handshake.
    }

    fn close(&self, drain: bool) -> Vec<D::Item> {
        let mut inner = self.inner.lock();
        inner.closed = true;
        if drain {
            let items = std::mem::replace(&mut inner.items, D::with_capacity(0));
            drop(inner);
            items.into_vec()
        } else {
            Vec::new()
        }
    }

    fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    fn len(&self) -> usize {
        self.inner.lock().items.len()
    }

    fn pushed(&self) -> u64 {
        self.pushed.load(Relaxed)
    }

    fn cheap_hints(&self) -> bool {
        // Each hint takes the mutex: look once per backoff step.
        false
    }

    fn pop_ready(&self) -> bool {
        // The try itself costs no more than a look.
        true
    }

    fn push_ready(&self, room: usize) -> bool {
        let inner = self.inner.lock();
        inner.closed || self.maxsize == 0 || inner.items.len() + room <= self.maxsize
    }
}
