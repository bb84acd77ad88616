//! What a proxy and the server's connection thread exchange their messages
//! over: the authenticated socket itself, or, for a client on the same
//! machine (a Unix socket), a **mailbox** in shared memory beside it.
//!
//! # The mailbox
//!
//! Over a socket, a round trip costs each side a `sendmsg` and a `recvmsg`
//! (the kernel allocates, queues and copies every message) on top of the
//! switch to the peer. A local client instead creates a small shared region
//! (a `memfd`, or an unlinked file on the portable backend), passes it to the
//! server over the socket (`SCM_RIGHTS`, see `fdpass.rs`) right after the
//! handshake, and from then on both sides copy messages through it. The
//! socket stays open beside it for two jobs only: a **doorbell** (one byte
//! written when the peer sleeps) and **liveness** (the kernel closes it when
//! a process dies, which wakes the peer's `poll` with a hang-up).
//!
//! The region holds one slot per direction, [`PIECE`] bytes each. A writer
//! copies a message (or, if longer, its next piece) into its slot, then
//! publishes it with one store to the slot's `seq`; the reader copies it
//! out and stores `ack`. A writer starts a piece only after the previous
//! one was acknowledged, so a message of any length (up to the maximum)
//! passes piece by piece, and a reply never overwrites an unread request.
//!
//! Waiting is the socket wire's policy: yield first (a peer on this CPU
//! runs at once), poll the slot until [`SPIN`](super::SPIN) has passed,
//! then sleep in `poll(2)` on the socket. A sleeper stores what it waits
//! for in its `asleep` word before its last check, and a writer, after its
//! store, rings only when the peer sleeps waiting for that (both `SeqCst`:
//! a Dekker pair, so no wake-up is lost and no needless one is sent).
//!
//! What it buys (BENCHMARKS.md, `manager-rounds`): with both processes on
//! one CPU a dict round trip makes two `sched_yield`s and no other system
//! call.
//!
//! A client holding the key is trusted with the region as it is with the
//! socket (a Python client's pickles can run code in the server): the
//! server checks every length it reads from it, so a corrupt region ends
//! that connection, but it does not defend against a client that shrinks
//! the file under it.

use std::cell::Cell;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::Instant;

use crossbeam_utils::CachePadded;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::protocol::{Request, Response};
use super::ManagerError;
use crate::ipc::shm::{Backend, SharedMemory};
use crate::ipc::{fdpass, frame, Connection, RecvError, SendError};

/// The bytes of one slot: a message longer than this passes in pieces.
pub(crate) const PIECE: usize = 32 << 10;

/// Where the slots' bytes start (the header fits in the first page).
const HEADER: usize = 4096;

/// The region's length: the header and a slot per direction.
const REGION: usize = HEADER + 2 * PIECE;

/// The sides, as indices of [`Header`]'s arrays.
const CLIENT: usize = 0;
const SERVER: usize = 1;

/// What a side sleeps waiting for (its `asleep` word).
const AWAKE: u32 = 0;
const FOR_MESSAGE: u32 = 1;
const FOR_ACK: u32 = 2;

/// One direction: the messages of one side to the other.
#[repr(C)]
struct Slot {
    /// Pieces published by the writer (wrapping).
    seq: AtomicU32,
    /// Pieces taken by the reader.
    ack: AtomicU32,
    /// Bytes in the piece published last.
    len: AtomicU32,
    /// Bytes of the whole message, set with its first piece.
    total: AtomicU64,
}

/// The start of the region; all zero is its initial state.
#[repr(C)]
struct Header {
    /// `slots[side]` carries that side's messages.
    slots: [CachePadded<Slot>; 2],
    /// `asleep[side]`: what that side sleeps waiting for.
    asleep: [CachePadded<AtomicU32>; 2],
}

const _: () = assert!(std::mem::size_of::<Header>() <= HEADER);

/// The wire of one proxy connection, on either side.
pub(crate) enum Wire {
    Socket(Connection),
    Mailbox(Mailbox),
}

