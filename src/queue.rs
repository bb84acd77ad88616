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
//! once nothing else is unfinished. A put racing a shutdown either stored its
//! item before it (and an immediate shutdown drops it) or fails with
//! `ShutDown(item)`: no item is left behind in an immediately shut-down queue.
//!
//! # How it works
//!
//! One engine serves the three flavours. Each flavour's *storage* owns its
//! concurrency behind one small internal trait (`try_push`, `try_pop`,
//! `close`, `len`):
//!
//! - a bounded [`Queue`] (`maxsize` up to 65 536) keeps its items in a
//!   lock-free ring, Dmitry Vyukov's bounded MPMC queue (its stamp protocol
//!   is explained in `src/queue/ring.rs`): an uncontended put or get is one
//!   CAS and two stores, without any lock, as in crossbeam-channel;
//! - [`LifoQueue`], [`PriorityQueue`] and an unbounded (or larger) [`Queue`]
//!   keep a `Vec`, a `BinaryHeap` of `Reverse` or a `VecDeque` behind a mutex
//!   held for a few instructions (`src/queue/locked.rs`).
//!
//! The engine adds what Python's `Queue` builds around its storage: blocking,
//! waking, shutdown and task accounting.
//!
//! - **State**: `sleepers` counts the getters, putters and joiners registered
//!   to sleep on Python's three condition variables `not_empty`, `not_full`
//!   and `all_tasks_done` (changed only under the engine's `lock`); `done`
//!   counts the `task_done` calls and the items an immediate shutdown
//!   dropped; the storage counts the items ever pushed. Python's
//!   `unfinished_tasks` is `pushed - done`, so a put pays for no counter of
//!   its own.
//! - **Invariant**: `done <= pushed`; a bounded storage holds at most
//!   `maxsize` items; a registered sleeper re-checks its predicate after
//!   registering and before each sleep.
//! - **Wait loop**: try; then spin and yield a little, retrying (through
//!   `sync::Backoff`; one patient thread per side gets a second round, the
//!   others park sooner, see `sync::PatientSlot`) while polling the
//!   storage's *hint* (`pop_ready`/`push_ready`: the ring reads its own
//!   side's `head`/`tail` and the one slot the awaited change lands in,
//!   never the other side's word, so a waiting core pulls no cache line
//!   until the item or the room is there, and sees it one spin later;
//!   reading the other side's word on every spin cost about one more
//!   core-to-core round trip per item at capacity 1); then lock, register and
//!   loop "re-check, sleep", leaving on success, on shutdown, or once the
//!   deadline passed (after one last re-check). A timed call computes its
//!   deadline once.
//! - **Wake rule**: a put wakes one sleeping getter, a get one sleeping
//!   putter, the `task_done` that brings `unfinished_tasks` to zero every
//!   joiner, and a shutdown everyone; each notification is skipped when the
//!   count (read without the lock) is zero, and done under the lock otherwise.
//!   A waker that notifies one getter (or putter) takes it off the count at
//!   once, and the woken thread registers again only if it must sleep again:
//!   so while a woken thread is on its way back to a CPU, the puts and gets
//!   that follow do not take the lock to notify it over and over (as
//!   crossbeam's waker lists do).
//! - **No lost wake-up**: a sleeper *registers, then re-checks*; a waker
//!   *changes the storage, then reads the count*. The two middle steps are
//!   ordered, so one side sees the other. In the ring both are
//!   read-modify-writes of one word: the re-check starts with a no-op
//!   `fetch_or(0)` on `tail` (getters) or `head` (putters), and the waker's
//!   claim is an AcqRel CAS on that word; if the re-check comes first the
//!   CAS synchronises with it and the waker sees the registration, otherwise
//!   the re-check sees the claimed item (and waits the few instructions until
//!   it is written: see *Half-done operations*). In the mutex storages the
//!   storage's lock orders them.
//!   Joiners do the same with a no-op RMW on `done`. A sleeper holds the lock
//!   from registering until it sleeps and a waker takes it to notify, so no
//!   notification falls between a re-check and its sleep. (`SeqCst` fences
//!   would work on hardware too, but loom treats them as `AcqRel` and could
//!   not check them.)
//! - **Half-done operations**: a ring slot claimed by another thread but not
//!   yet written (or not yet freed) makes the storage answer `Busy` instead
//!   of waiting. The spin phase retries; past it, a call waits for the other
//!   thread only while holding the lock, so at most one thread at a time
//!   waits on another's progress (which also keeps the loom models finite:
//!   two threads spinning on a third would be an unfair schedule loom must
//!   explore forever). A `try_*` call that meets `Busy` waits too: answering
//!   Empty while a later put already returned would break FIFO semantics.
//! - **Shutdown**: under the lock, closes the storage (atomically with the
//!   pushes), drains it if immediate (counting each item as done), and wakes
//!   every sleeper; the drained items are dropped after the lock is released,
//!   since an item's `Drop` may use the queue.
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

