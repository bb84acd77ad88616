//! [`Epoll`]: Python's `EpollSelector`, on Linux's epoll itself (Linux,
//! Android).
//!
//! The set of watched descriptors lives in the kernel: `epoll_ctl` changes
//! it, and a wait is one `epoll_wait` that returns the ready ones only, so a
//! wait costs the number of ready sources, not of registered ones. The wake
//! up is an eventfd registered in the same epoll (key [`WAKE_KEY`]),
//! edge-triggered as mio's: every `write` queues the event again, so the
//! woken selector never reads it back. A notification costs the notifier
//! one `write`, and a wait is one system call, nothing else.
//!
//! Why not the `polling` crate on Linux: its epoll backend spends five
//! system calls on every wait with a timeout (arm a timerfd, update it in
//! epoll, `epoll_wait`, drain its wake-up eventfd, re-arm it), where
//! Python's selector and tokio's mio spend one. In the lab that was 35.3 µs
//! against 27.7 µs of server CPU per request at 1 connection (see
//! [`Polling`](super::Polling), which the lab measures side by side).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::backend::{Backend, BackendKind, Sys, Wake};
use super::unix::timeout_ms;
use super::{Interest, SelectorError};

/// The epoll backend of [`EpollSelector`](super::EpollSelector).
pub struct Epoll {
    epfd: OwnedFd,
    /// Shared (weakly) with the notifiers.
    wake: Arc<EventFd>,
    /// Where `epoll_wait` writes; its capacity is how many one wait reports.
    events: Vec<libc::epoll_event>,
}

/// The epoll key of the wake-up eventfd (a descriptor's key is its number,
/// which is never `u64::MAX`).
const WAKE_KEY: u64 = u64::MAX;

/// The smallest event list a wait is given.
const MIN_EVENTS: usize = 64;

/// The epoll key of a descriptor: the descriptor itself.
fn key_of(fd: RawFd) -> u64 {
    fd as u32 as u64
}

/// The epoll events to register for.
fn epoll_events(interest: Interest) -> u32 {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::EPOLLIN as u32;
    }
    if interest.is_writable() {
        events |= libc::EPOLLOUT as u32;
    }
    events
}

/// What epoll reported, as an interest: a hang-up or an error counts as
/// both readable and writable (the read or write that follows sees it).
fn from_epoll(events: u32) -> Interest {
    let readable =
        (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR)
            as u32;
    let writable = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
    Interest::new(events & readable != 0, events & writable != 0)
}

/// Turns a -1 from a system call into the last OS error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Epoll {
    /// `epoll_ctl(op, fd)` with `events` and `key`.
    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: key };
        // SAFETY: `event` lives for the call; the kernel checks `fd`.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }
}

impl Sys for Epoll {
    const NAME: &'static str = "EpollSelector";

    fn new() -> io::Result<Epoll> {
        // SAFETY: plain system calls; each new descriptor is owned at once.
        let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // SAFETY: as above.
        let wake = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        let epoll = Epoll {
            epfd,
            wake: Arc::new(EventFd(wake)),
            events: Vec::with_capacity(MIN_EVENTS),
        };
        epoll.ctl(
            libc::EPOLL_CTL_ADD,
            epoll.wake.0.as_raw_fd(),
            // Edge-triggered: each write to the counter is an event of its
            // own (the kernel re-queues it even while the counter is not
            // zero), so nothing needs to drain it.
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            WAKE_KEY,
        )?;
        Ok(epoll)
    }

    fn add(&mut self, source: BorrowedFd<'_>, interest: Interest) -> Result<(), SelectorError> {
        // A caller who closes the source before unregistering it cannot
        // cause memory unsafety: the kernel drops the registration with the
        // file's last descriptor, and a stale or reused number only yields
        // a spurious readiness report for a fd whose key we look up (or do
        // not find) by number.
        let fd = source.as_raw_fd();
        self.ctl(libc::EPOLL_CTL_ADD, fd, epoll_events(interest), key_of(fd))?;
        Ok(())
    }

    fn modify(&mut self, source: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let fd = source.as_raw_fd();
        self.ctl(libc::EPOLL_CTL_MOD, fd, epoll_events(interest), key_of(fd))
    }

    fn delete(&mut self, source: BorrowedFd<'_>) -> io::Result<()> {
        let fd = source.as_raw_fd();
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, key_of(fd))
    }

    fn forget(&mut self, _fd: RawFd) {
        // The kernel dropped the registration with the file.
    }

    #[inline]
    fn wait(
        &mut self,
        timeout: Option<Duration>,
        registered: usize,
        mut ready: impl FnMut(RawFd, Interest),
    ) -> io::Result<bool> {
        // Room for every registered source, as CPython asks epoll for
        // max(len(keys), 1), plus the wake-up: one wait reports all that
        // are ready.
        if registered + 1 > self.events.capacity() {
            self.events = Vec::with_capacity((registered + 1).next_power_of_two());
        }
        self.events.clear();
        let max = i32::try_from(self.events.capacity()).unwrap_or(i32::MAX);
        // SAFETY: the kernel writes at most `max` events into the spare
        // capacity, and returns how many.
        let n = cvt(unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                max,
                timeout_ms(timeout),
            )
        })?;
        // SAFETY: the first `n` events were written by the kernel.
        unsafe { self.events.set_len(n as usize) };
        let mut woken = false;
        for event in &self.events {
            // A copy: `epoll_event` is packed on x86-64.
            let (key, flags) = (event.u64, event.events);
            if key == WAKE_KEY {
                woken = true;
            } else {
                ready(key as RawFd, from_epoll(flags));
            }
        }
        Ok(woken)
    }

    fn waker(&self) -> Weak<dyn Wake> {
        let wake: Arc<dyn Wake> = self.wake.clone();
        Arc::downgrade(&wake)
    }
}

impl Backend for Epoll {
    const KIND: BackendKind = BackendKind::Epoll;
}

/// The eventfd a [`Notifier`](super::Notifier) writes to.
struct EventFd(OwnedFd);

impl Wake for EventFd {
    /// Adds one to the eventfd's counter: an edge, which wakes the current
    /// or the next wait.
    fn wake(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        let write = || {
            // SAFETY: an 8-byte buffer, as eventfd requires.
            let r = unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
            if r == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        match write() {
            // The counter is full (2^64 - 2 notifications never read back):
            // reset it and write again, or this wake would be no edge.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.reset();
                write()
            }
            other => other,
        }
    }
}

impl EventFd {
    /// Sets the counter back to zero.
    fn reset(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: an 8-byte buffer; EAGAIN (already zero) is harmless.
        unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}