impl Wire {
    /// Sends `value`, encoded, as one message.
    pub(crate) fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SendError> {
        match self {
            Wire::Socket(conn) => conn.send(value),
            Wire::Mailbox(mailbox) => {
                let payload = frame::encode_into(value, frame::buffer())?;
                let sent = mailbox.send_bytes(&payload);
                frame::recycle(payload);
                sent
            }
        }
    }

    /// Receives one message's bytes.
    pub(crate) fn recv_bytes(&mut self) -> Result<Vec<u8>, RecvError> {
        match self {
            Wire::Socket(conn) => conn.recv_bytes(),
            Wire::Mailbox(mailbox) => mailbox.recv_bytes(),
        }
    }

    /// Receives one message and decodes it as a `T`.
    pub(crate) fn recv<T: DeserializeOwned>(&mut self) -> Result<T, RecvError> {
        let bytes = self.recv_bytes()?;
        let value = frame::decode(&bytes);
        frame::recycle(bytes);
        value
    }

    /// The authenticated socket (a mailbox's doorbell), for liveness checks.
    pub(crate) fn socket(&self) -> &Connection {
        match self {
            Wire::Socket(conn) => conn,
            Wire::Mailbox(mailbox) => &mailbox.socket,
        }
    }

    /// True if this wire is a mailbox.
    pub(crate) fn is_mailbox(&self) -> bool {
        matches!(self, Wire::Mailbox(_))
    }
}

/// A client's wire on a freshly authenticated connection: a mailbox on a
/// Unix socket (if the region can be made and the server agrees), else
/// the socket.
pub(crate) fn client(mut conn: Connection, local: bool) -> Result<Wire, ManagerError> {
    if !local {
        return Ok(Wire::Socket(conn));
    }
    const NAME: &CStr = c"synclings-manager-mailbox";
    let Ok(shm) = SharedMemory::create(NAME, REGION, false) else {
        return Ok(Wire::Socket(conn)); // out of memory or descriptors: the socket works
    };
    conn.send(&Request::Attach {
        backend: shm.backend(),
    })?;
    if !agreed(conn.recv::<Response>()?)? {
        return Ok(Wire::Socket(conn));
    }
    fdpass::send_fd(conn.as_fd(), shm.as_fd()).map_err(ManagerError::Io)?;
    if !agreed(conn.recv::<Response>()?)? {
        return Ok(Wire::Socket(conn));
    }
    Ok(Wire::Mailbox(Mailbox::new(conn, shm, CLIENT)))
}

/// `Done`: go on; the server's `Error`: stay on the socket.
fn agreed(response: Response) -> Result<bool, ManagerError> {
    match response {
        Response::Done => Ok(true),
        Response::Error(_) => Ok(false),
        other => Err(ManagerError::Codec(format!(
            "an unexpected response to a mailbox request: {other:?}"
        ))),
    }
}

/// The server's side of [`Request::Attach`]: agrees, takes the region and
/// goes on over it; refuses (and goes on over the socket) a backend this
/// platform lacks or a region of the wrong size. `None`: the connection
/// ends (it failed, or the client sent something else than the region).
pub(crate) fn attach(wire: Wire, backend: Backend) -> Option<Wire> {
    let mut conn = match wire {
        Wire::Socket(conn) => conn,
        mut wire @ Wire::Mailbox(_) => {
            let refusal = Response::Error("this connection has a mailbox already".into());
            return wire.send(&refusal).ok().map(|()| wire);
        }
    };
    // The region's byte must be the next one on the socket.
    if !backend.is_available() || conn.has_read_ahead() {
        let refusal = Response::Error(format!("no {backend:?} shared memory here"));
        conn.send(&refusal).ok()?;
        return Some(Wire::Socket(conn));
    }
    conn.send(&Response::Done).ok()?;
    let fd = fdpass::recv_fd(conn.as_fd()).ok()?;
    match SharedMemory::open(backend, fd, Vec::new()) {
        Ok(shm) if shm.len() == REGION => {
            conn.send(&Response::Done).ok()?;
            Some(Wire::Mailbox(Mailbox::new(conn, shm, SERVER)))
        }
        _ => {
            let refusal = Response::Error("the mailbox could not be mapped".into());
            conn.send(&refusal).ok()?;
            Some(Wire::Socket(conn))
        }
    }
}

