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
//! Python's queue is "a pipe plus a lock" (plus a semaphore for `maxsize`).
//! Here:
//!
//! - **The wire** is a `SOCK_SEQPACKET` socket pair: a receive takes one
//!   whole packet or nothing, atomically. A message is cut into packets of at
//!   most 64 KiB; the first is tagged `F` and carries the message's length,
//!   the others are tagged `C`.
//! - **Locks**: writers send all packets of a message under the write lock,
//!   readers receive them under the read lock, so a message's packets are
//!   contiguous and read by one reader. Both are robust process-shared
//!   mutexes in shared memory: when a holder dies, the next locker is told.
//! - **`maxsize`** is a counting semaphore of free places in shared memory: a
//!   put takes a place before sending; a get gives it back when it commits to
//!   a message (after peeking at its first packet, just before receiving it).
//! - **`JoinableQueue`** keeps a counter of unfinished tasks in shared memory
//!   (a futex word: `join` sleeps on it).
//!
//! # Processes killed at the worst moment (beyond Python)
//!
//! In Python, a consumer killed while holding the queue's read lock leaves it
//! held forever, and every other consumer hangs. Here:
//!
//! - *a reader dies holding the read lock*: the next reader gets the lock.
//!   If the dead reader had taken the first packets of a message, that
//!   message is lost with it (as it would be had it died just after `get`);
//!   its remaining `C` packets are recognised and skipped. Its place was
//!   returned before it took the first packet.
//! - *a writer dies (or a timed put gives up) in the middle of a message*:
//!   a reader that waits for the rest notices that the write lock is free or
//!   its owner dead, or sees the next message's `F` packet, and drops the
//!   partial message. The next holder of the write lock (a put, or that
//!   reader) gives back the dead writer's place and task count; until then a
//!   `JoinableQueue::join` still counts the lost message.
//!
//! Each bookkeeping step follows the system call it accounts for, ordered so
//! that a process killed between the two leaves one place *too many* (the
//! queue may then hold `maxsize + 1`), never one too few: the queue cannot
//! wedge. The task counter of a `JoinableQueue` has one such window the other
//! way: a producer killed between sending the last packet and clearing its
//! state gets its task uncounted, so a later `task_done` may report
//! [`TaskDoneError`].
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
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
// SeqCst: the counters here are few and cross processes; no hot path needs
// weaker orderings.
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::frame::{self, RecvError, SendError, DEFAULT_MAX_MESSAGE_LEN};
use super::inherit;
use super::pipe::wait_fd;
use super::shm::{futex_wait, futex_wake, Locked, RawSemaphore, RobustMutex, SharedMemory};

/// The largest packet on the wire (tag and header included).
const PACKET: usize = 64 << 10;
/// The first packet of a message: tag, then the message length (u64 LE).
const FIRST: u8 = b'F';
/// Every other packet of a message: tag, then bytes.
const CONTINUATION: u8 = b'C';
const FIRST_HEADER: usize = 1 + 8;
/// How often a reader in the middle of a message checks that its writer is
/// still there.
const WRITER_CHECK: Duration = Duration::from_millis(50);
/// The most a reader allocates ahead of the bytes it has received.
const READ_AHEAD: u64 = 1 << 20;
/// Marks shared memory that holds a queue.
const MAGIC: u64 = u64::from_le_bytes(*b"synQueue");

/// Bits of `writer_state`: what the holder of the write lock has taken and
/// not yet handed over to the wire.
const HAS_PLACE: u32 = 1;
const COUNTED: u32 = 2;