mod locked;
mod ring;

use std::fmt;

use self::locked::{Fifo, Lifo, Locked, Priority};
use self::ring::Ring;
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
// AcqRel on `done`'s changes and the joiners' no-op RMW: the joiner
// handshake (see "No lost wake-up"). Relaxed for the sleeper counts: they
// change under the lock, and a waker reads them after an AcqRel RMW (or a
// lock) that orders the registration before the read; for first reads that a
// CAS validates. Acquire for a `done` snapshot: see `unfinished`.
use crate::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use crate::sync::{
    Backoff, CachePadded, Condvar, Duration, Instant, Mutex, MutexGuard, PatientSlot, PatientTurn,
    PARK_PATIENCE,
};

/// The largest bound kept in a lock-free ring (allocated up front); a larger
/// bound uses the mutex storage, which allocates as it grows.
const MAX_RING_CAPACITY: usize = 1 << 16;

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

/// Why a storage refused a push; the item comes back.
enum Refused<T> {
    /// At the bound.
    Full(T),
    /// Closed by a shutdown (checked first: shutdown wins over full).
    Closed(T),
    /// Another thread is half-way through an operation on the slot this
    /// push needs; retry (it is done within a few instructions).
    Busy(T),
}

/// Why a storage had no item for a pop.
enum Missing {
    /// Nothing stored right now.
    Empty,
    /// Empty and closed by a shutdown: no item will ever come.
    Closed,
    /// Another thread is half-way through an operation this pop must see
    /// the end of; retry (it is done within a few instructions).
    Busy,
}

/// Where a flavour keeps its items. It owns its concurrency (a lock-free ring
/// or a mutex); the engine does blocking, waking, shutdown and task
/// accounting around it.
trait Storage {
    /// The items' type.
    type Item;
    /// Stores `item` unless the storage is closed or full (closed wins),
    /// or busy (never waits for another thread).
    fn try_push(&self, item: Self::Item) -> Result<(), Refused<Self::Item>>;
    /// Takes the next item; `Missing::Closed` once closed and empty;
    /// `Missing::Busy` instead of waiting for another thread.
    fn try_pop(&self) -> Result<Self::Item, Missing>;
    /// A registered getter's half of the handshake, before its re-check: a
    /// read-modify-write ordered with every push's (or the storage's lock).
    fn sync_with_pushes(&self);
    /// A registered putter's half of the handshake, before its re-check.
    fn sync_with_pops(&self);
    /// Refuses every later push (atomically with them: a push either stored
    /// its item before or is refused). With `drain`, also takes every item,
    /// so that no pop gets one afterwards. Call with the engine's lock held
    /// (one drainer at a time).
    fn close(&self, drain: bool) -> Vec<Self::Item>;
    /// True once closed.
    fn is_closed(&self) -> bool;
    /// The number of items stored (a snapshot).
    fn len(&self) -> usize;
    /// The number of items ever pushed (only grows; a snapshot).
    fn pushed(&self) -> u64;
    /// True if [`pop_ready`](Self::pop_ready) and
    /// [`push_ready`](Self::push_ready) are cheap enough to poll between two
    /// spins (a few loads of words the other side writes once per item);
    /// false if each is as dear as a try, and a spinning call should only
    /// look once per backoff step.
    fn cheap_hints(&self) -> bool;
    /// A hint for a spinning getter: false while a pop would find nothing
    /// (or a half-done push). Reads no word that every push writes but the
    /// one the item arrives in, so polling it moves no cache line until the
    /// item is there. A wrong answer only costs time: the engine's re-check
    /// under the lock decides.
    fn pop_ready(&self) -> bool;
    /// A hint for a spinning putter: false while fewer than `room` places
    /// are free (`room <= max(1, maxsize / 8)`), or the storage is closed.
    /// As cheap and as unbinding as `pop_ready`.
    fn push_ready(&self, room: usize) -> bool;
}