/// One side of a mailbox: the region, and the socket beside it.
pub(crate) struct Mailbox {
    socket: Connection,
    shm: SharedMemory,
    /// This side: [`CLIENT`] or [`SERVER`].
    me: usize,
    /// Pieces of the incoming slot taken so far.
    taken: Cell<u32>,
    /// Set when a message could not be read whole: the slots are out of
    /// step, the connection must end.
    broken: Cell<bool>,
    max_message_len: usize,
}

impl Mailbox {
    fn new(socket: Connection, shm: SharedMemory, me: usize) -> Mailbox {
        let max_message_len = socket.max_message_len();
        Mailbox {
            socket,
            shm,
            me,
            taken: Cell::new(0),
            broken: Cell::new(false),
            max_message_len,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the region is `REGION` bytes (checked when it was
        // mapped), page-aligned, and starts with a `Header`, whose fields are
        // atomics (any bytes are a valid value; all zero is the initial
        // state); it is mapped as long as `self.shm` lives.
        unsafe { &*self.shm.as_ptr().cast::<Header>() }
    }

    /// The bytes of `side`'s slot.
    fn bytes(&self, side: usize) -> *mut u8 {
        // SAFETY: `HEADER + side * PIECE + PIECE <= REGION`: inside the
        // mapping.
        unsafe { self.shm.as_ptr().add(HEADER + side * PIECE) }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Sends `bytes` as one message, piece by piece.
    fn send_bytes(&self, bytes: &[u8]) -> Result<(), SendError> {
        frame::check_len(bytes.len(), self.max_message_len)?;
        let out = &self.header().slots[self.me];
        let mut rest = bytes;
        let mut first = true;
        loop {
            let seq = out.seq.load(SeqCst);
            // The previous piece was taken (in a round trip it always was,
            // except between the pieces of one message).
            match self.wait(FOR_ACK, || out.ack.load(SeqCst) == seq) {
                Ok(true) => {}
                Ok(false) => return Err(SendError::Closed),
                Err(e) => return Err(SendError::Io(e)),
            }
            let n = rest.len().min(PIECE);
            // SAFETY: `n <= PIECE`: inside this side's slot, which the
            // reader does not read until `seq` moves; `rest` is local.
            unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), self.bytes(self.me), n) };
            out.len.store(n as u32, SeqCst);
            if first {
                out.total.store(bytes.len() as u64, SeqCst);
            }
            out.seq.store(seq.wrapping_add(1), SeqCst);
            self.ring_if(FOR_MESSAGE).map_err(|e| match e.kind() {
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => SendError::Closed,
                _ => SendError::Io(e),
            })?;
            rest = &rest[n..];
            first = false;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Receives one message, piece by piece.
    fn recv_bytes(&self) -> Result<Vec<u8>, RecvError> {
        if self.broken.get() {
            return Err(RecvError::Desynchronized);
        }
        let result = self.take_message();
        if result.is_err() {
            self.broken.set(true);
        }
        result
    }

    fn take_message(&self) -> Result<Vec<u8>, RecvError> {
        let peer = 1 - self.me;
        let slot = &self.header().slots[peer];
        let corrupt = |why: &str| {
            RecvError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the manager's mailbox is corrupt: {why}"),
            ))
        };
        let mut message = frame::buffer();
        let mut total = None;
        loop {
            let taken = self.taken.get();
            if !self
                .wait(FOR_MESSAGE, || slot.seq.load(SeqCst) != taken)
                .map_err(RecvError::Io)?
            {
                return Err(match total {
                    None => RecvError::Closed,
                    Some(expected) => RecvError::Truncated {
                        expected,
                        received: message.len() as u64,
                    },
                });
            }
            if slot.seq.load(SeqCst) != taken.wrapping_add(1) {
                return Err(corrupt("pieces were skipped"));
            }
            let n = slot.len.load(SeqCst) as usize;
            let expected = match total {
                Some(t) => t,
                None => {
                    let t = slot.total.load(SeqCst);
                    if t > self.max_message_len as u64 {
                        return Err(RecvError::TooLarge {
                            len: t,
                            max: self.max_message_len,
                        });
                    }
                    message.reserve_exact(t as usize);
                    *total.insert(t)
                }
            };
            if n > PIECE || (message.len() + n) as u64 > expected {
                return Err(corrupt("a piece is longer than its message"));
            }
            message.reserve(n);
            // SAFETY: `n <= PIECE`: inside the peer's slot, which its writer
            // leaves alone until `ack` moves; `reserve` made room for `n`
            // more bytes, initialised by the copy.
            unsafe {
                let end = message.as_mut_ptr().add(message.len());
                std::ptr::copy_nonoverlapping(self.bytes(peer), end, n);
                message.set_len(message.len() + n);
            }
            self.taken.set(taken.wrapping_add(1));
            slot.ack.store(taken.wrapping_add(1), SeqCst);
            // Only a writer between the pieces of one message waits for
            // this; a failure shows at the next wait.
            let _ = self.ring_if(FOR_ACK);
            if message.len() as u64 == expected {
                return Ok(message);
            }
        }
    }

