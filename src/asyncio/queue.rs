//! `asyncio.Queue`, `LifoQueue` and `PriorityQueue` (with Python 3.13's
//! `shutdown`): one engine, [`AsyncQueue<T, S>`], and a storage discipline
//! per flavour ([`Fifo`], [`Lifo`], [`Priority`]), as the thread queues of
//! [`crate::queue`].
//!
//! The items, the count of unfinished tasks, the shutdown flag and three
//! [`WaitList`]s (getters, putters, joiners: Python's `_getters`,
//! `_putters` and the `_finished` event) live under one facade `Mutex`.
//! A `put` notifies the longest-waiting getter, a `get` the longest-waiting
//! putter; the notified task re-checks the queue when it runs (as in
//! Python, a newcomer may take the item first, and the notified one then
//! waits on at its place in line). A waiter cancelled after it was
//! notified passes the notification on: the item it would have taken wakes
//! the next getter, not nobody. The errors are the thread queues':
//! [`PutError`], [`GetError`], [`TaskDoneError`]. `Send + Sync` when
//! `T: Send`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::waiters::{wake_all, WaitList};
use crate::queue::{GetError, PutError, TaskDoneError};
use crate::sync::Mutex;

/// How a queue orders its items.
pub trait Storage<T>: Default {
    /// Adds an item.
    fn push(&mut self, item: T);
    /// Takes the next item.
    fn pop(&mut self) -> Option<T>;
    /// How many items it holds.
    fn len(&self) -> usize;
    /// True if it holds none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out (`asyncio.Queue`).
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out (`asyncio.LifoQueue`).
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);

/// Smallest first (`asyncio.PriorityQueue`, a `heapq`).
#[derive(Debug)]
pub struct Priority<T: Ord>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> Storage<T> for Fifo<T> {
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

impl<T> Storage<T> for Lifo<T> {
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

impl<T: Ord> Storage<T> for Priority<T> {
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

/// `asyncio.Queue(maxsize)`: FIFO.
pub type Queue<T> = AsyncQueue<T, Fifo<T>>;
/// `asyncio.LifoQueue(maxsize)`: last in, first out.
pub type LifoQueue<T> = AsyncQueue<T, Lifo<T>>;
/// `asyncio.PriorityQueue(maxsize)`: smallest first.
pub type PriorityQueue<T> = AsyncQueue<T, Priority<T>>;

struct State<S> {
    items: S,
    unfinished: usize,
    shutdown: bool,
    getters: WaitList,
    putters: WaitList,
    joiners: WaitList,
}

/// The queue engine behind [`Queue`], [`LifoQueue`] and [`PriorityQueue`].
///
/// # Examples
///
/// Seed program 3 again, with an event loop: a producer and a consumer task
/// over a bounded queue, ended by a `None`.
///
/// ```
/// use std::rc::Rc;
/// use synclings::asyncio::{self, Queue};
///
/// let consumed = asyncio::run(async {
///     let queue = Rc::new(Queue::new(2));
///     let consumer = asyncio::create_task({
///         let queue = queue.clone();
///         async move {
///             let mut seen = Vec::new();
///             while let Some(item) = queue.get().await.unwrap() {
///                 seen.push(item);
///                 queue.task_done().unwrap();
///             }
///             queue.task_done().unwrap();
///             seen
///         }
///     });
///     for i in 0..5 {
///         queue.put(Some(i)).await.unwrap();
///     }
///     queue.put(None).await.unwrap();
///     queue.join().await;
///     consumer.await.unwrap()
/// });
/// assert_eq!(consumed, [0, 1, 2, 3, 4]);
/// ```
pub struct AsyncQueue<T, S: Storage<T>> {
    maxsize: usize,
    state: Mutex<State<S>>,
    _items: std::marker::PhantomData<fn(T) -> T>,
}

impl<T, S: Storage<T>> AsyncQueue<T, S> {
    /// A queue of at most `maxsize` items (0: unbounded, as in Python).
    pub fn new(maxsize: usize) -> Self {
        AsyncQueue {
            maxsize,
            state: Mutex::new(State {
                items: S::default(),
                unfinished: 0,
                shutdown: false,
                getters: WaitList::default(),
                putters: WaitList::default(),
                joiners: WaitList::default(),
            }),
            _items: std::marker::PhantomData,
        }
    }

    fn has_room(&self, state: &State<S>) -> bool {
        self.maxsize == 0 || state.items.len() < self.maxsize
    }

