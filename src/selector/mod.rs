//! `selectors`: wait until any of many sources is ready, with Python's
//! selector classes as backends of one selector.
//!
//! Every backend has Python's methods, with the same behaviour and the same
//! errors: [`register`](BaseSelector::register) a source with an
//! [`Interest`] and some data, [`modify`](BaseSelector::modify) it,
//! [`unregister`](BaseSelector::unregister) it (getting the data back), and
//! [`select`](BaseSelector::select) the ones that are ready. They are all
//! level-triggered, as Python's are: a source stays ready, and is reported
//! by every `select`, until its data is read (or its buffer drained).
//! Hang-ups and errors are reported as whatever the source was registered
//! for, so that the read or write that follows sees them.
//!
//! | Python | synclings |
//! |---|---|
//! | `sel = selectors.DefaultSelector()` | [`DefaultSelector::new`](BaseSelector::new) (also [`Selector`]) |
//! | `EVENT_READ`, `EVENT_WRITE` | [`Interest::READ`], [`Interest::WRITE`] (same bits: 1, 2) |
//! | `sel.register(fileobj, events, data)` → key | [`register`](BaseSelector::register) → `&SelectorKey` |
//! | `sel.modify(fileobj, events, data)` → key | [`modify`](BaseSelector::modify) |
//! | `sel.unregister(fileobj)` → key | [`unregister`](BaseSelector::unregister) → the data |
//! | `sel.select(timeout)` → `[(key, events)]` | [`select`](BaseSelector::select), or [`select_into`](BaseSelector::select_into) without allocating |
//! | `sel.get_key(fileobj)`, `sel.get_map()` | [`get_key`](BaseSelector::get_key), [`get_map`](BaseSelector::get_map), [`len`](BaseSelector::len) |
//! | `sel.close()` | [`close`](BaseSelector::close) (or drop) |
//! | `KeyError` (twice / unknown), `ValueError` (no events / fd out of range) | [`SelectorError::AlreadyRegistered`], [`SelectorError::NotRegistered`], [`SelectorError::EmptyInterest`], [`SelectorError::OutOfRange`] |
//!
//! # The backends
//!
//! Each selector is [`BaseSelector<D, B>`](BaseSelector) with a backend `B`,
//! one file each, dispatched statically (no virtual call, no extra system
//! call: `EpollSelector::select` is one `epoll_wait`).
//!
//! | selector | Python | where | one wait costs | register / modify |
//! |---|---|---|---|---|
//! | `EpollSelector` (`Epoll`) | `EpollSelector` | Linux, Android | one `epoll_wait`: O(ready sources) | one `epoll_ctl` |
//! | `PollSelector` (`Poll`) | `PollSelector` | Unix | one `poll` over every registered descriptor, then a scan of them all: O(registered) | no system call |
//! | `SelectSelector` (`Select`) | `SelectSelector` | Unix | copy two `fd_set`s, one `select`, a scan up to the highest descriptor: O(highest fd); descriptors below `FD_SETSIZE` (1024) only | no system call |
//! | [`PollingSelector`] ([`Polling`]) | `KqueueSelector` on macOS/BSD | everywhere (kqueue, IOCP on Windows, epoll on Linux) | O(ready), plus the `polling` crate's own work: on Linux about five system calls per wait with a timeout | one system call |
//! | `KqueueSelector` | `KqueueSelector` | macOS, the BSDs | = `PollingSelector` | |
//! | [`DefaultSelector`] | `DefaultSelector` | everywhere | `EpollSelector` on Linux, `PollingSelector` elsewhere | |
//!
//! Which to use: [`DefaultSelector`] (or [`Selector`], its alias), always,
//! unless you want one of the others for what it shows. `PollSelector` and
//! `SelectSelector` are the article's O(n) multiplexers: the lab
//! (`bench/lab.sh`, `echo-server --model selector --selector poll`)
//! measures what their scan costs at 1 000 connections. `PollingSelector`
//! is the portable one, and on Linux the measure of what `polling`'s
//! bookkeeping costs next to bare epoll. [`BackendKind`] names them at run
//! time.
//!
//! # The contract: unregister before closing
//!
//! A registered source must stay open until it is unregistered. Closing it
//! first does not corrupt memory, and every backend then stops reporting the
//! closed number (epoll and kqueue drop a registration with the file's last
//! descriptor; `poll` sees `POLLNVAL` and `select` an `EBADF`, and they stop
//! watching the number), but its key stays here, so the number cannot be
//! registered again until [`unregister_closed`](BaseSelector::unregister_closed)
//! removes it. Until then, if the number is reused for another file, `poll`
//! and `select` watch the new file under the old key, while epoll keeps
//! reporting the old file if a duplicate of it (`try_clone`, `dup`) is still
//! open.
//!
//! # Example: the seed's accept/read callbacks
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//! use synclings::selector::{Interest, Selector};
//!
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! enum Callback { Accept, Read(usize) }
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! listener.set_nonblocking(true)?;
//! let mut sel = Selector::new()?;
//! sel.register(&listener, Interest::READ, Callback::Accept)?;
//!
//! let mut client = TcpStream::connect(listener.local_addr()?)?;
//! client.write_all(b"hello")?;
//!
//! let mut conns = Vec::new();
//! let mut echoed = false;
//! while !echoed {
//!     for (fd, _events) in sel.select_ready(Some(Duration::from_secs(10)))? {
//!         match sel.get_key(&fd)?.data {
//!             Callback::Accept => {
//!                 let (conn, _) = listener.accept()?;
//!                 conn.set_nonblocking(true)?;
//!                 sel.register(&conn, Interest::READ, Callback::Read(conns.len()))?;
//!                 conns.push(conn);
//!             }
//!             Callback::Read(i) => {
//!                 let mut buf = [0u8; 1024];
//!                 let n = conns[i].read(&mut buf)?;
//!                 conns[i].write_all(&buf[..n].to_ascii_uppercase())?;
//!                 echoed = true;
//!             }
//!         }
//!     }
//! }
//! let mut reply = [0u8; 5];
//! client.read_exact(&mut reply)?;
//! assert_eq!(&reply, b"HELLO");
//! for conn in &conns {
//!     sel.unregister(conn)?; // before the socket is closed
//! }
//! sel.unregister(&listener)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The same loop runs on any backend: write `PollingSelector::new()` (or
//! `PollSelector`, `SelectSelector`, `EpollSelector`) instead of
//! `Selector::new()`.