/// The queue's state in shared memory.
#[repr(C)]
struct Shared {
    magic: u64,
    /// Held by a reader from the wait for a message to its last packet.
    read_lock: RobustMutex,
    /// Held by a writer from taking a place to its last packet.
    write_lock: RobustMutex,
    /// Free places when `maxsize > 0`.
    places: RawSemaphore,
    /// Puts not yet matched by a `task_done` (JoinableQueue only); `join`
    /// sleeps on it.
    unfinished: AtomicU32,
    /// `HAS_PLACE | COUNTED` of the current writer, for repair after its death.
    writer_state: AtomicU32,
    /// Immutable after creation.
    maxsize: u32,
    joinable: u32,
    max_message_len: u64,
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
    shm: SharedMemory,
    /// The end every message is sent on.
    tx: OwnedFd,
    /// The end every message is received from.
    rx: OwnedFd,
    _items: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A queue that holds at most `maxsize` messages (`0`: unbounded; then a
    /// put still waits while the socket's buffer is full). Messages are at
    /// most [`DEFAULT_MAX_MESSAGE_LEN`] bytes encoded.
    pub fn new(maxsize: usize) -> io::Result<Self> {
        Self::create(maxsize, DEFAULT_MAX_MESSAGE_LEN, false)
    }

    /// Like [`new`](Queue::new), with another limit on an encoded message's
    /// length; every process holding the queue uses it.
    pub fn with_max_message_len(maxsize: usize, max_message_len: usize) -> io::Result<Self> {
        Self::create(maxsize, max_message_len, false)
    }

    fn create(maxsize: usize, max_message_len: usize, joinable: bool) -> io::Result<Self> {
        let maxsize = u32::try_from(maxsize)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "maxsize is over u32::MAX"))?;
        let shm = SharedMemory::create(c"synclings-queue", size_of::<Shared>())?;
        let shared = shm.as_ptr().cast::<Shared>();
        // SAFETY: the fresh mapping is page-aligned, zeroed, large enough for
        // a `Shared`, and not yet visible to any other thread or process.
        unsafe {
            RobustMutex::init(std::ptr::addr_of_mut!((*shared).read_lock))?;
            RobustMutex::init(std::ptr::addr_of_mut!((*shared).write_lock))?;
            (*shared).places.set(maxsize);
            (*shared).maxsize = maxsize;
            (*shared).joinable = u32::from(joinable);
            (*shared).max_message_len = max_message_len.min(frame::MAX_FRAME_LEN) as u64;
            (*shared).magic = MAGIC;
        }
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socketpair succeeded: two fresh descriptors that we own.
        let (tx, rx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Queue {
            shm,
            tx,
            rx,
            _items: PhantomData,
        })
    }

    /// Puts `item` at the end, waiting while the queue is full.
    pub fn put(&self, item: &T) -> Result<(), PutError> {
        self.put_until(item, None, || {})
    }

    /// Puts `item`, waiting at most `timeout` for room; [`PutError::Full`]
    /// then.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), PutError> {
        self.put_until(item, Some(Instant::now() + timeout), || {})
    }

    /// Puts `item` only if that needs no waiting (Python's `put_nowait`).
    pub fn try_put(&self, item: &T) -> Result<(), PutError> {
        self.put_until(item, Some(Instant::now()), || {})
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
    /// [`put`](Queue::put), calling `pause` once the message's first packet
    /// is sent (with the write lock held).
    #[doc(hidden)]
    pub fn put_pausing_after_first_packet(
        &self,
        item: &T,
        pause: impl FnOnce(),
    ) -> Result<(), PutError> {
        self.put_until(item, None, pause)
    }

    /// For tests of a reader that dies mid-message: gets like
    /// [`get`](Queue::get), calling `pause` once the message's first packet
    /// is received (with the read lock held).
    #[doc(hidden)]
    pub fn get_pausing_after_first_packet(&self, pause: impl FnOnce()) -> Result<T, GetError> {
        self.get_until(None, pause)
    }

    fn put_until(
        &self,
        item: &T,
        deadline: Option<Instant>,
        pause: impl FnOnce(),
    ) -> Result<(), PutError> {
        let payload = frame::encode(item)?;
        frame::check_len(payload.len(), self.max_message_len())?;
        let shared = self.shared();
        let _write = match shared.write_lock.lock(deadline)? {
            Locked::Acquired(guard, owner_died) => {
                if owner_died {
                    self.repair_after_writer();
                }
                guard
            }
            Locked::TimedOut => return Err(PutError::Full),
        };
        if shared.maxsize > 0 {
            if !shared.places.acquire(deadline) {
                return Err(PutError::Full);
            }
            shared.writer_state.store(HAS_PLACE, SeqCst);
        }
        if shared.joinable != 0 {
            shared.unfinished.fetch_add(1, SeqCst);
            shared.writer_state.fetch_or(COUNTED, SeqCst);
        }
        let mut header = [0u8; FIRST_HEADER];
        header[0] = FIRST;
        header[1..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        let first = payload.len().min(PACKET - FIRST_HEADER);
        if let Err(e) = send_packet(self.tx.as_fd(), &header, &payload[..first], deadline) {
            // Nothing of the message is on the wire: undo everything.
            self.repair_after_writer();
            return Err(e);
        }
        // A reader now gives the place back when it commits to this message.
        shared.writer_state.fetch_and(!HAS_PLACE, SeqCst);
        pause();
        for chunk in payload[first..].chunks(PACKET - 1) {
            if let Err(e) = send_packet(self.tx.as_fd(), &[CONTINUATION], chunk, deadline) {
                // Readers drop the partial message; uncount it.
                self.repair_after_writer();
                return Err(e);
            }
        }
        shared.writer_state.store(0, SeqCst);
        Ok(())
    }

    fn get_until(&self, deadline: Option<Instant>, pause: impl FnOnce()) -> Result<T, GetError> {
        let shared = self.shared();
        // A dead previous reader needs no repair: its place was given back,
        // and the rest of its message is skipped below.
        let _read = match shared.read_lock.lock(deadline)? {
            Locked::Acquired(guard, _owner_died) => guard,
            Locked::TimedOut => return Err(GetError::Empty),
        };
        let rx = self.rx.as_fd();
        let max = self.max_message_len();
        let mut packet = vec![0u8; PACKET];
        let mut pause = Some(pause);
        'message: loop {
            // Wait for the first packet of a message, skipping orphans.
            loop {
                if !wait_fd(rx, libc::POLLIN, deadline)? {
                    return Err(GetError::Empty);
                }
                match peek_tag(rx)? {
                    Some(FIRST) => break,
                    Some(_) => {
                        recv_packet(rx, &mut packet)?;
                    }
                    None => {}
                }
            }
            // Commit: give the place back first (a death between the two
            // steps leaves a place too many, never one too few).
            if shared.maxsize > 0 {
                shared.places.release(1);
            }
            let n = recv_packet(rx, &mut packet)?;
            if n < FIRST_HEADER {
                continue 'message;
            }
            let len = u64::from_le_bytes(packet[1..FIRST_HEADER].try_into().expect("8 bytes"));
            if len > max as u64 {
                // Its other packets are skipped by the next get.
                return Err(RecvError::TooLarge { len, max }.into());
            }
            let mut message = Vec::with_capacity(len.min(READ_AHEAD) as usize);
            message.extend_from_slice(&packet[FIRST_HEADER..n]);
            if let Some(pause) = pause.take() {
                pause();
            }
            while (message.len() as u64) < len {
                if !wait_fd(rx, libc::POLLIN, Some(Instant::now() + WRITER_CHECK))? {
                    if self.writer_gone()? {
                        continue 'message;
                    }
                    continue;
                }
                match peek_tag(rx)? {
                    Some(CONTINUATION) => {
                        let n = recv_packet(rx, &mut packet)?;
                        message.extend_from_slice(&packet[1..n]);
                    }
                    // The next message starts: this one was abandoned.
                    Some(FIRST) => continue 'message,
                    Some(_) => {
                        recv_packet(rx, &mut packet)?;
                        continue 'message;
                    }
                    None => {}
                }
            }
            if message.len() as u64 != len {
                continue 'message;
            }
            return frame::decode(&message).map_err(GetError::Recv);
        }
    }

    /// True if no writer will complete the message a reader is in the middle
    /// of: the write lock is free (or its owner died) and nothing is waiting.
    fn writer_gone(&self) -> io::Result<bool> {
        match self.shared().write_lock.lock(Some(Instant::now()))? {
            Locked::TimedOut => Ok(false),
            Locked::Acquired(_guard, owner_died) => {
                if owner_died {
                    self.repair_after_writer();
                }
                Ok(!wait_fd(
                    self.rx.as_fd(),
                    libc::POLLIN,
                    Some(Instant::now()),
                )?)
            }
        }
    }

    /// Gives back what the holder of the write lock took and did not hand to
    /// the wire (it died, or gave up); called with the write lock held.
    fn repair_after_writer(&self) {
        let shared = self.shared();
        let state = shared.writer_state.swap(0, SeqCst);
        if state & HAS_PLACE != 0 {
            shared.places.release(1);
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
        !matches!(
            wait_fd(self.rx.as_fd(), libc::POLLIN, Some(Instant::now())),
            Ok(true)
        )
    }

    /// For tests: true if some thread or process holds the read lock (a
    /// probe: takes and releases it when it is free).
    #[doc(hidden)]
    pub fn read_lock_is_held(&self) -> bool {
        matches!(
            self.shared().read_lock.lock(Some(Instant::now())),
            Ok(Locked::TimedOut)
        )
    }

    /// Counts one task done; wakes `join` when none is left.
    fn finish_task(&self) -> Result<(), TaskDoneError> {
        let unfinished = &self.shared().unfinished;
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
            futex_wake(unfinished, u32::MAX);
        }
        Ok(())
    }
}