    /// After a store the peer may wait for: rings its doorbell if it sleeps
    /// waiting for `what`.
    fn ring_if(&self, what: u32) -> io::Result<()> {
        if self.header().asleep[1 - self.me].load(SeqCst) != what {
            return Ok(());
        }
        let bell = 1u8;
        loop {
            // SAFETY: sends one byte from a local; never blocks.
            let n = unsafe {
                libc::send(
                    self.fd().as_raw_fd(),
                    (&bell as *const u8).cast(),
                    1,
                    libc::MSG_DONTWAIT | NO_SIGPIPE,
                )
            };
            if n == 1 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                // The socket is full of rings the peer has yet to drain.
                io::ErrorKind::WouldBlock => return Ok(()),
                _ => return Err(e),
            }
        }
    }

    /// Waits until `ready()`: yields and polls for up to [`SPIN`](super::SPIN),
    /// then sleeps on the socket with `asleep` saying `what`. False: the
    /// peer is gone (and `ready()` still false).
    fn wait(&self, what: u32, ready: impl Fn() -> bool) -> io::Result<bool> {
        if ready() {
            return Ok(true);
        }
        let deadline = Instant::now() + super::SPIN;
        loop {
            std::thread::yield_now();
            if ready() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        let asleep = &self.header().asleep[self.me];
        let result = loop {
            asleep.store(what, SeqCst);
            if ready() {
                break Ok(true);
            }
            match sleep_on(self.fd()) {
                Ok(alive) if ready() || alive => {}
                Ok(_) => break Ok(ready()),
                Err(e) => break Err(e),
            }
        };
        asleep.store(AWAKE, SeqCst);
        match result {
            Ok(false) => Ok(ready()),
            other => other,
        }
    }
}

/// `send` without `SIGPIPE` where the flag exists (macOS has none: Rust
/// programs ignore `SIGPIPE` by default).
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const NO_SIGPIPE: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(any(target_os = "macos", target_os = "ios"))]
const NO_SIGPIPE: libc::c_int = 0;