mod backend;
mod base;
mod key;
mod polling;

pub(crate) use self::backend::WithBackend;
pub use self::backend::{Backend, BackendKind, UnknownBackend};
pub use self::base::{BaseSelector, Notifier};
pub use self::key::{Interest, SelectorError, SelectorKey};
pub(crate) use self::os::BorrowedSource;
pub use self::os::{AsRawSource, RawSource, Source};
pub use self::polling::Polling;

/// Python's selector over the `polling` crate (kqueue, IOCP, epoll):
/// every platform.
pub type PollingSelector<D> = BaseSelector<D, Polling>;

/// Python's `DefaultSelector`, the platform's best.
pub type Selector<D> = DefaultSelector<D>;

// ---------------------------------------------------------------------------
// What exists where: the only `cfg`s of the selector (besides the files they
// select, which have none).

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
#[cfg(unix)]
pub(crate) mod poll;
#[cfg(unix)]
pub(crate) mod select;
#[cfg(unix)]
pub(crate) mod unix;
#[cfg(unix)]
use self::unix as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use self::windows as os;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use self::epoll::Epoll;
/// Python's `EpollSelector`: Linux's epoll, one `epoll_wait` per `select`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub type EpollSelector<D> = BaseSelector<D, Epoll>;

#[cfg(unix)]
pub use self::poll::Poll;
/// Python's `PollSelector`: `poll(2)`, every Unix.
#[cfg(unix)]
pub type PollSelector<D> = BaseSelector<D, Poll>;

#[cfg(unix)]
pub use self::select::Select;
/// Python's `SelectSelector`: `select(2)`, every Unix; descriptors below
/// `FD_SETSIZE` only.
#[cfg(unix)]
pub type SelectSelector<D> = BaseSelector<D, Select>;

/// Python's `KqueueSelector`: what [`PollingSelector`] is on macOS and the
/// BSDs (the `polling` crate's kqueue backend).
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
pub type KqueueSelector<D> = PollingSelector<D>;

/// Python's `DefaultSelector`: [`EpollSelector`] on Linux.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub type DefaultSelector<D> = EpollSelector<D>;
/// Python's `DefaultSelector`: [`PollingSelector`] (kqueue on macOS and the
/// BSDs, IOCP on Windows) off Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub type DefaultSelector<D> = PollingSelector<D>;

impl BackendKind {
    /// `DefaultSelector`'s backend: epoll on Linux, polling elsewhere.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub const DEFAULT: BackendKind = BackendKind::Epoll;
    /// `DefaultSelector`'s backend: epoll on Linux, polling elsewhere.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub const DEFAULT: BackendKind = BackendKind::Polling;

    /// True if this platform has the backend.
    pub const fn is_available(self) -> bool {
        match self {
            BackendKind::Epoll => cfg!(any(target_os = "linux", target_os = "android")),
            BackendKind::Poll | BackendKind::Select => cfg!(unix),
            BackendKind::Polling => true,
        }
    }
}

/// Runs `job` on `kind`'s backend type; `None` if this platform lacks it.
fn dispatch<J: WithBackend>(kind: BackendKind, job: J) -> Option<J::Output> {
    match kind {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        BackendKind::Epoll => Some(job.run::<Epoll>()),
        #[cfg(unix)]
        BackendKind::Poll => Some(job.run::<Poll>()),
        #[cfg(unix)]
        BackendKind::Select => Some(job.run::<Select>()),
        BackendKind::Polling => Some(job.run::<Polling>()),
        #[allow(unreachable_patterns)] // on Linux every backend exists
        _ => None,
    }
}
