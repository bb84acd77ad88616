//! `Pipe()` and `Connection`: Python's `multiprocessing.Pipe`, over real
//! descriptors.
//!
//! | Python | synclings |
//! |---|---|
//! | `a, b = Pipe()` / `Pipe(duplex=False)` | [`pipe(true)`](pipe) (a `socketpair`) / [`pipe(false)`](pipe) (a `pipe(2)`: reader first, writer second) |
//! | `conn.send(obj)` / `conn.recv()` | [`Connection::send`] / [`Connection::recv`] (serde, encoded with postcard) |
//! | `send_bytes(b)` / `recv_bytes()` | [`Connection::send_bytes`] / [`Connection::recv_bytes`] |
//! | `poll(timeout)` | [`Connection::poll`]: `true` when a message (or the end) is waiting; consumes nothing |
//! | `close()` | [`Connection::close`] (or drop) |
//! | `readable` / `writable` | [`Connection::readable`] / [`Connection::writable`] |
//! | `EOFError` | [`RecvError::Closed`] (and [`RecvError::Truncated`] when the end falls inside a message) |
//!
//! Every message is one frame (see the [`frame`](mod@super::frame) module): boundaries are
//! kept, empty messages included, and a message is never merged with or split
//! into others. A `Connection` is passed to a child process as an argument
//! of [`Process::spawn`](super::Process::spawn).
//!
//! Writing to a pipe whose reader is gone raises `SIGPIPE`, which Rust
//! programs (like Python) ignore by default: the send then fails with
//! [`SendError::Closed`].
//!
//! # Example
//!
//! ```
//! use synclings::ipc::{pipe, RecvError};
//!
//! let (mut a, mut b) = pipe(true).unwrap();
//! a.send(&("hello", 42u32)).unwrap();
//! a.send_bytes(b"").unwrap();
//! assert_eq!(b.recv::<(String, u32)>().unwrap(), ("hello".to_string(), 42));
//! assert!(b.poll(None).unwrap());
//! assert_eq!(b.recv_bytes().unwrap(), b"");
//! drop(a);
//! assert!(matches!(b.recv_bytes(), Err(RecvError::Closed)));
//! ```

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::frame::{self, FrameReader, RecvError, SendError, DEFAULT_MAX_MESSAGE_LEN};
use super::inherit;

/// Creates a pair of connected [`Connection`]s, like Python's
/// `multiprocessing.Pipe(duplex)`.
///
/// - `duplex = true`: both ends send and receive (a Unix `socketpair`).
/// - `duplex = false`: the first end only receives, the second only sends
///   (a `pipe(2)`), as in Python.
///
/// Both descriptors are close-on-exec: a child gets one only when it is
/// passed to [`Process::spawn`](super::Process::spawn).
pub fn pipe(duplex: bool) -> io::Result<(Connection, Connection)> {
    if duplex {
        let (a, b) = UnixStream::pair()?;
        return Ok((Connection::from(a), Connection::from(b)));
    }
    let (reader, writer) = std::io::pipe()?;
    let (reader, writer) = (OwnedFd::from(reader), OwnedFd::from(writer));
    Ok((
        Connection::new(reader, true, false),
        Connection::new(writer, false, true),
    ))
}

/// One end of a [`pipe`]: sends and receives whole messages.
///
/// `send`/`recv` take `&mut self`, so one end cannot be used by two threads
/// at once (their frames would interleave); use one end per thread, or
/// [`try_clone`](Connection::try_clone) and keep to one sender and one
/// receiver.
///
/// A receiving end reads ahead: one system call takes every message that
/// has arrived, and the ones not yet asked for wait in this handle (not in
/// the kernel). So receive on one handle only (a
/// [`try_clone`](Connection::try_clone) starts with nothing read ahead),
/// and pass an end to a child process before it has read ahead: passing one
/// that holds read-ahead bytes fails (they cannot follow the descriptor).
#[derive(Serialize, Deserialize)]
pub struct Connection {
    #[serde(with = "inherit::fd")]
    file: File,
    readable: bool,
    writable: bool,
    max_message_len: usize,
    /// Set by a `TooLarge`: the stream is inside a message we did not read.
    #[serde(skip)]
    desynchronized: bool,
    /// Bytes read ahead of the messages received; must be empty to be
    /// passed to a child.
    #[serde(with = "unread")]
    reader: FrameReader,
    /// Set by [`set_spin`](Connection::set_spin): how long a `recv` on a
    /// socket polls before it sleeps.
    #[serde(skip)]
    spin: Option<Duration>,
}