/// Sleeps until the socket has a ring or a hang-up, then drains the rings;
/// false: the peer has closed (or reset) its end.
fn sleep_on(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; no timeout (a hang-up ends it).
    if unsafe { libc::poll(&mut pfd, 1, -1) } < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(true)
        } else {
            Err(e)
        };
    }
    let mut rings = [0u8; 64];
    loop {
        // SAFETY: reads at most `rings.len()` bytes into `rings`; never
        // blocks.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                rings.as_mut_ptr().cast(),
                rings.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            continue;
        }
        if n == 0 {
            return Ok(false);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(true),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => return Ok(false),
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::pipe;
    use std::time::Duration;

    /// A mailbox pair over a socketpair, as `client` and `attach` make one.
    fn pair() -> (Mailbox, Mailbox) {
        let (a, b) = pipe(true).unwrap();
        let shm = SharedMemory::create(c"mailbox-test", REGION, false).unwrap();
        fdpass::send_fd(a.as_fd(), shm.as_fd()).unwrap();
        let fd = fdpass::recv_fd(b.as_fd()).unwrap();
        let theirs = SharedMemory::open(shm.backend(), fd, Vec::new()).unwrap();
        (
            Mailbox::new(a, shm, CLIENT),
            Mailbox::new(b, theirs, SERVER),
        )
    }

    #[test]
    fn messages_of_every_size_pass_both_ways_in_order() {
        let (client, server) = pair();
        let sizes = [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 7];
        let echo = std::thread::spawn(move || {
            for _ in 0..sizes.len() {
                let m = server.recv_bytes().unwrap();
                server.send_bytes(&m).unwrap();
            }
            server
        });
        for (i, &n) in sizes.iter().enumerate() {
            let sent: Vec<u8> = (0..n).map(|b| (b * 7 + i) as u8).collect();
            client.send_bytes(&sent).unwrap();
            assert_eq!(client.recv_bytes().unwrap(), sent, "a message of {n} bytes");
        }
        echo.join().unwrap();
    }

    #[test]
    fn a_sleeping_receiver_is_rung_awake() {
        let (client, server) = pair();
        let receiver = std::thread::spawn(move || server.recv_bytes().map(|m| (m, server)));
        // Send only once the receiver sleeps on its socket.
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.header().asleep[SERVER].load(SeqCst) != FOR_MESSAGE {
            assert!(
                Instant::now() < deadline,
                "the receiver never went to sleep"
            );
            std::thread::yield_now();
        }
        client.send_bytes(b"wake up").unwrap();
        let (got, _server) = receiver.join().unwrap().unwrap();
        assert_eq!(got, b"wake up");
    }

    #[test]
    fn a_peer_that_leaves_ends_a_wait_with_closed_or_truncated() {
        let (client, server) = pair();
        let receiver = std::thread::spawn(move || server.recv_bytes());
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.header().asleep[SERVER].load(SeqCst) != FOR_MESSAGE {
            assert!(
                Instant::now() < deadline,
                "the receiver never went to sleep"
            );
            std::thread::yield_now();
        }
        drop(client);
        assert!(matches!(receiver.join().unwrap(), Err(RecvError::Closed)));

        // Gone after the first piece of two (written by hand: `send_bytes`
        // would wait for its ack): the rest never comes.
        let (client, server) = pair();
        {
            let slot = &client.header().slots[CLIENT];
            slot.len.store(PIECE as u32, SeqCst);
            slot.total.store(PIECE as u64 + 1, SeqCst);
            slot.seq.store(1, SeqCst);
        }
        drop(client);
        assert!(matches!(
            server.recv_bytes(),
            Err(RecvError::Truncated { expected, received }) if expected == PIECE as u64 + 1 && received == PIECE as u64
        ));
    }

    #[test]
    fn an_oversized_or_corrupt_message_is_refused_and_the_mailbox_stays_broken() {
        let (mut client, mut server) = pair();
        server.max_message_len = 10;
        client.max_message_len = 1 << 20;
        client.send_bytes(&[0; 11]).unwrap();
        assert!(matches!(
            server.recv_bytes(),
            Err(RecvError::TooLarge { len: 11, max: 10 })
        ));
        assert!(matches!(
            server.recv_bytes(),
            Err(RecvError::Desynchronized)
        ));
        // A length over the slot, written by a misbehaving peer.
        let (client, server) = pair();
        let slot = &client.header().slots[CLIENT];
        slot.len.store(PIECE as u32 + 1, SeqCst);
        slot.total.store(PIECE as u64 + 1, SeqCst);
        slot.seq.store(1, SeqCst);
        assert!(matches!(server.recv_bytes(), Err(RecvError::Io(_))));
    }
}