/// The storage of [`Queue`]: the lock-free ring when bounded (up to
/// `MAX_RING_CAPACITY`), a `VecDeque` behind a mutex otherwise.
// One per queue, never moved around: boxing the (cache-padded) ring would
// only add a pointer chase to every put and get.
#[allow(clippy::large_enum_variant)]
enum FifoStorage<T> {
    /// Bounded: lock-free.
    Ring(Ring<T>),
    /// Unbounded, or a bound too large to allocate up front.
    Locked(Locked<Fifo<T>>),
}

impl<T> FifoStorage<T> {
    fn new(maxsize: usize) -> Self {
        if (1..=MAX_RING_CAPACITY).contains(&maxsize) {
            FifoStorage::Ring(Ring::new(maxsize))
        } else {
            FifoStorage::Locked(Locked::new(maxsize))
        }
    }
}

/// Forwards a call to whichever storage a `FifoStorage` holds.
macro_rules! either {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            FifoStorage::Ring(s) => s.$method($($arg),*),
            FifoStorage::Locked(s) => s.$method($($arg),*),
        }
    };
}

impl<T> Storage for FifoStorage<T> {
    type Item = T;
    #[inline]
    fn try_push(&self, item: T) -> Result<(), Refused<T>> {
        either!(self.try_push(item))
    }
    #[inline]
    fn try_pop(&self) -> Result<T, Missing> {
        either!(self.try_pop())
    }
    fn sync_with_pushes(&self) {
        either!(self.sync_with_pushes())
    }
    fn sync_with_pops(&self) {
        either!(self.sync_with_pops())
    }
    fn close(&self, drain: bool) -> Vec<T> {
        either!(self.close(drain))
    }
    fn is_closed(&self) -> bool {
        either!(self.is_closed())
    }
    fn len(&self) -> usize {
        either!(self.len())
    }
    fn pushed(&self) -> u64 {
        either!(self.pushed())
    }
    fn cheap_hints(&self) -> bool {
        either!(self.cheap_hints())
    }
    #[inline]
    fn pop_ready(&self) -> bool {
        either!(self.pop_ready())
    }
    #[inline]
    fn push_ready(&self, room: usize) -> bool {
        either!(self.push_ready(room))
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
    fn on<'a>(
        self,
        cv: &Condvar,
        guard: MutexGuard<'a, Wakeups>,
    ) -> (MutexGuard<'a, Wakeups>, bool) {
        match self {
            Wait::No => (guard, true),
            Wait::Forever => (cv.wait(guard), false),
            Wait::Until(deadline) => cv.wait_until(guard, deadline),
        }
    }
}

/// The threads registered to sleep (each count changes only under the
/// engine's lock; wakers read them without it).
struct Sleepers {
    /// Getters registered on `not_empty` and not yet notified: a waker that
    /// notifies one takes it off this count (into [`Wakeups::getters`]), so
    /// the puts that follow skip the lock until a getter registers again.
    getters: AtomicUsize,
    /// Putters registered on `not_full` and not yet notified (as `getters`).
    putters: AtomicUsize,
    /// Joiners asleep on `all_tasks_done` (or woken, not yet unregistered).
    joiners: AtomicUsize,
    /// Set once by `shutdown` (under the lock): ends a spinning call's wait
    /// early. Only a hint; the storage's closed flag decides.
    shut: AtomicBool,
}

/// Notifications sent and not yet accounted for by a woken sleeper (under
/// the engine's lock). A sleeper that wakes takes one of these if there is
/// one, else it takes itself off its `Sleepers` count (it timed out, or woke
/// spuriously). Which sleeper takes which notification does not matter: each
/// wake-up accounts for one unit of `registered + notified`, and no more
/// notifications are outstanding than sleepers are awake, so while a
/// sleeper sleeps un-notified its `Sleepers` count is at least 1.
#[derive(Default)]
struct Wakeups {
    /// `not_empty` notifications not yet accounted for.
    getters: usize,
    /// `not_full` notifications not yet accounted for.
    putters: usize,
}