impl Connection {
    fn new(fd: OwnedFd, readable: bool, writable: bool) -> Self {
        Connection {
            file: File::from(fd),
            readable,
            writable,
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            desynchronized: false,
            reader: FrameReader::default(),
            spin: None,
        }
    }

    /// Before a `recv` on a socket sleeps, it polls for up to `spin`
    /// without blocking, yielding the CPU between tries (`None`, the
    /// default: it sleeps at once). For request-response peers, such as a
    /// Manager and its proxies: when the reply comes within the window,
    /// neither side pays for a sleep and a wake-up (on another CPU, a
    /// wake-up costs tens of µs on a VM); the price is at most `spin` of
    /// CPU per message that comes later than that.
    pub(crate) fn set_spin(&mut self, spin: Option<Duration>) {
        self.spin = spin;
    }

    /// Sends `value`, encoded, as one message. Blocks while the pipe is full.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SendError> {
        if !self.writable {
            return Err(SendError::WrongDirection);
        }
        let payload = frame::encode_into(value, frame::buffer())?;
        let sent = frame::write_frame(&self.file, &payload, self.max_message_len);
        frame::recycle(payload);
        sent
    }

    /// Receives one message and decodes it as a `T`. Blocks until a whole
    /// message has arrived or the peer has closed.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, RecvError> {
        let payload = self.recv_bytes()?;
        frame::decode(&payload)
    }

    /// Sends `bytes` as one message (Python's `send_bytes`); `recv` on the
    /// other end decodes them as the sender's encoding, `recv_bytes` returns
    /// them as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        if !self.writable {
            return Err(SendError::WrongDirection);
        }
        frame::write_frame(&self.file, bytes, self.max_message_len)
    }

    /// The descriptor of a sending end, to write frames to by other means
    /// (the pool's non-blocking chunk pipe). A receiving end would lose the
    /// bytes it has read ahead: refused.
    pub(crate) fn into_sending_fd(self) -> Option<OwnedFd> {
        (!self.readable).then(|| OwnedFd::from(self.file))
    }

    /// True if a whole message (or an oversized header, refused at once) is
    /// already read ahead: the next `recv` makes no system call, and
    /// polling the descriptor would not see it.
    pub(crate) fn has_buffered_message(&self) -> bool {
        self.reader.has_frame(self.max_message_len)
    }

    /// True if bytes are read ahead (the next byte on the descriptor is not
    /// the next byte of the stream).
    pub(crate) fn has_read_ahead(&self) -> bool {
        self.reader.buffered() > 0
    }

    /// Receives one message's bytes (Python's `recv_bytes`).
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, RecvError> {
        if !self.readable {
            return Err(RecvError::WrongDirection);
        }
        if self.desynchronized {
            return Err(RecvError::Desynchronized);
        }
        // Only the ends of a socketpair both read and write.
        let socket = self.writable;
        if let Some(spin) = self.spin.filter(|_| socket) {
            if !self.reader.has_frame(self.max_message_len) {
                // Yield first: a peer on this CPU cannot have answered
                // before it ran, and one on another CPU takes longer than
                // a yield to.
                let deadline = Instant::now() + spin;
                loop {
                    std::thread::yield_now();
                    if self.reader.try_fill(self.file.as_fd()) || Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
        let result = self
            .reader
            .read_frame(&self.file, self.max_message_len, socket);
        if let Err(RecvError::TooLarge { .. }) = result {
            self.desynchronized = true;
        }
        result
    }

    /// True if a message (or the end of the stream) is waiting, so that
    /// `recv` would not block on its first byte; waits up to `timeout`
    /// (`None`: forever, `Some(ZERO)`: just checks). Consumes nothing.
    ///
    /// An error of kind `InvalidInput` on the writing end of a one-way pipe.
    pub fn poll(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if !self.readable {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot poll the writing end of a one-way pipe",
            ));
        }
        // A message read ahead is no longer in the kernel: `poll(2)` would
        // not see it. (A part of one is: its rest still has to arrive.)
        if self.has_buffered_message() {
            return Ok(true);
        }
        wait_fd(
            self.file.as_fd(),
            libc::POLLIN,
            timeout.map(|t| Instant::now() + t),
        )
    }

    /// Closes this end (the same as dropping it). The peer's `recv` then
    /// reports [`RecvError::Closed`] once it has read what was sent.
    pub fn close(self) {}

    /// True if this end can receive (Python's `readable`).
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// True if this end can send (Python's `writable`).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The largest message this end sends or accepts, in bytes.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// Sets the largest message this end sends or accepts (at most
    /// [`MAX_FRAME_LEN`](super::frame::MAX_FRAME_LEN)). A longer incoming
    /// message is refused before anything is allocated for it.
    pub fn set_max_message_len(&mut self, max: usize) {
        self.max_message_len = max.min(frame::MAX_FRAME_LEN);
    }

    /// A second handle on the same end (a `dup` of the descriptor). It
    /// starts with nothing read ahead: messages this handle has already
    /// read ahead stay with this handle, so receive on one of them only.
    pub fn try_clone(&self) -> io::Result<Connection> {
        Ok(Connection {
            file: self.file.try_clone()?,
            readable: self.readable,
            writable: self.writable,
            max_message_len: self.max_message_len,
            desynchronized: self.desynchronized,
            reader: FrameReader::default(),
            spin: self.spin,
        })
    }
}

