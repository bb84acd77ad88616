//! [`Select`]: Python's `SelectSelector`, on `select(2)` (every Unix).
//!
//! The watched set lives here, as two `fd_set` bit arrays (read, write).
//! Every wait copies both (select overwrites them with its answer), hands
//! them to the kernel, which asks every descriptor up to the highest one
//! whether it is ready, and scans the answer bit by bit: O(highest
//! descriptor) per wait, however few are ready. An `fd_set` has
//! `FD_SETSIZE` (1024) bits, so a descriptor numbered 1024 or more cannot be
//! watched at all: [`register`](super::BaseSelector::register) refuses it
//! with [`SelectorError::OutOfRange`], as Python raises `ValueError`.
//! Register, modify and unregister are no system call.
//!
//! A descriptor closed without being unregistered makes the whole call fail
//! with `EBADF`: the backend then finds the closed numbers (`fcntl(F_GETFD)`
//! on each), stops watching them, as epoll forgets a closed file, and waits
//! again.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Weak;
use std::time::Duration;

use super::backend::{Backend, BackendKind, Sys, Wake};
use super::unix::SelfPipe;
use super::{Interest, SelectorError};

/// The `select(2)` backend of [`SelectSelector`](super::SelectSelector).
pub struct Select {
    /// What each descriptor is watched for (the wake-up in `read`).
    read: FdSet,
    write: FdSet,
    wake: SelfPipe,
}

/// True if `fd` has a bit in an `fd_set`.
pub(crate) fn fits(fd: RawFd) -> bool {
    usize::try_from(fd).is_ok_and(|fd| fd < libc::FD_SETSIZE)
}

/// An `fd_set` and the largest descriptor in it.
#[derive(Clone, Copy)]
pub(crate) struct FdSet {
    set: libc::fd_set,
    max: Option<RawFd>,
}

impl FdSet {
    pub(crate) fn new() -> Self {
        // SAFETY: fd_set is a plain bit array: all zeroes is a valid, empty
        // set, which FD_ZERO then makes explicit.
        let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a live, initialised fd_set.
        unsafe { libc::FD_ZERO(&mut set) };
        FdSet { set, max: None }
    }

    /// Adds `fd`; one that does not [`fit`](fits) is left out (callers
    /// check first).
    pub(crate) fn insert(&mut self, fd: RawFd) {
        if !fits(fd) {
            return;
        }
        // SAFETY: 0 <= fd < FD_SETSIZE, so the bit lies inside the set.
        unsafe { libc::FD_SET(fd, &mut self.set) };
        self.max = self.max.max(Some(fd));
    }

    pub(crate) fn remove(&mut self, fd: RawFd) {
        if !self.contains(fd) {
            return;
        }
        // SAFETY: 0 <= fd < FD_SETSIZE (`contains` checked it).
        unsafe { libc::FD_CLR(fd, &mut self.set) };
        if self.max == Some(fd) {
            self.max = (0..fd).rev().find(|&lower| self.contains(lower));
        }
    }

    pub(crate) fn contains(&self, fd: RawFd) -> bool {
        // SAFETY: 0 <= fd < FD_SETSIZE (checked first), `set` is initialised.
        fits(fd) && unsafe { libc::FD_ISSET(fd, &self.set) }
    }
}

