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
//! The region holds the mailbox's words ([`Slots`]) in its first page and
//! one slot of [`PIECE`] bytes per direction after it; `mailbox.rs` has the
//! protocol (pieces, acknowledgements, and when a side sleeps and rings).
//! Here the bell is the socket: a ring is one byte, a sleep is `poll(2)`
//! until a byte or a hang-up.
//!
//! What it buys (`bench/src/bin/unix/manager_rounds.rs`, dict set + get,
//! operations per second; BENCHMARKS.md has the paired runs): with the
//! client and the server on one CPU, 305k over the socket → 620k over the
//! mailbox (a round trip is then two `sched_yield`s and no other system
//! call); on two CPUs, 240k → 1.5M (both sides poll the slot while the
//! other works, and no message enters the kernel).
//!
//! A client holding the key is trusted with the region as it is with the
//! socket (a Python client's pickles can run code in the server): the
//! server checks every length it reads from it, so a corrupt region ends
//! that connection, but it does not defend against a client that shrinks
//! the file under it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::protocol::{Request, Response};
use super::ManagerError;
use crate::ipc::mailbox::{Bell, End, Slots};
use crate::ipc::shm::{Backend, SharedMemory};
use crate::ipc::{fdpass, frame, Connection, RecvError, SendError};

/// The bytes of one slot: a message longer than this passes in pieces.
pub(crate) const PIECE: usize = 32 << 10;

/// Where the slots' bytes start (the header fits in the first page).
const HEADER: usize = 4096;

/// The region's length: the header and a slot per direction.
const REGION: usize = HEADER + 2 * PIECE;

/// The sides, as indices of [`Slots`]'s arrays.
const CLIENT: usize = 0;
const SERVER: usize = 1;

const _: () = assert!(std::mem::size_of::<Slots>() <= HEADER);

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
            Wire::Mailbox(mailbox) => mailbox.socket(),
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

/// One side of a mailbox in a shared region, its socket as the bell.
pub(crate) struct Mailbox {
    end: End<SocketBell>,
    /// Kept mapped while `end` points into it (dropped after it: field
    /// order).
    _region: SharedMemory,
}

impl Mailbox {
    fn new(socket: Connection, shm: SharedMemory, me: usize) -> Mailbox {
        let max = socket.max_message_len();
        let base = shm.as_ptr();
        // SAFETY: the region is `REGION` bytes (checked when it was mapped),
        // page-aligned; it starts with the `Slots` (atomics: any bytes are a
        // valid value, all zero the initial state), followed by two slots of
        // `PIECE` bytes, all inside it and apart. It stays mapped as long as
        // `shm`, which outlives `end` (field order), and the only other user
        // is the peer's end, of the other side.
        let end = unsafe {
            let bytes = [base.add(HEADER), base.add(HEADER + PIECE)];
            End::new(
                base.cast::<Slots>(),
                bytes,
                PIECE,
                me,
                SocketBell(socket),
                super::SPIN,
                max,
            )
        };
        Mailbox { end, _region: shm }
    }

    fn send_bytes(&self, bytes: &[u8]) -> Result<(), SendError> {
        self.end.send(bytes)
    }

    fn recv_bytes(&self) -> Result<Vec<u8>, RecvError> {
        self.end.recv()
    }

    fn socket(&self) -> &Connection {
        &self.end.bell().0
    }
}

/// The socket beside a mailbox, as its bell.
struct SocketBell(Connection);

impl Bell for SocketBell {
    fn ring(&self) -> io::Result<()> {
        let bell = 1u8;
        loop {
            // SAFETY: sends one byte from a local; never blocks.
            let n = unsafe {
                libc::send(
                    self.0.as_fd().as_raw_fd(),
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

    fn sleep(&self) -> io::Result<bool> {
        sleep_on(self.0.as_fd())
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ipc::pipe;
    use std::time::{Duration, Instant};

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

    /// Waits until the receiver of `pair` sleeps on its socket.
    fn until_asleep(other: &Mailbox) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !other.end.slots().is_asleep(SERVER) {
            assert!(
                Instant::now() < deadline,
                "the receiver never went to sleep"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_message_longer_than_the_slot_passes_both_ways() {
        let (client, server) = pair();
        let echo = std::thread::spawn(move || {
            let m = server.recv_bytes().unwrap();
            server.send_bytes(&m).unwrap();
        });
        let sent: Vec<u8> = (0..3 * PIECE + 7).map(|b| (b * 7) as u8).collect();
        client.send_bytes(&sent).unwrap();
        assert_eq!(client.recv_bytes().unwrap(), sent);
        echo.join().unwrap();
    }

    #[test]
    fn a_sleeping_receiver_is_rung_awake_and_a_closed_socket_wakes_it() {
        let (client, server) = pair();
        let receiver = std::thread::spawn(move || {
            let first = server.recv_bytes().unwrap();
            (first, server.recv_bytes())
        });
        until_asleep(&client);
        client.send_bytes(b"wake up").unwrap();
        until_asleep(&client);
        drop(client);
        let (first, second) = receiver.join().unwrap();
        assert_eq!(first, b"wake up");
        assert!(matches!(second, Err(RecvError::Closed)), "{second:?}");
    }
}
