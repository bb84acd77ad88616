//! `Queue` and `JoinableQueue` between processes: Python's
//! `multiprocessing.Queue` / `JoinableQueue`.
//!
//! | Python | synclings |
//! |---|---|
//! | `Queue(maxsize)` (`0`: unbounded) | [`Queue::new`] |
//! | `put(obj)` / `put(obj, timeout=t)` / `put_nowait(obj)` | [`put`](Queue::put) / [`put_timeout`](Queue::put_timeout) / [`try_put`](Queue::try_put) → `Result<(), PutError>` |
//! | `get()` / `get(timeout=t)` / `get_nowait()` | [`get`](Queue::get) / [`get_timeout`](Queue::get_timeout) / [`try_get`](Queue::try_get) → `Result<T, GetError>` |
//! | `queue.Full` / `queue.Empty` | [`PutError::Full`] / [`GetError::Empty`] |
//! | `close()` | [`close`](Queue::close) (or drop) |
//! | `JoinableQueue`: `task_done()` / `join()` | [`JoinableQueue::task_done`] / [`JoinableQueue::join`] |
//!
//! A queue is passed to children as an argument of
//! [`Process::spawn`](super::Process::spawn); every process holding it may
//! put and get, and every message is delivered once and whole, whatever its
//! size.
//!
//! # How it works
//!
//! Python's queue is "a pipe plus a lock" (plus a semaphore for `maxsize`),
//! and a feeder thread; every message costs it system calls on both sides.
//! Here the whole queue is one region of shared memory (a `memfd`, or a
//! file: see [`Backend`](super::Backend)):
//!
//! - **The wire** is a byte ring (256 KiB; see the `ring` module): a message
//!   is copied in as a *record*, a 12-byte header (tag, bytes in this
//!   record, bytes in the whole message) and the encoded bytes. A message
//!   that does not fit the ring whole streams through it as a first record
//!   tagged `F` and continuation records tagged `C`. A put or a get of a
//!   small message is a copy and a few atomic operations: no system call
//!   unless a side must sleep (it spins briefly first, then sleeps on a
//!   futex word, and is woken only if it said it sleeps).
//! - **Locks**: a writer copies all records of a message under the write
//!   lock, a reader takes them under the read lock, so a message's records
//!   are contiguous and read by one reader. Both are robust process-shared
//!   mutexes in the same memory: when a holder dies, the next locker is told;
//!   when a waiter dies, the kernel hands the lock to the next one (they are
//!   priority-inheriting: see `shm::RobustMutex`).
//! - **Publication**: a writer makes a record visible with one store of the
//!   ring's tail after copying it in; a reader frees it with one store of
//!   the head after copying it out. A record is visible whole or not at all.
//! - **`maxsize`** is a counting semaphore of free places in shared memory: a
//!   put takes a place before writing; a get gives it back when it commits
//!   to a message (when it has found its `F` record, before taking it).
//! - **`JoinableQueue`** keeps a counter of unfinished tasks in shared memory
//!   (a futex word: `join` sleeps on it).
//!
//! # Processes killed at the worst moment (beyond Python)
//!
//! In Python, a consumer killed while holding the queue's read lock leaves it
//! held forever, and every other consumer hangs. Here:
//!
//! - *a reader dies holding the read lock*: the next reader gets the lock.
//!   A record the dead reader was copying out (the head not yet stored) is
//!   still there and is read again. If the dead reader had consumed the
//!   first records of a message, that message is lost with it (as it would
//!   be had it died just after `get`); its remaining `C` records are
//!   recognised and skipped. Its place was returned before it took the
//!   first record.
//! - *a writer dies (or a timed put gives up) in the middle of a message*:
//!   a record it was copying in (the tail not yet stored) is invisible and
//!   gets overwritten. A reader that waits for the rest of a message notices
//!   that the write lock is free or its owner dead and nothing more was
//!   published, or meets the next message's `F` record, and drops the
//!   partial message. The next holder of the write lock (a put, or that
//!   reader) gives back the dead writer's place and task count; until then a
//!   `JoinableQueue::join` still counts the lost message.
//!
//! Each bookkeeping step follows the store it accounts for, ordered so that
//! a process killed between the two leaves one place *too many* (the queue
//! may then hold `maxsize + 1`), never one too few: the queue cannot wedge.
//! The task counter of a `JoinableQueue` has one such window the other way:
//! a producer killed between publishing the last record and clearing its
//! state gets its task uncounted, so a later `task_done` may report
//! [`TaskDoneError`].
//!
//! Bytes in the ring that cannot be a record (only a process writing into
//! the queue's memory by other means can put them there) are dropped by the
//! reader that meets them, like orphan `C` records.
//!
//! # Producers and consumers in separate processes (the seed's program 7)
//!
//! Producers put work, consumers take it until an end signal (`None`, one
//! per consumer, sent once every producer is done), and report back through
//! a second queue:
//!
//! ```
//! use synclings::ipc::{self, entry, Entry, Process, Queue};
//!
//! static ENTRIES: &[Entry] = &[entry!(producer), entry!(consumer)];
//!
//! fn producer((jobs, first): (Queue<Option<u64>>, u64)) {
//!     for n in first..first + 50 {
//!         jobs.put(&Some(n)).unwrap();
//!     }
//! }
//!
//! fn consumer((jobs, results): (Queue<Option<u64>>, Queue<u64>)) {
//!     while let Some(n) = jobs.get().unwrap() {
//!         results.put(&(n * n)).unwrap();
//!     }
//! }
//!
//! fn main() {
//!     ipc::init(ENTRIES);
//!     let jobs = Queue::<Option<u64>>::new(8).unwrap(); // producers wait while 8 are queued
//!     let results = Queue::<u64>::new(0).unwrap();
//!     let producers: Vec<Process> =
//!         [0u64, 50].iter().map(|first| Process::spawn("producer", &(&jobs, first)).unwrap()).collect();
//!     let consumers: Vec<Process> =
//!         (0..3).map(|_| Process::spawn("consumer", &(&jobs, &results)).unwrap()).collect();
//!     let sum: u64 = (0..100).map(|_| results.get().unwrap()).sum();
//!     for mut p in producers {
//!         assert!(p.join().unwrap().success());
//!     }
//!     for _ in &consumers {
//!         jobs.put(&None).unwrap();
//!     }
//!     for mut c in consumers {
//!         assert!(c.join().unwrap().success());
//!     }
//!     assert_eq!(sum, (0..100u64).map(|n| n * n).sum());
//! }
//! ```
//!
//! # Example
//!
//! ```
//! use synclings::ipc::{GetError, Queue};
//!
//! let q = Queue::<String>::new(2).unwrap();
//! q.put(&"job".to_string()).unwrap();
//! assert_eq!(q.get().unwrap(), "job");
//! assert!(matches!(q.try_get(), Err(GetError::Empty)));
//! ```

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::sync::atomic::AtomicU32;
// SeqCst: the counters here are few and cross processes; no hot path needs
// weaker orderings.
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::frame::{self, RecvError, SendError, DEFAULT_MAX_MESSAGE_LEN};
use super::inherit;
use super::ring::{Ring, RingState};
use super::shm::{Locked, RawSemaphore, RobustMutex, SharedMemory};