/// The spin phase of a blocked put or get: crossbeam's short backoff (spin,
/// then a few yields), and a second round for the thread that holds its
/// side's patient turn (see `sync::PatientSlot`): a backoff that yields
/// [`PARK_PATIENCE`] times before it completes, about the cost of the
/// cross-core wake-up it saves. Without it, a queue at capacity 1 could
/// settle in a mode where both sides park on every item (~25 K msg/s, seen
/// in criterion runs); with it, the patient thread outwaits the other
/// side's wake-up. Dropping it gives the turn back.
struct Spin<'a> {
    backoff: Backoff,
    /// This side's patient turn.
    slot: &'a PatientSlot,
    /// Held during the second round.
    turn: Option<PatientTurn<'a>>,
}

impl<'a> Spin<'a> {
    fn new(slot: &'a PatientSlot) -> Self {
        Spin {
            backoff: Backoff::new(),
            slot,
            turn: None,
        }
    }

    /// Waits one backoff step, ending it early once `ready()` holds (see
    /// `Backoff::snooze_until`): `Some(ready())`, or `None` once it is time
    /// to park.
    fn step(&mut self, ready: impl FnMut() -> bool) -> Option<bool> {
        if self.backoff.is_completed() {
            if self.turn.is_some() {
                return None;
            }
            self.turn = self.slot.try_claim();
            self.turn.as_ref()?;
            self.backoff = Backoff::with_patience(PARK_PATIENCE);
        }
        Some(self.backoff.snooze_until(ready))
    }
}

/// The engine shared by the three flavours.
struct Engine<S> {
    /// The items.
    storage: S,
    /// Who sleeps. Padded: read by every put and get, written only by
    /// sleepers, so it stays in every core's cache.
    sleepers: CachePadded<Sleepers>,
    /// The one putter (and the one getter) that spins and yields a second
    /// round before parking; the others park after one round (see
    /// `sync::PatientSlot`). Touched only by blocked calls.
    patient: CachePadded<[PatientSlot; 2]>,
    /// `task_done` calls plus items dropped by an immediate shutdown; never
    /// above `storage.pushed()`. Padded: written by consumers only.
    done: CachePadded<AtomicU64>,
    /// Held by a sleeper from registering until it sleeps, by a waker to
    /// notify, by a shutdown throughout, and by whoever waits for another
    /// thread's half-done operation (one at a time).
    lock: Mutex<Wakeups>,
    /// Getters wait here for an item (or the shutdown).
    not_empty: Condvar,
    /// Putters wait here for room (or the shutdown).
    not_full: Condvar,
    /// Joiners wait here for `unfinished_tasks == 0`.
    all_tasks_done: Condvar,
    /// The bound; 0 means unbounded.
    maxsize: usize,
}

