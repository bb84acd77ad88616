//! Sub-millisecond wake-ups for the reactor: the one platform-gated piece
//! of `asyncio`.
//!
//! A selector's timeout is in whole milliseconds (`epoll_wait`; the
//! selector rounds up, so a wait never ends early, and ends up to 1 ms
//! late). For a timer due in less than [`PRECISE_WITHIN`], the reactor
//! arms this one-shot timer with the exact remaining time (nanoseconds) and
//! keeps it registered in its selector: `select` returns when the timer is
//! due, not at the next whole millisecond. On Linux it is a `timerfd`
//! (`CLOCK_MONOTONIC`, `Instant`'s clock): one `timerfd_settime` to arm,
//! one `read` when it fires, and nothing at all for timers further away
//! (an idle timeout of a minute costs nothing here). Elsewhere there is no
//! such timer, and a sleep may end up to 1 ms late, as Python's does.

use std::time::Duration;

/// Timers nearer than this are armed precisely; the others wait for the
/// selector's millisecond timeout (re-computed at every turn, so they are
/// armed precisely once they come near).
pub(crate) const PRECISE_WITHIN: Duration = Duration::from_millis(2);

#[cfg(target_os = "linux")]
pub(crate) use linux::PreciseTimer;

#[cfg(not(target_os = "linux"))]
pub(crate) use other::PreciseTimer;

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    /// A non-blocking, close-on-exec `timerfd` on `CLOCK_MONOTONIC`.
    #[derive(Debug)]
    pub(crate) struct PreciseTimer {
        fd: OwnedFd,
    }

    impl PreciseTimer {
        /// `None` if the kernel refuses one (then sleeps are only
        /// millisecond-precise).
        pub(crate) fn new() -> Option<PreciseTimer> {
            // SAFETY: a plain system call; the new descriptor is owned at once.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return None;
            }
            // SAFETY: `fd` was just created and is owned by nobody else.
            Some(PreciseTimer {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
            })
        }

        /// Fires once, `after` from now (at least 1 ns: 0 would disarm).
        pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs() as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: `spec` lives for the call; the old value is not asked for.
            let rc = unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Consumes the expiry after it fired (the selector is
        /// level-triggered: unread, it would be reported again).
        pub(crate) fn clear(&self) {
            let mut expirations = [0u8; 8];
            // SAFETY: an 8-byte buffer, as timerfd requires; EAGAIN (not
            // expired, or already read) is harmless.
            unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
        }
    }

    impl AsFd for PreciseTimer {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.fd.as_fd()
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    use std::io;
    use std::time::Duration;

    /// No precise timer on this platform.
    #[derive(Debug)]
    pub(crate) enum PreciseTimer {}

    impl PreciseTimer {
        pub(crate) fn new() -> Option<PreciseTimer> {
            None
        }

        pub(crate) fn arm(&self, _after: Duration) -> io::Result<()> {
            match *self {}
        }

        pub(crate) fn clear(&self) {
            match *self {}
        }
    }

    impl std::os::fd::AsFd for PreciseTimer {
        fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            match *self {}
        }
    }
}