/// The ring's length unless configured.
const DEFAULT_RING_LEN: usize = 256 << 10;
/// The smallest ring.
const MIN_RING_LEN: usize = 64;
/// The largest ring (positions are `u32`, compared wrapping).
const MAX_RING_LEN: usize = 1 << 30;
/// Tag of the first record of a message.
const FIRST: u32 = u32::from_le_bytes(*b"Fst!");
/// Tag of every other record of a message.
const CONTINUATION: u32 = u32::from_le_bytes(*b"Cnt!");
/// A record's header: tag, bytes in this record, bytes in the whole message
/// (0 in a `C` record); each a `u32` LE.
const HEADER: usize = 12;
/// How often a reader in the middle of a message checks that its writer is
/// still there.
const WRITER_CHECK: Duration = Duration::from_millis(50);
/// The most a reader allocates ahead of the bytes it has received.
const READ_AHEAD: u64 = 1 << 20;
/// Marks shared memory that holds a queue.
const MAGIC: u64 = u64::from_le_bytes(*b"synQueu2");

/// Bits of `writer_state`: what the holder of the write lock has taken and
/// not yet handed over to the wire.
const HAS_PLACE: u32 = 1;
const COUNTED: u32 = 2;

/// The queue's state in shared memory; the ring's bytes follow it, at
/// [`ring_offset`]. What a side writes on every message sits on a cache
/// line of its own ([`Line`]), so that the writer's process and the reader's
/// do not take each other's lines for nothing.
#[repr(C)]
struct Shared {
    /// Immutable after creation.
    magic: u64,
    maxsize: u32,
    joinable: u32,
    max_message_len: u64,
    /// The ring's length in bytes (a power of two).
    ring_len: u64,
    /// Held by a reader from the wait for a message to its last record.
    read_lock: Line<RobustMutex>,
    /// Held by a writer from taking a place to its last record.
    write_lock: Line<RobustMutex>,
    /// `HAS_PLACE | COUNTED` of the current writer, for repair after its
    /// death (stays 0 in an unbounded, non-joinable queue).
    writer_state: Line<AtomicU32>,
    /// Free places when `maxsize > 0`.
    places: Line<RawSemaphore>,
    /// Puts not yet matched by a `task_done` (JoinableQueue only); `join`
    /// sleeps on it.
    unfinished: Line<AtomicU32>,
    /// The ring's positions.
    ring: RingState,
}

