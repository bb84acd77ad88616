//! The Unix side of the servers: which `accept` errors mean "out of
//! descriptors" and which cannot be retried, and the listen backlog.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

/// The errors of a process or system out of descriptors or memory.
pub(super) const EXHAUSTION: [i32; 4] = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];

/// Accept errors that are worth retrying at once (for the tests).
#[cfg(test)]
pub(super) const NOT_EXHAUSTION: [i32; 4] =
    [libc::ECONNABORTED, libc::EINTR, libc::EAGAIN, libc::EPROTO];

/// `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`: pause accepting.
pub(super) fn is_exhaustion(e: &io::Error) -> bool {
    e.raw_os_error()
        .is_some_and(|errno| EXHAUSTION.contains(&errno))
}

/// Accept errors that retrying cannot fix (the listener is not a
/// listening socket).
pub(super) fn is_fatal_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EOPNOTSUPP | libc::EFAULT)
    )
}

/// Raises the listen backlog of a listening socket (a second `listen` only
/// changes its backlog). Failure is harmless: std's backlog stays.
pub(super) fn set_backlog(listener: &TcpListener, backlog: i32) {
    // SAFETY: `listen` on a descriptor we borrow; no memory is passed.
    unsafe { libc::listen(listener.as_raw_fd(), backlog) };
}