impl<S: Storage> Engine<S> {
    fn new(storage: S, maxsize: usize) -> Self {
        Engine {
            storage,
            sleepers: CachePadded::new(Sleepers {
                getters: AtomicUsize::new(0),
                putters: AtomicUsize::new(0),
                joiners: AtomicUsize::new(0),
                shut: AtomicBool::new(false),
            }),
            done: CachePadded::new(AtomicU64::new(0)),
            patient: CachePadded::new([PatientSlot::new(), PatientSlot::new()]),
            lock: Mutex::new(Wakeups::default()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_tasks_done: Condvar::new(),
            maxsize,
        }
    }

    fn put(&self, mut item: S::Item, wait: Wait) -> Result<(), PutError<S::Item>> {
        // Try, then spin and yield a little, trying again whenever the
        // storage hints at room; a second round for the one patient putter.
        let mut spin = Spin::new(&self.patient[0]);
        // A blocking put on a full ring looks at the slot before trying:
        // the try's full check would read the getters' `head`.
        let mut wait_first =
            !matches!(wait, Wait::No) && self.storage.cheap_hints() && !self.storage.push_ready(1);
        let room = (self.maxsize / 8).clamp(1, 16);
        loop {
            if !wait_first {
                match self.storage.try_push(item) {
                    Ok(()) => {
                        self.wake_getter();
                        return Ok(());
                    }
                    Err(Refused::Closed(back)) => return Err(PutError::ShutDown(back)),
                    Err(Refused::Full(back)) if matches!(wait, Wait::No) => {
                        return Err(PutError::Full(back))
                    }
                    Err(Refused::Full(back) | Refused::Busy(back)) => item = back,
                }
            }
            wait_first = false;
            if !self.spin_until(&mut spin, |s| s.push_ready(room)) {
                break;
            }
        }
        // Parking: the patient turn (if this thread had it) is free again.
        drop(spin);
        // Loop "register, re-check, sleep, account for the wake-up" (a
        // `try_put` only re-checks).
        let mut guard = self.lock.lock();
        let mut out_of_time = matches!(wait, Wait::No);
        let result = loop {
            self.sleepers.putters.fetch_add(1, Relaxed);
            self.storage.sync_with_pops();
            match self.push_settled(&guard, item) {
                Ok(()) => break Ok(()),
                Err(Refused::Closed(back)) => break Err(PutError::ShutDown(back)),
                Err(Refused::Full(back) | Refused::Busy(back)) if out_of_time => {
                    break Err(PutError::Full(back))
                }
                Err(Refused::Full(back) | Refused::Busy(back)) => item = back,
            }
            let (woken, timed_out) = wait.on(&self.not_full, guard);
            guard = woken;
            Self::account(&mut guard.putters, &self.sleepers.putters);
            out_of_time = timed_out;
        };
        // Every exit is between registering and sleeping: nobody notified
        // this registration (a waker needs the lock we hold).
        self.sleepers.putters.fetch_sub(1, Relaxed);
        drop(guard);
        if result.is_ok() {
            self.wake_getter();
        }
        result
    }

    fn get(&self, wait: Wait) -> Result<S::Item, GetError> {
        // Try, then spin and yield a little, trying again whenever the
        // storage hints at an item; a second round for the one patient
        // getter.
        let mut spin = Spin::new(&self.patient[1]);
        // A blocking get on an empty ring looks at the slot before trying:
        // the try's empty check would read the putters' `tail`.
        let mut wait_first =
            !matches!(wait, Wait::No) && self.storage.cheap_hints() && !self.storage.pop_ready();
        loop {
            if !wait_first {
                match self.storage.try_pop() {
                    Ok(item) => {
                        self.wake_putter();
                        return Ok(item);
                    }
                    Err(Missing::Closed) => return Err(GetError::ShutDown),
                    Err(Missing::Empty) if matches!(wait, Wait::No) => return Err(GetError::Empty),
                    Err(Missing::Empty | Missing::Busy) => {}
                }
            }
            wait_first = false;
            if !self.spin_until(&mut spin, |s| s.pop_ready()) {
                break;
            }
        }
        // Parking: the patient turn (if this thread had it) is free again.
        drop(spin);
        // Loop "register, re-check, sleep, account for the wake-up" (a
        // `try_get` only re-checks).
        let mut guard = self.lock.lock();
        let mut out_of_time = matches!(wait, Wait::No);
        let result = loop {
            self.sleepers.getters.fetch_add(1, Relaxed);
            self.storage.sync_with_pushes();
            match self.pop_settled(&guard) {
                Ok(item) => break Ok(item),
                Err(Missing::Closed) => break Err(GetError::ShutDown),
                Err(Missing::Empty | Missing::Busy) if out_of_time => break Err(GetError::Empty),
                Err(Missing::Empty | Missing::Busy) => {}
            }
            let (woken, timed_out) = wait.on(&self.not_empty, guard);
            guard = woken;
            Self::account(&mut guard.getters, &self.sleepers.getters);
            out_of_time = timed_out;
        };
        // As in `put`: registered, never notified.
        self.sleepers.getters.fetch_sub(1, Relaxed);
        drop(guard);
        if result.is_ok() {
            self.wake_putter();
        }
        result
    }

    /// The spin phase between two tries: waits until `ready(storage)` or
    /// a shutdown; false once it is time to park.
    ///
    /// With cheap hints, `ready` is polled after every spin (see
    /// `Storage::pop_ready`), and a backoff step that ends without it does
    /// not try: a try would read the word the other side changes on every
    /// item. Otherwise `ready` is looked at once per step. A putter waits
    /// for room for several items, not one (`push_ready(room)`, up to an
    /// eighth of `maxsize`, at most 16): hysteresis. A putter that refills
    /// each slot as soon as the getter frees it works on the getter's cache
    /// line, and the two stay in that lockstep (about 20 M msg/s at capacity
    /// 64 here, against about 55 M when the putter waits for a few free
    /// slots).
    fn spin_until(&self, spin: &mut Spin<'_>, ready: impl Fn(&S) -> bool) -> bool {
        // Relaxed: a hint; the try after it (or the lock) decides.
        let shut = || self.sleepers.shut.load(Relaxed);
        if self.storage.cheap_hints() {
            loop {
                match spin.step(|| ready(&self.storage) || shut()) {
                    None => return false,
                    Some(true) => return true,
                    Some(false) => {}
                }
            }
        }
        loop {
            match spin.step(|| false) {
                None => return false,
                Some(_) if ready(&self.storage) || shut() => return true,
                Some(_) => {}
            }
        }
    }

    /// `try_push`, waiting out another thread that is half-way through the
    /// slot (never `Busy`). Only with the lock held (the guard proves it), so
    /// that at most one thread at a time waits for another's progress.
    fn push_settled(
        &self,
        _locked: &MutexGuard<'_, Wakeups>,
        mut item: S::Item,
    ) -> Result<(), Refused<S::Item>> {
        let mut backoff = Backoff::new();
        loop {
            match self.storage.try_push(item) {
                Err(Refused::Busy(back)) => item = back,
                other => return other,
            }
            backoff.snooze();
        }
    }

    /// `try_pop`, waiting out another thread that is half-way through the
    /// slot (never `Busy`). Only with the lock held, as `push_settled`.
    fn pop_settled(&self, _locked: &MutexGuard<'_, Wakeups>) -> Result<S::Item, Missing> {
        let mut backoff = Backoff::new();
        loop {
            match self.storage.try_pop() {
                Err(Missing::Busy) => {}
                other => return other,
            }
            backoff.snooze();
        }
    }

    /// After a push: wakes one sleeping getter, if any is not yet notified.
    #[inline]
    fn wake_getter(&self) {
        // Relaxed: the push's claim (an AcqRel RMW, or the storage's lock)
        // ordered any registered getter's registration before this read.
        if self.sleepers.getters.load(Relaxed) > 0 {
            let mut guard = self.lock.lock();
            if Self::notify(&mut guard.getters, &self.sleepers.getters) {
                self.not_empty.notify_one();
            }
        }
    }

    /// After a pop: wakes one sleeping putter, if any is not yet notified.
    #[inline]
    fn wake_putter(&self) {
        // Relaxed: as in `wake_getter`, with the pop's claim.
        if self.sleepers.putters.load(Relaxed) > 0 {
            let mut guard = self.lock.lock();
            if Self::notify(&mut guard.putters, &self.sleepers.putters) {
                self.not_full.notify_one();
            }
        }
    }

    /// Under the lock, before a `notify_one`: moves one registered sleeper
    /// to the notified ones; false if none is left to notify.
    fn notify(notified: &mut usize, registered: &AtomicUsize) -> bool {
        let n = registered.load(Relaxed);
        if n == 0 {
            return false;
        }
        registered.store(n - 1, Relaxed);
        *notified += 1;
        true
    }

    /// Under the lock, before a `notify_all`: every registered sleeper is
    /// notified.
    fn notify_every(notified: &mut usize, registered: &AtomicUsize) -> bool {
        let n = registered.swap(0, Relaxed);
        *notified += n;
        n > 0
    }

    /// Under the lock, after a sleeper woke: it takes a notification if one
    /// is outstanding, else it takes itself off the registered count.
    fn account(notified: &mut usize, registered: &AtomicUsize) {
        if *notified > 0 {
            *notified -= 1;
        } else {
            registered.fetch_sub(1, Relaxed);
        }
    }

    /// Python's `unfinished_tasks`: items put and not yet marked done.
    fn unfinished(&self) -> u64 {
        // `done` first: the `pushed` a `task_done` checked before raising it
        // is visible afterwards, so the difference cannot go negative.
        let done = self.done.load(Acquire);
        self.storage.pushed().saturating_sub(done)
    }

    fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut done = self.done.load(Relaxed);
        loop {
            let pushed = self.storage.pushed();
            if done >= pushed {
                return Err(TaskDoneError);
            }
            match self
                .done
                .compare_exchange_weak(done, done + 1, AcqRel, Relaxed)
            {
                Ok(_) => {
                    // Zero unfinished tasks (unless a put came meanwhile,
                    // and then a woken joiner just sleeps again).
                    if done + 1 == pushed && self.sleepers.joiners.load(Relaxed) > 0 {
                        let _guard = self.lock.lock();
                        self.all_tasks_done.notify_all();
                    }
                    return Ok(());
                }
                Err(actual) => done = actual,
            }
        }
    }