/// `select(2)` on the read and write sets, which it overwrites with the
/// ready descriptors. `None` waits without limit.
pub(crate) fn select(
    read: &mut FdSet,
    write: &mut FdSet,
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let nfds = read.max.max(write.max).map_or(0, |fd| fd + 1);
    let mut tv = timeout.map(|t| {
        // Round up: an early wake-up would find nothing due. At most a day
        // (some kernels refuse larger values); a longer wait waits again.
        let micros = t.as_nanos().div_ceil(1_000).min(86_400_000_000);
        libc::timeval {
            tv_sec: (micros / 1_000_000) as libc::time_t,
            tv_usec: (micros % 1_000_000) as libc::suseconds_t,
        }
    });
    let tv_ptr = tv
        .as_mut()
        .map_or(std::ptr::null_mut(), |tv| tv as *mut libc::timeval);
    // SAFETY: the sets and the timeval are live locals (or null for no
    // timeout), nfds is one more than the largest descriptor set and at most
    // FD_SETSIZE, and no exception set is passed.
    let n = unsafe {
        libc::select(
            nfds,
            &mut read.set,
            &mut write.set,
            std::ptr::null_mut(),
            tv_ptr,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// True if `fd` is not an open descriptor.
fn is_closed(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; a closed number
    // fails with EBADF.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
}

impl Select {
    /// Stops watching every registered number that is closed; false if none
    /// is (then the EBADF has another cause).
    fn drop_closed(&mut self) -> bool {
        let max = self.read.max.max(self.write.max).unwrap_or(-1);
        let mut dropped = false;
        for fd in 0..=max {
            if fd != self.wake.fd()
                && (self.read.contains(fd) || self.write.contains(fd))
                && is_closed(fd)
            {
                self.read.remove(fd);
                self.write.remove(fd);
                dropped = true;
            }
        }
        dropped
    }

    fn watch(&mut self, fd: RawFd, interest: Interest) {
        self.read.remove(fd);
        self.write.remove(fd);
        if interest.is_readable() {
            self.read.insert(fd);
        }
        if interest.is_writable() {
            self.write.insert(fd);
        }
    }
}

impl Sys for Select {
    const NAME: &'static str = "SelectSelector";

    fn new() -> io::Result<Select> {
        let wake = SelfPipe::new()?;
        if !fits(wake.fd()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "SelectSelector's wake-up socket got fd {}, at or above FD_SETSIZE ({}): \
                     use PollSelector or DefaultSelector",
                    wake.fd(),
                    libc::FD_SETSIZE
                ),
            ));
        }
        let mut read = FdSet::new();
        read.insert(wake.fd());
        Ok(Select {
            read,
            write: FdSet::new(),
            wake,
        })
    }

    fn add(&mut self, source: BorrowedFd<'_>, interest: Interest) -> Result<(), SelectorError> {
        let fd = source.as_raw_fd();
        if !fits(fd) {
            return Err(SelectorError::OutOfRange {
                fd,
                limit: libc::FD_SETSIZE,
            });
        }
        self.watch(fd, interest);
        Ok(())
    }

    fn modify(&mut self, source: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        self.watch(source.as_raw_fd(), interest);
        Ok(())
    }

    fn delete(&mut self, source: BorrowedFd<'_>) -> io::Result<()> {
        self.forget(source.as_raw_fd());
        Ok(())
    }

    fn forget(&mut self, fd: RawFd) {
        self.read.remove(fd);
        self.write.remove(fd);
    }

    fn wait(
        &mut self,
        timeout: Option<Duration>,
        _registered: usize,
        mut ready: impl FnMut(RawFd, Interest),
    ) -> io::Result<bool> {
        let (mut read, mut write) = (self.read, self.write);
        let mut left = match select(&mut read, &mut write, timeout) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EBADF) && self.drop_closed() => {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let mut woken = false;
        // The O(n) scan: every bit up to the highest descriptor, until all
        // that are set were seen (select counts a descriptor once per set).
        let max = self.read.max.max(self.write.max).unwrap_or(-1);
        for fd in 0..=max {
            if left == 0 {
                break;
            }
            let events = Interest::new(read.contains(fd), write.contains(fd));
            if events.is_empty() {
                continue;
            }
            left =
                left.saturating_sub(events.is_readable() as usize + events.is_writable() as usize);
            if fd == self.wake.fd() {
                woken = true;
            } else {
                ready(fd, events);
            }
        }
        if woken {
            self.wake.drain();
        }
        Ok(woken)
    }

    fn waker(&self) -> Weak<dyn Wake> {
        self.wake.waker()
    }
}

impl Backend for Select {
    const KIND: BackendKind = BackendKind::Select;
}
