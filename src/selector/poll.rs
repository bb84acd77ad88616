//! [`Poll`]: Python's `PollSelector`, on `poll(2)` (every Unix).
//!
//! The watched set lives here, as an array of `pollfd` (entry 0 is the
//! wake-up socket), and goes to the kernel whole on every wait: the kernel
//! asks every entry whether it is ready, and the answer is found by scanning
//! every `revents`. So a wait costs O(registered), however few are ready;
//! in exchange register, modify and unregister are no system call at all,
//! and any descriptor number works (no `FD_SETSIZE`).
//!
//! A descriptor closed without being unregistered comes back as `POLLNVAL`:
//! its entry is then switched off (a negative fd, which the kernel skips),
//! as epoll forgets a closed file, until `unregister_closed` removes it or
//! `modify` (with a source that is open again under that number) switches
//! it back on.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Weak;
use std::time::Duration;

use super::backend::{Backend, BackendKind, Sys, Wake};
use super::unix::{timeout_ms, SelfPipe};
use super::{Interest, SelectorError};

/// The `poll(2)` backend of [`PollSelector`](super::PollSelector).
pub struct Poll {
    /// Entry 0: the wake-up; then one per registered descriptor.
    fds: Vec<libc::pollfd>,
    /// Where each registered descriptor's entry is in `fds`.
    index: HashMap<RawFd, usize>,
    wake: SelfPipe,
}

/// What counts as readable / writable in `revents`: a hang-up or an error
/// counts as both (the read or write that follows sees it).
const READABLE: libc::c_short = libc::POLLIN | libc::POLLPRI | libc::POLLHUP | libc::POLLERR;
const WRITABLE: libc::c_short = libc::POLLOUT | libc::POLLHUP | libc::POLLERR;

/// The `pollfd` events to ask for.
pub(crate) fn poll_events(interest: Interest) -> libc::c_short {
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::POLLIN;
    }
    if interest.is_writable() {
        events |= libc::POLLOUT;
    }
    events
}

/// A `pollfd` entry asking for `events`.
pub(crate) fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// What `revents` says, as an interest.
pub(crate) fn from_revents(revents: libc::c_short) -> Interest {
    Interest::new(revents & READABLE != 0, revents & WRITABLE != 0)
}

/// `poll(2)`: fills each entry's `revents` and returns how many are set.
/// `None` waits without limit.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    // SAFETY: `fds` is a live, initialised slice of pollfd and its length is
    // passed with it; the kernel writes only their `revents`.
    let n = unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout_ms(timeout),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

impl Poll {
    fn entry(&mut self, fd: RawFd) -> io::Result<&mut libc::pollfd> {
        let i = *self.index.get(&fd).ok_or(io::ErrorKind::NotFound)?;
        Ok(&mut self.fds[i])
    }

    /// Removes `fd`'s entry (the last one takes its place).
    fn remove(&mut self, fd: RawFd) {
        let Some(i) = self.index.remove(&fd) else {
            return;
        };
        self.fds.swap_remove(i);
        if let Some(moved) = self.fds.get(i) {
            // Its number, even if switched off (negative).
            let moved_fd = if moved.fd < 0 { !moved.fd } else { moved.fd };
            self.index.insert(moved_fd, i);
        }
    }
}

impl Sys for Poll {
    const NAME: &'static str = "PollSelector";

    fn new() -> io::Result<Poll> {
        let wake = SelfPipe::new()?;
        Ok(Poll {
            fds: vec![pollfd(wake.fd(), libc::POLLIN)],
            index: HashMap::new(),
            wake,
        })
    }

    fn add(&mut self, source: BorrowedFd<'_>, interest: Interest) -> Result<(), SelectorError> {
        let fd = source.as_raw_fd();
        self.index.insert(fd, self.fds.len());
        self.fds.push(pollfd(fd, poll_events(interest)));
        Ok(())
    }

    fn modify(&mut self, source: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
        let fd = source.as_raw_fd();
        let entry = self.entry(fd)?;
        // Switched back on if it was off: `source` is open under this number.
        entry.fd = fd;
        entry.events = poll_events(interest);
        Ok(())
    }

    fn delete(&mut self, source: BorrowedFd<'_>) -> io::Result<()> {
        self.remove(source.as_raw_fd());
        Ok(())
    }

    fn forget(&mut self, fd: RawFd) {
        self.remove(fd);
    }

    fn wait(
        &mut self,
        timeout: Option<Duration>,
        _registered: usize,
        mut ready: impl FnMut(RawFd, Interest),
    ) -> io::Result<bool> {
        let mut left = poll(&mut self.fds, timeout)?;
        let mut woken = false;
        // The O(n) scan: every revents, until all that are set were seen.
        for (i, entry) in self.fds.iter_mut().enumerate() {
            if left == 0 {
                break;
            }
            if entry.revents == 0 {
                continue;
            }
            left -= 1;
            if i == 0 {
                woken = true;
            } else if entry.revents & libc::POLLNVAL != 0 {
                // Closed without unregister: stop watching the number, as
                // epoll forgets the file (`!fd` keeps it, negative).
                entry.fd = !entry.fd;
            } else {
                ready(entry.fd, from_revents(entry.revents));
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

impl Backend for Poll {
    const KIND: BackendKind = BackendKind::Poll;
}