/// A value alone on its cache line (two, for the adjacent-line prefetcher).
#[repr(C, align(128))]
struct Line<T>(T);

impl<T> std::ops::Deref for Line<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Where the ring's bytes start in the mapping.
fn ring_offset() -> usize {
    size_of::<Shared>().next_multiple_of(4096)
}

/// A record's header, as read from the ring.
struct Record {
    tag: u32,
    /// Bytes in this record, after the header.
    len: u32,
    /// Bytes in the whole message (`F` records).
    total: u32,
}

/// Why a put failed.
#[derive(Debug)]
pub enum PutError {
    /// The queue stayed full (or the write lock busy) until the deadline:
    /// Python's `queue.Full`. Nothing was delivered.
    Full,
    /// The message could not be sent (too large, not encodable, an OS error).
    Send(SendError),
}

/// Why a get failed.
#[derive(Debug)]
pub enum GetError {
    /// No message arrived before the deadline: Python's `queue.Empty`.
    Empty,
    /// A message arrived but could not be received or decoded (it is
    /// consumed; the queue stays usable).
    Recv(RecvError),
}

/// `task_done` was called more times than there were items: Python's
/// `ValueError('task_done() called too many times')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for PutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full => write!(f, "the queue is full"),
            PutError::Send(e) => write!(f, "put failed: {e}"),
        }
    }
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => write!(f, "the queue is empty"),
            GetError::Recv(e) => write!(f, "get failed: {e}"),
        }
    }
}

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task_done() called more times than items were put")
    }
}

impl std::error::Error for PutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PutError::Send(e) => Some(e),
            PutError::Full => None,
        }
    }
}

impl std::error::Error for GetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GetError::Recv(e) => Some(e),
            GetError::Empty => None,
        }
    }
}

impl std::error::Error for TaskDoneError {}

impl From<SendError> for PutError {
    fn from(e: SendError) -> Self {
        PutError::Send(e)
    }
}