/// Peeks at the tag of the next packet; `None` if there is none yet.
fn peek_tag(fd: BorrowedFd<'_>) -> io::Result<Option<u8>> {
    let mut tag = 0u8;
    loop {
        // SAFETY: a one-byte buffer we own; MSG_PEEK leaves the packet queued.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                (&mut tag as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            1 => return Ok(Some(tag)),
            // A zero-length packet: never sent by a queue; take it as garbage.
            0 => return Ok(Some(0)),
            _ => {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(e),
                }
            }
        }
    }
}

/// Receives one whole packet into `buf`; returns its length.
fn recv_packet(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is ours and writable for its length.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Sends one packet made of `header` and `body`, waiting for room until
/// `deadline`; [`PutError::Full`] if it passes.
fn send_packet(
    fd: BorrowedFd<'_>,
    header: &[u8],
    body: &[u8],
    deadline: Option<Instant>,
) -> Result<(), PutError> {
    let mut iov = [
        libc::iovec {
            iov_base: header.as_ptr() as *mut libc::c_void,
            iov_len: header.len(),
        },
        libc::iovec {
            iov_base: body.as_ptr() as *mut libc::c_void,
            iov_len: body.len(),
        },
    ];
    loop {
        // SAFETY: a zeroed msghdr is valid; we set its iovec array, which
        // outlives the call and whose buffers are only read.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = iov.as_mut_ptr();
            msg.msg_iovlen = iov.len() as _;
            libc::sendmsg(
                fd.as_raw_fd(),
                &msg,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if sent >= 0 {
            // A packet socket sends all of it or nothing.
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                if !wait_fd(fd, libc::POLLOUT, deadline)? {
                    return Err(PutError::Full);
                }
            }
            _ => return Err(e.into()),
        }
    }
}

/// The parts of a queue handle that travel to a child.
#[derive(Serialize, Deserialize)]
struct Parts {
    shm: SharedMemory,
    #[serde(with = "inherit::fd")]
    tx: OwnedFd,
    #[serde(with = "inherit::fd")]
    rx: OwnedFd,
}

/// `Parts`, borrowed: what a handle serializes (the same fields, in order).
#[derive(Serialize)]
struct PartsRef<'a> {
    shm: &'a SharedMemory,
    #[serde(with = "inherit::fd")]
    tx: &'a OwnedFd,
    #[serde(with = "inherit::fd")]
    rx: &'a OwnedFd,
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PartsRef {
            shm: &self.shm,
            tx: &self.tx,
            rx: &self.rx,
        }
        .serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let parts = Parts::deserialize(d)?;
        if parts.shm.len() < size_of::<Shared>() {
            return Err(serde::de::Error::custom(inherit::fail(
                "the shared memory is too small for a queue".to_string(),
            )));
        }
        let queue = Queue {
            shm: parts.shm,
            tx: parts.tx,
            rx: parts.rx,
            _items: PhantomData,
        };
        if queue.shared().magic != MAGIC {
            return Err(serde::de::Error::custom(inherit::fail(
                "the shared memory does not hold a queue".to_string(),
            )));
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
            queue: Queue::create(maxsize, DEFAULT_MAX_MESSAGE_LEN, true)?,
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
        let unfinished = &self.queue.shared().unfinished;
        loop {
            let current = unfinished.load(SeqCst);
            if current == 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            futex_wait(unfinished, current, deadline);
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