    /// Waits until every put item was marked done; false if `wait` ran out.
    fn join(&self, wait: Wait) -> bool {
        if self.unfinished() == 0 {
            return true;
        }
        if matches!(wait, Wait::No) {
            return false;
        }
        let mut guard = self.lock.lock();
        self.sleepers.joiners.fetch_add(1, Relaxed);
        let mut out_of_time = false;
        let finished = loop {
            // The joiner's half of the handshake: a no-op RMW on `done`.
            let done = self.done.fetch_add(0, AcqRel);
            if done >= self.storage.pushed() {
                break true;
            }
            if out_of_time {
                break false;
            }
            let (woken, timed_out) = wait.on(&self.all_tasks_done, guard);
            guard = woken;
            out_of_time = timed_out;
        };
        self.sleepers.joiners.fetch_sub(1, Relaxed);
        finished
    }

    fn shutdown(&self, immediate: bool) {
        let mut guard = self.lock.lock();
        let dropped = self.storage.close(immediate);
        // Ends the spin of the calls that wait without the lock.
        self.sleepers.shut.store(true, Relaxed);
        if immediate {
            // Python: each dropped item counts as done while any is
            // unfinished. `pushed` is final now that the storage is closed.
            let pushed = self.storage.pushed();
            let count = dropped.len() as u64;
            let _ = self.done.fetch_update(AcqRel, Relaxed, |done| {
                Some(done.saturating_add(count).min(pushed))
            });
            if self.sleepers.joiners.load(Relaxed) > 0 {
                self.all_tasks_done.notify_all();
            }
        }
        // Under the lock the counts are exact.
        if Self::notify_every(&mut guard.getters, &self.sleepers.getters) {
            self.not_empty.notify_all();
        }
        if Self::notify_every(&mut guard.putters, &self.sleepers.putters) {
            self.not_full.notify_all();
        }
        drop(guard);
        // Dropped after unlocking: an item's `Drop` may use the queue.
        drop(dropped);
    }