    /// Puts `item`, waiting while the queue is full (Python's `await
    /// put(item)`). `Err(PutError::ShutDown(item))` after a shutdown.
    pub fn put(&self, item: T) -> Put<'_, T, S> {
        Put {
            queue: self,
            item: Some(item),
            ticket: None,
        }
    }

    /// Puts `item` if there is room now (Python's `put_nowait`).
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        let mut state = self.state.lock();
        if state.shutdown {
            return Err(PutError::ShutDown(item));
        }
        if !self.has_room(&state) {
            return Err(PutError::Full(item));
        }
        let waker = Self::push(&mut state, item);
        drop(state);
        wake_all(waker.into_iter().collect());
        Ok(())
    }

    fn push(state: &mut State<S>, item: T) -> Option<Waker> {
        state.items.push(item);
        state.unfinished += 1;
        state.getters.notify_one()
    }

    /// Takes the next item, waiting while the queue is empty (Python's
    /// `await get()`). After a shutdown the remaining items are still
    /// handed out, then `Err(GetError::ShutDown)`.
    pub fn get(&self) -> Get<'_, T, S> {
        Get {
            queue: self,
            ticket: None,
        }
    }

    /// Takes the next item if there is one (Python's `get_nowait`).
    pub fn try_get(&self) -> Result<T, GetError> {
        let mut state = self.state.lock();
        match state.items.pop() {
            Some(item) => {
                let waker = state.putters.notify_one();
                drop(state);
                wake_all(waker.into_iter().collect());
                Ok(item)
            }
            None if state.shutdown => Err(GetError::ShutDown),
            None => Err(GetError::Empty),
        }
    }

    /// Marks one item taken with `get` as processed; when every item put
    /// is, [`join`](Self::join) returns. Too many calls are an error
    /// (Python's `ValueError`), changing nothing.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut wakers = Vec::new();
        {
            let mut state = self.state.lock();
            if state.unfinished == 0 {
                return Err(TaskDoneError);
            }
            state.unfinished -= 1;
            if state.unfinished == 0 {
                state.joiners.notify_all(&mut wakers);
            }
        }
        wake_all(wakers);
        Ok(())
    }

    /// Waits until every item put has been marked done (Python's
    /// `await join()`).
    pub fn join(&self) -> Join<'_, T, S> {
        Join {
            queue: self,
            ticket: None,
        }
    }

    /// Python 3.13's `shutdown(immediate)`: later puts fail, blocked
    /// putters and getters wake (getters drain what is left first); with
    /// `immediate` the items are dropped and counted done, so `join`
    /// returns.
    pub fn shutdown(&self, immediate: bool) {
        let mut wakers = Vec::new();
        let dropped = {
            let mut state = self.state.lock();
            state.shutdown = true;
            let mut dropped = Vec::new();
            if immediate {
                while let Some(item) = state.items.pop() {
                    dropped.push(item);
                }
                state.unfinished = state.unfinished.saturating_sub(dropped.len());
                if state.unfinished == 0 {
                    state.joiners.notify_all(&mut wakers);
                }
            }
            state.getters.notify_all(&mut wakers);
            state.putters.notify_all(&mut wakers);
            dropped
        };
        wake_all(wakers);
        drop(dropped);
    }

    /// True after [`shutdown`](Self::shutdown).
    pub fn is_shutdown(&self) -> bool {
        self.state.lock().shutdown
    }

    /// How many items wait (Python's `qsize()`).
    pub fn len(&self) -> usize {
        self.state.lock().items.len()
    }

    /// True if no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if `put` would wait.
    pub fn is_full(&self) -> bool {
        !self.has_room(&self.state.lock())
    }

    /// The bound (0: none).
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }
}

impl<T, S: Storage<T>> Default for AsyncQueue<T, S> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<T, S: Storage<T>> fmt::Debug for AsyncQueue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("AsyncQueue")
            .field("len", &state.items.len())
            .field("maxsize", &self.maxsize)
            .field("unfinished", &state.unfinished)
            .field("shutdown", &state.shutdown)
            .field("getters", &state.getters.waiting())
            .field("putters", &state.putters.waiting())
            .finish()
    }
}

/// Removes a dropped waiter's ticket; if it had been notified, notifies
/// the next one in its place.
fn leave(list: &mut WaitList, ticket: Option<u64>) -> Option<Waker> {
    match list.remove(ticket?) {
        Some(true) => list.notify_one(),
        _ => None,
    }
}