impl Connection {
    /// A duplex connection over a connected stream socket (Unix or TCP).
    pub(crate) fn from_socket(fd: OwnedFd) -> Connection {
        Connection::new(fd, true, true)
    }
}

/// A duplex connection over an existing Unix stream socket (for example one
/// end of `UnixStream::pair()`, whose other end a test writes raw bytes to).
impl From<UnixStream> for Connection {
    fn from(stream: UnixStream) -> Self {
        Connection::new(OwnedFd::from(stream), true, true)
    }
}

/// The descriptor, to watch with a selector. Unlike Python's (which reads
/// exactly one message per `recv`), a `Connection` reads ahead: messages it
/// has already read are no longer in the descriptor, so after a wake-up
/// receive while [`poll(Some(Duration::ZERO))`](Connection::poll) is true
/// before waiting on the descriptor again.
impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.file.as_raw_fd())
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .field("max_message_len", &self.max_message_len)
            .field("read_ahead", &self.reader.buffered())
            .finish()
    }
}

/// A connection's read-ahead buffer on the wire to a child: nothing (a
/// unit), and only when it is empty. Bytes read ahead are in this process's
/// memory, not in the descriptor: sending them along is impossible, and
/// dropping them would lose messages.
mod unread {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::ipc::frame::FrameReader;
    use crate::ipc::inherit;

    pub(super) fn serialize<S: Serializer>(reader: &FrameReader, s: S) -> Result<S::Ok, S::Error> {
        match reader.buffered() {
            0 => ().serialize(s),
            n => Err(serde::ser::Error::custom(inherit::fail(format!(
                "this Connection holds {n} bytes read ahead of the messages received (they \
                 are in this process, not in the descriptor, and would be lost): pass a \
                 connection to a child before receiving on it, or receive until \
                 `poll(Some(Duration::ZERO))` is false"
            )))),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FrameReader, D::Error> {
        <()>::deserialize(d)?;
        Ok(FrameReader::default())
    }
}

/// Waits until `fd` reports one of `events` (or an error/hang-up, which
/// also makes the next call return at once), or the deadline passes.
/// Retries `EINTR` with the time that is left.
pub(crate) fn wait_fd(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    loop {
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up, so that a wait never ends before its deadline.
                left.as_nanos()
                    .div_ceil(1_000_000)
                    .min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, and its count is 1.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n > 0 {
            return Ok(true);
        }
        if n == 0 {
            if deadline.is_some_and(|d| Instant::now() < d) {
                continue;
            }
            return Ok(false);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

// The test reads a thread's state from /proc.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::testing::{eventually, within, DEADLINE};

    /// The state letter of thread `tid` of this process (`S`: asleep).
    fn thread_state(tid: libc::pid_t) -> char {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // The state follows the command's closing parenthesis.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.chars().next().unwrap()
    }

    #[test]
    fn a_spinning_recv_takes_what_arrived_and_what_arrives_after_its_window() {
        let (mut a, mut b) = pipe(true).unwrap();
        a.set_spin(Some(Duration::from_micros(200)));
        // Already there: taken without sleeping.
        b.send(&1u32).unwrap();
        assert_eq!(a.recv::<u32>().unwrap(), 1);
        // Sent only once the receiver has given up spinning and sleeps.
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let receiver = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let got = a.recv::<u32>();
            (a, got)
        });
        let tid = tid_rx.recv().unwrap();
        eventually(DEADLINE, "the receiver to sleep in recv", || {
            thread_state(tid) == 'S'
        });
        b.send(&2u32).unwrap();
        let (mut a, got) = within(DEADLINE, "the late message", move || {
            receiver.join().unwrap()
        });
        assert_eq!(got.unwrap(), 2);
        // The end of the stream during the window: `Closed`, not a hang.
        drop(b);
        assert!(matches!(a.recv::<u32>(), Err(RecvError::Closed)));
    }
}
