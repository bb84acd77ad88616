//! The Windows side of the servers: which `accept` errors (Winsock's
//! `WSAE*` codes) mean "out of descriptors" and which cannot be retried, and
//! the listen backlog.

use std::io;
use std::net::TcpListener;

/// `WSAEMFILE` (too many open sockets) and `WSAENOBUFS` (no buffer space).
pub(super) const EXHAUSTION: [i32; 2] = [10024, 10055];

/// Accept errors that are worth retrying at once (for the tests):
/// `WSAECONNRESET`, `WSAEINTR`, `WSAEWOULDBLOCK`.
#[cfg(test)]
pub(super) const NOT_EXHAUSTION: [i32; 3] = [10054, 10004, 10035];

/// `WSAEMFILE`, `WSAENOBUFS`: pause accepting.
pub(super) fn is_exhaustion(e: &io::Error) -> bool {
    e.raw_os_error()
        .is_some_and(|code| EXHAUSTION.contains(&code))
}

/// Accept errors that retrying cannot fix: `WSAEBADF`, `WSAEFAULT`,
/// `WSAEINVAL`, `WSAENOTSOCK`, `WSAEOPNOTSUPP`.
pub(super) fn is_fatal_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(10009 | 10014 | 10022 | 10038 | 10045)
    )
}

/// Windows keeps std's listen backlog: raising it would need a second
/// `listen` through Winsock, which this crate does not link.
pub(super) fn set_backlog(_listener: &TcpListener, _backlog: i32) {}