    fn fmt(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("len", &self.storage.len())
            .field("maxsize", &self.maxsize)
            .field("unfinished_tasks", &self.unfinished())
            .field("is_shutdown", &self.storage.is_closed())
            .finish()
    }
}

/// Generates a public flavour: a thin handle over the engine with the
/// storage `$storage` (made by `$make(maxsize)`), and the whole shared API.
macro_rules! queue_flavour {
    ($(#[$doc:meta])* $name:ident<T $(: $bound:ident)?>, $storage:ty, $make:expr) => {
        $(#[$doc])*
        pub struct $name<T $(: $bound)?> {
            engine: Engine<$storage>,
        }

        impl<T $(: $bound)?> $name<T> {
            /// A new queue holding at most `maxsize` items; `0` means
            /// unbounded, as in Python.
            pub fn new(maxsize: usize) -> Self {
                $name { engine: Engine::new($make(maxsize), maxsize) }
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

            /// The number of items waiting (Python's `qsize()`); a snapshot.
            pub fn len(&self) -> usize {
                self.engine.storage.len()
            }

            /// True if no item is waiting (Python's `empty()`); a snapshot.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// True if the queue is bounded and holds `maxsize` items (Python's
            /// `full()`); a snapshot.
            pub fn is_full(&self) -> bool {
                self.engine.maxsize > 0 && self.len() >= self.engine.maxsize
            }

            /// The bound given to `new`; 0 means unbounded.
            pub fn maxsize(&self) -> usize {
                self.engine.maxsize
            }

            /// Items put and not yet marked done (Python's `unfinished_tasks`).
            pub fn unfinished_tasks(&self) -> usize {
                self.engine.unfinished() as usize
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
                self.engine.storage.is_closed()
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
    Queue<T>, FifoStorage<T>, FifoStorage::new
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
    LifoQueue<T>, Locked<Lifo<T>>, Locked::new
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
    PriorityQueue<T: Ord>, Locked<Priority<T>>, Locked::new
}