/// The future of [`AsyncQueue::put`].
pub struct Put<'a, T, S: Storage<T>> {
    queue: &'a AsyncQueue<T, S>,
    item: Option<T>,
    ticket: Option<u64>,
}

impl<T, S: Storage<T>> Future for Put<'_, T, S> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let queue = this.queue;
        let mut state = queue.state.lock();
        let item = this
            .item
            .take()
            .expect("Put polled after it returned Ready");
        if state.shutdown {
            if let Some(ticket) = this.ticket.take() {
                state.putters.remove(ticket);
            }
            return Poll::Ready(Err(PutError::ShutDown(item)));
        }
        if queue.has_room(&state) {
            if let Some(ticket) = this.ticket.take() {
                state.putters.remove(ticket);
            }
            let waker = AsyncQueue::<T, S>::push(&mut state, item);
            drop(state);
            wake_all(waker.into_iter().collect());
            return Poll::Ready(Ok(()));
        }
        this.item = Some(item);
        match this.ticket {
            None => this.ticket = Some(state.putters.push(cx.waker())),
            Some(ticket) => {
                if state.putters.check(ticket, cx.waker()) {
                    // Notified, but a newcomer took the room: back in line,
                    // at the back (Python re-queues the same way).
                    this.ticket = Some(state.putters.push(cx.waker()));
                }
            }
        }
        Poll::Pending
    }
}

// The item is never pinned (it is held by value and moved in and out of
// its `Option`), so `Put` is `Unpin` whatever `T` is.
impl<T, S: Storage<T>> Unpin for Put<'_, T, S> {}

impl<T, S: Storage<T>> Drop for Put<'_, T, S> {
    fn drop(&mut self) {
        if self.ticket.is_some() {
            let waker = leave(&mut self.queue.state.lock().putters, self.ticket);
            wake_all(waker.into_iter().collect());
        }
    }
}

impl<T, S: Storage<T>> fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("queued", &self.ticket.is_some())
            .finish()
    }
}

/// The future of [`AsyncQueue::get`].
pub struct Get<'a, T, S: Storage<T>> {
    queue: &'a AsyncQueue<T, S>,
    ticket: Option<u64>,
}

impl<T, S: Storage<T>> Future for Get<'_, T, S> {
    type Output = Result<T, GetError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.queue.state.lock();
        if let Some(item) = state.items.pop() {
            if let Some(ticket) = this.ticket.take() {
                state.getters.remove(ticket);
            }
            let waker = state.putters.notify_one();
            drop(state);
            wake_all(waker.into_iter().collect());
            return Poll::Ready(Ok(item));
        }
        if state.shutdown {
            if let Some(ticket) = this.ticket.take() {
                state.getters.remove(ticket);
            }
            return Poll::Ready(Err(GetError::ShutDown));
        }
        match this.ticket {
            None => this.ticket = Some(state.getters.push(cx.waker())),
            Some(ticket) => {
                if state.getters.check(ticket, cx.waker()) {
                    this.ticket = Some(state.getters.push(cx.waker()));
                }
            }
        }
        Poll::Pending
    }
}

impl<T, S: Storage<T>> Drop for Get<'_, T, S> {
    fn drop(&mut self) {
        if self.ticket.is_some() {
            let waker = leave(&mut self.queue.state.lock().getters, self.ticket);
            wake_all(waker.into_iter().collect());
        }
    }
}

impl<T, S: Storage<T>> fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("queued", &self.ticket.is_some())
            .finish()
    }
}

/// The future of [`AsyncQueue::join`].
pub struct Join<'a, T, S: Storage<T>> {
    queue: &'a AsyncQueue<T, S>,
    ticket: Option<u64>,
}

impl<T, S: Storage<T>> Future for Join<'_, T, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = this.queue.state.lock();
        let notified = match this.ticket {
            Some(ticket) => state.joiners.check(ticket, cx.waker()),
            None => false,
        };
        if notified || state.unfinished == 0 {
            if let Some(ticket) = this.ticket.take() {
                state.joiners.remove(ticket);
            }
            return Poll::Ready(());
        }
        if this.ticket.is_none() {
            this.ticket = Some(state.joiners.push(cx.waker()));
        }
        Poll::Pending
    }
}

impl<T, S: Storage<T>> Drop for Join<'_, T, S> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.queue.state.lock().joiners.remove(ticket);
        }
    }
}

impl<T, S: Storage<T>> fmt::Debug for Join<'_, T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("queued", &self.ticket.is_some())
            .finish()
    }
}