impl From<io::Error> for PutError {
    fn from(e: io::Error) -> Self {
        PutError::Send(e.into())
    }
}

impl From<RecvError> for GetError {
    fn from(e: RecvError) -> Self {
        GetError::Recv(e)
    }
}

impl From<io::Error> for GetError {
    fn from(e: io::Error) -> Self {
        GetError::Recv(RecvError::Io(e))
    }
}

/// A FIFO queue of `T` shared by processes (Python's
/// `multiprocessing.Queue`). See the [module docs](self) for the design.
///
/// `Sync`: threads of one process may share a handle (an `Arc<Queue<T>>`);
/// the locks are per thread.
pub struct Queue<T> {
    /// The `Shared` state, then the ring's bytes.
    shm: SharedMemory,
    _items: PhantomData<fn(T) -> T>,
}

/// Where a put stops for a test (see the hidden `put_pausing_*` methods).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PauseAt {
    /// Once the first record is published.
    AfterFirstRecord,
    /// With record number `n` (from 0) copied into the ring, not published.
    BeforePublishing(usize),
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A queue that holds at most `maxsize` messages (`0`: unbounded; then a
    /// put still waits while the ring is full). Messages are at most
    /// [`DEFAULT_MAX_MESSAGE_LEN`] bytes encoded.
    pub fn new(maxsize: usize) -> io::Result<Self> {
        Self::create(maxsize, DEFAULT_MAX_MESSAGE_LEN, DEFAULT_RING_LEN, false)
    }

    /// Like [`new`](Queue::new), with another limit on an encoded message's
    /// length; every process holding the queue uses it.
    pub fn with_max_message_len(maxsize: usize, max_message_len: usize) -> io::Result<Self> {
        Self::create(maxsize, max_message_len, DEFAULT_RING_LEN, false)
    }

    /// For tests of the ring's edges: a queue whose ring holds `ring_len`
    /// bytes (rounded up to a power of two, at least 64).
    #[doc(hidden)]
    pub fn with_ring_len(maxsize: usize, ring_len: usize) -> io::Result<Self> {
        Self::create(maxsize, DEFAULT_MAX_MESSAGE_LEN, ring_len, false)
    }

    fn create(
        maxsize: usize,
        max_message_len: usize,
        ring_len: usize,
        joinable: bool,
    ) -> io::Result<Self> {
        let maxsize = u32::try_from(maxsize)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "maxsize is over u32::MAX"))?;
        let ring_len = ring_len
            .clamp(MIN_RING_LEN, MAX_RING_LEN)
            .next_power_of_two();
        let shm = SharedMemory::create(c"synclings-queue", ring_offset() + ring_len, true)?;
        let shared = shm.as_ptr().cast::<Shared>();
        // SAFETY: the fresh mapping is page-aligned, zeroed (an empty ring,
        // zero counters), large enough for a `Shared` and the ring, and not
        // yet visible to any other thread or process.
        unsafe {
            shm.init_mutex(std::ptr::addr_of_mut!((*shared).read_lock.0))?;
            shm.init_mutex(std::ptr::addr_of_mut!((*shared).write_lock.0))?;
            (*shared).places.set(maxsize);
            (*shared).maxsize = maxsize;
            (*shared).joinable = u32::from(joinable);
            (*shared).max_message_len = max_message_len.min(frame::MAX_FRAME_LEN) as u64;
            (*shared).ring_len = ring_len as u64;
            (*shared).magic = MAGIC;
        }
        Ok(Queue {
            shm,
            _items: PhantomData,
        })
    }

    /// Puts `item` at the end, waiting while the queue is full.
    pub fn put(&self, item: &T) -> Result<(), PutError> {
        self.put_until(item, None, None, || {})
    }

    /// Puts `item`, waiting at most `timeout` for room; [`PutError::Full`]
    /// then.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), PutError> {
        self.put_until(item, Some(Instant::now() + timeout), None, || {})
    }

    /// Puts `item` only if that needs no waiting (Python's `put_nowait`).
    pub fn try_put(&self, item: &T) -> Result<(), PutError> {
        self.put_until(item, Some(Instant::now()), None, || {})
    }

    /// Takes the first message, waiting for one.
    pub fn get(&self) -> Result<T, GetError> {
        self.get_until(None, || {})
    }

    /// Takes the first message, waiting at most `timeout`; [`GetError::Empty`]
    /// then.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_until(Some(Instant::now() + timeout), || {})
    }

    /// Takes the first message if one is there (Python's `get_nowait`).
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_until(Some(Instant::now()), || {})
    }

    /// For tests of a writer that dies mid-message: puts `item` like
    /// [`put`](Queue::put), calling `pause` once the message's first record
    /// is published (with the write lock held).
    #[doc(hidden)]
    pub fn put_pausing_after_first_packet(
        &self,
        item: &T,
        pause: impl FnOnce(),
    ) -> Result<(), PutError> {
        self.put_until(item, None, Some(PauseAt::AfterFirstRecord), pause)
    }

    /// For tests of a writer that dies while copying a record: puts `item`
    /// like [`put`](Queue::put), calling `pause` once record number `record`
    /// (from 0) of the message is copied into the ring but not yet published
    /// (with the write lock held). Never pauses if the message has fewer
    /// records.
    #[doc(hidden)]
    pub fn put_pausing_before_publishing(
        &self,
        item: &T,
        record: usize,
        pause: impl FnOnce(),
    ) -> Result<(), PutError> {
        self.put_until(item, None, Some(PauseAt::BeforePublishing(record)), pause)
    }

    /// For tests of a reader that dies mid-message: gets like
    /// [`get`](Queue::get), calling `pause` once the message's first record
    /// is taken (with the read lock held).
    #[doc(hidden)]
    pub fn get_pausing_after_first_packet(&self, pause: impl FnOnce()) -> Result<T, GetError> {
        self.get_until(None, pause)
    }

    fn put_until(
        &self,
        item: &T,
        deadline: Option<Instant>,
        pause_at: Option<PauseAt>,
        pause: impl FnOnce(),
    ) -> Result<(), PutError> {
        let payload = frame::encode_into(item, frame::buffer())?;
        let result = self.put_bytes(&payload, deadline, pause_at, pause);
        frame::recycle(payload);
        result
    }

    /// Puts one encoded message; see `put_until`.
    fn put_bytes(
        &self,
        payload: &[u8],
        deadline: Option<Instant>,
        pause_at: Option<PauseAt>,
        pause: impl FnOnce(),
    ) -> Result<(), PutError> {
        frame::check_len(payload.len(), self.max_message_len())?;
        let shared = self.shared();
        let _write = match self.shm.lock(&shared.write_lock, deadline)? {
            Locked::Acquired(guard, owner_died) => {
                if owner_died {
                    self.repair_after_writer();
                }
                guard
            }
            Locked::TimedOut => return Err(PutError::Full),
        };
        if shared.maxsize > 0 {
            if !shared.places.acquire(&self.shm, deadline) {
                return Err(PutError::Full);
            }
            shared.writer_state.store(HAS_PLACE, SeqCst);
        }
        if shared.joinable != 0 {
            shared.unfinished.fetch_add(1, SeqCst);
            shared.writer_state.fetch_or(COUNTED, SeqCst);
        }
        let ring = self.ring();
        let cap = ring.len() as usize - HEADER;
        // A message that fits the ring goes in whole, as one record; a larger
        // one streams, a record whenever a quarter of the ring is free.
        let least = if payload.len() <= cap {
            payload.len()
        } else {
            cap / 4
        };
        let mut pause = Some(pause);
        let mut sent = 0;
        let mut record = 0;
        while record == 0 || sent < payload.len() {
            let left = payload.len() - sent;
            let need = (HEADER + left.min(least)) as u32;
            let tail = ring.tail();
            let mut head = ring.head();
            while Ring::used(head, tail) > ring.len() - need {
                if !ring.wait_consumed(head, deadline) {
                    // Readers drop a partial message; uncount it (or undo
                    // everything if nothing is on the wire yet).
                    self.repair_after_writer();
                    return Err(PutError::Full);
                }
                head = ring.head();
            }
            let free = (ring.len() - Ring::used(head, tail)) as usize;
            let n = left.min(free - HEADER);
            let (tag, total) = if record == 0 {
                (FIRST, payload.len() as u32)
            } else {
                (CONTINUATION, 0)
            };
            let mut header = [0u8; HEADER];
            header[..4].copy_from_slice(&tag.to_le_bytes());
            header[4..8].copy_from_slice(&(n as u32).to_le_bytes());
            header[8..].copy_from_slice(&total.to_le_bytes());
            ring.write(tail, &header);
            ring.write(tail.wrapping_add(HEADER as u32), &payload[sent..sent + n]);
            if pause_at == Some(PauseAt::BeforePublishing(record)) {
                if let Some(pause) = pause.take() {
                    pause();
                }
            }
            ring.publish(tail.wrapping_add((HEADER + n) as u32));
            sent += n;
            if record == 0 {
                // A reader now gives the place back when it commits to this
                // message.
                if shared.maxsize > 0 {
                    shared.writer_state.fetch_and(!HAS_PLACE, SeqCst);
                }
                if pause_at == Some(PauseAt::AfterFirstRecord) {
                    if let Some(pause) = pause.take() {
                        pause();
                    }
                }
            }
            record += 1;
        }
        if shared.joinable != 0 {
            shared.writer_state.store(0, SeqCst);
        }
        Ok(())
    }

    fn get_until(&self, deadline: Option<Instant>, pause: impl FnOnce()) -> Result<T, GetError> {
        let shared = self.shared();
        // A dead previous reader needs no repair: its place was given back,
        // a record it was taking is still there, and the rest of its message
        // is skipped below.
        let _read = match self.shm.lock(&shared.read_lock, deadline)? {
            Locked::Acquired(guard, _owner_died) => guard,
            Locked::TimedOut => return Err(GetError::Empty),
        };
        let ring = self.ring();
        let max = self.max_message_len();
        let mut pause = Some(pause);
        'message: loop {
            // Wait for the first record of a message, skipping orphans.
            let (head, first) = loop {
                let Some((head, record)) = self.next_record(deadline) else {
                    return Err(GetError::Empty);
                };
                if record.tag == FIRST && record.len <= record.total {
                    break (head, record);
                }
                // An orphan `C` record (its message's reader died), or garbage.
                ring.consume(head.wrapping_add(HEADER as u32 + record.len));
            };
            // Commit: give the place back first (a death between the two
            // steps leaves a place too many, never one too few).
            if shared.maxsize > 0 {
                shared.places.release(&self.shm, 1);
            }
            let len = u64::from(first.total);
            if len > max as u64 {
                ring.consume(head.wrapping_add(HEADER as u32 + first.len));
                // Its other records are skipped by the next get.
                return Err(RecvError::TooLarge { len, max }.into());
            }
            let mut message = frame::buffer();
            message.reserve(len.min(READ_AHEAD) as usize);
            let mut head = head;
            let mut record = first;
            loop {
                ring.read_append(
                    head.wrapping_add(HEADER as u32),
                    record.len as usize,
                    &mut message,
                );
                head = head.wrapping_add(HEADER as u32 + record.len);
                ring.consume(head);
                if let Some(pause) = pause.take() {
                    pause();
                }
                if message.len() as u64 == len {
                    let item = frame::decode(&message).map_err(GetError::Recv);
                    frame::recycle(message);
                    return item;
                }
                // Wait for the next record of this message.
                record = loop {
                    match self.next_record(Some(Instant::now() + WRITER_CHECK)) {
                        Some((_, r)) => break r,
                        None => {
                            if self.writer_gone()? {
                                continue 'message;
                            }
                        }
                    }
                };
                let left = len - message.len() as u64;
                if record.tag != CONTINUATION || u64::from(record.len) > left {
                    // The next message's `F` (this one was abandoned), or
                    // garbage: drop this one.
                    continue 'message;
                }
            }
        }
    }

    /// Waits for a record at the head (with the read lock held) and reads its
    /// header; `None` if the deadline passed first. Bytes that cannot be a
    /// record are dropped (all that is published: the reader cannot find
    /// the next boundary in them).
    fn next_record(&self, deadline: Option<Instant>) -> Option<(u32, Record)> {
        let ring = self.ring();
        loop {
            let head = ring.head();
            let tail = ring.tail();
            let used = Ring::used(head, tail);
            if used == 0 {
                if !ring.wait_published(tail, deadline) {
                    return None;
                }
                continue;
            }
            if used as usize >= HEADER && used <= ring.len() {
                let mut header = [0u8; HEADER];
                ring.read(head, &mut header);
                let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4"));
                let record = Record {
                    tag: word(0),
                    len: word(4),
                    total: word(8),
                };
                if (record.tag == FIRST || record.tag == CONTINUATION)
                    && record.len as usize <= used as usize - HEADER
                {
                    return Some((head, record));
                }
            }
            ring.consume(tail);
        }
    }

    /// True if no writer will complete the message a reader is in the middle
    /// of: the write lock is free (or its owner died) and nothing more was
    /// published.
    fn writer_gone(&self) -> io::Result<bool> {
        match self
            .shm
            .lock(&self.shared().write_lock, Some(Instant::now()))?
        {
            Locked::TimedOut => Ok(false),
            Locked::Acquired(_guard, owner_died) => {
                if owner_died {
                    self.repair_after_writer();
                }
                let ring = self.ring();
                Ok(ring.head() == ring.tail())
            }
        }
    }

    /// Gives back what the holder of the write lock took and did not hand to
    /// the wire (it died, or gave up); called with the write lock held.
    fn repair_after_writer(&self) {
        let shared = self.shared();
        let state = shared.writer_state.swap(0, SeqCst);
        if state & HAS_PLACE != 0 {
            shared.places.release(&self.shm, 1);
        }
        if state & COUNTED != 0 {
            let _ = self.finish_task();
        }
    }

    /// Closes this process's handle (Python's `close`; the same as dropping
    /// it). The other holders keep using the queue.
    pub fn close(self) {}
}

impl<T> Queue<T> {
    fn shared(&self) -> &Shared {
        // SAFETY: the mapping holds an initialised `Shared` (checked by magic
        // and size when received) and lives as long as `self`; its mutable
        // parts are atomics and pthread objects made for shared use.
        unsafe { &*self.shm.as_ptr().cast::<Shared>() }
    }

    fn ring(&self) -> Ring<'_> {
        let shared = self.shared();
        // SAFETY: the mapping holds `ring_len` bytes at `ring_offset()`
        // (checked when received), `ring_len` is a power of two (set by
        // `create`, checked when received), and the mapping lives as long
        // as `self`.
        unsafe {
            Ring::new(
                &self.shm,
                &shared.ring,
                self.shm.as_ptr().add(ring_offset()),
                shared.ring_len as u32,
            )
        }
    }

    /// For tests: the ring's length in bytes, and the header each record
    /// adds to the encoded message.
    #[doc(hidden)]
    pub fn ring_layout(&self) -> (usize, usize) {
        (self.shared().ring_len as usize, HEADER)
    }

    /// The queue's `maxsize` (`0`: unbounded).
    pub fn maxsize(&self) -> usize {
        self.shared().maxsize as usize
    }

    /// The largest encoded message the queue carries.
    pub fn max_message_len(&self) -> usize {
        self.shared().max_message_len as usize
    }

    /// True if no message is waiting right now (a snapshot, like Python's
    /// `empty()`).
    pub fn is_empty(&self) -> bool {
        let ring = self.ring();
        ring.head() == ring.tail()
    }

    /// For tests: true if some thread or process holds the read lock (a
    /// probe: takes and releases it when it is free).
    #[doc(hidden)]
    pub fn read_lock_is_held(&self) -> bool {
        matches!(
            self.shm
                .lock(&self.shared().read_lock, Some(Instant::now())),
            Ok(Locked::TimedOut)
        )
    }

    /// Counts one task done; wakes `join` when none is left.
    fn finish_task(&self) -> Result<(), TaskDoneError> {
        let unfinished = &*self.shared().unfinished;
        let mut current = unfinished.load(SeqCst);
        loop {
            if current == 0 {
                return Err(TaskDoneError);
            }
            match unfinished.compare_exchange_weak(current, current - 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        if current == 1 {
            self.shm.wake_all(unfinished);
        }
        Ok(())
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.shm.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let shm = SharedMemory::deserialize(d)?;
        let fail = |why: &str| Err(serde::de::Error::custom(inherit::fail(why.to_string())));
        if shm.len() < ring_offset() {
            return fail("the shared memory is too small for a queue");
        }
        let queue = Queue {
            shm,
            _items: PhantomData,
        };
        let shared = queue.shared();
        if shared.magic != MAGIC {
            return fail("the shared memory does not hold a queue");
        }
        let ring_len = shared.ring_len;
        if !ring_len.is_power_of_two()
            || ring_len > MAX_RING_LEN as u64
            || (queue.shm.len() as u64) < ring_offset() as u64 + ring_len
        {
            return fail("the shared memory of the queue is too small for its ring");
        }
        Ok(queue)
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("maxsize", &self.maxsize())
            .field("max_message_len", &self.max_message_len())
            .field("is_empty", &self.is_empty())
            .finish()
    }
}

/// A [`Queue`] that also counts unfinished tasks (Python's
/// `multiprocessing.JoinableQueue`): every put adds one, every
/// [`task_done`](JoinableQueue::task_done) (in any process) removes one, and
/// [`join`](JoinableQueue::join) waits for zero. It dereferences to the
/// `Queue` for `put`, `get` and the rest.
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// A joinable queue holding at most `maxsize` messages (`0`: unbounded).
    pub fn new(maxsize: usize) -> io::Result<Self> {
        Ok(JoinableQueue {
            queue: Queue::create(maxsize, DEFAULT_MAX_MESSAGE_LEN, DEFAULT_RING_LEN, true)?,
        })
    }

    /// Closes this process's handle.
    pub fn close(self) {}
}

impl<T> JoinableQueue<T> {
    /// Marks one item taken with `get` as processed.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        self.queue.finish_task()
    }

    /// Waits until every item put has been marked done.
    pub fn join(&self) {
        self.join_until(None);
    }

    /// Waits at most `timeout` for every item to be marked done; false if
    /// some are still unfinished.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.join_until(Some(Instant::now() + timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> bool {
        let unfinished = &*self.queue.shared().unfinished;
        loop {
            let current = unfinished.load(SeqCst);
            if current == 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            self.queue.shm.wait(unfinished, current, deadline);
        }
    }

    /// Items put and not yet marked done (a snapshot).
    pub fn unfinished_tasks(&self) -> usize {
        self.queue.shared().unfinished.load(SeqCst) as usize
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.queue.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let queue = Queue::deserialize(d)?;
        if queue.shared().joinable == 0 {
            return Err(serde::de::Error::custom(inherit::fail(
                "a plain Queue was passed where a JoinableQueue is expected".to_string(),
            )));
        }
        Ok(JoinableQueue { queue })
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("queue", &self.queue)
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish()
    }
}
