//! The Unix side of the selector: sources are file descriptors, and the
//! `poll(2)`/`select(2)` backends (and the lab's raw loops) wake up through a
//! self-pipe.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::backend::Wake;
use super::Notifier;

/// The number a registration is known by: a file descriptor.
pub type RawSource = RawFd;

/// A registered source, borrowed for one call.
pub type BorrowedSource<'a> = BorrowedFd<'a>;

/// What [`register`](super::BaseSelector::register),
/// [`modify`](super::BaseSelector::modify) and
/// [`unregister`](super::BaseSelector::unregister) take: anything with a
/// file descriptor (`AsFd`): sockets, pipes, `OwnedFd`, `BorrowedFd`...
pub trait Source {
    /// The descriptor, borrowed.
    fn as_source(&self) -> BorrowedSource<'_>;
}

impl<T: AsFd + ?Sized> Source for T {
    fn as_source(&self) -> BorrowedSource<'_> {
        self.as_fd()
    }
}

/// What [`get_key`](super::BaseSelector::get_key) takes: a source or its
/// raw number (`&fd` with `fd: RawFd`, like Python's integer `fileobj`).
pub trait AsRawSource {
    /// The raw descriptor.
    fn as_raw_source(&self) -> RawSource;
}

impl<T: AsRawFd + ?Sized> AsRawSource for T {
    fn as_raw_source(&self) -> RawSource {
        self.as_raw_fd()
    }
}

/// A timeout as `epoll_wait` and `poll` take it: milliseconds, rounded up
/// (never return before the timeout), -1 for none.
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    }
}

/// A wake-up for a `poll(2)` or `select(2)` loop: the loop watches
/// [`SelfPipe::fd`] for reading, a [`Notifier`] writes a byte to the other
/// end. (A socket pair, which every Unix has; both ends non-blocking.)
#[derive(Debug)]
pub(crate) struct SelfPipe {
    rx: UnixStream,
    /// Shared (weakly) with the notifiers.
    tx: Arc<PipeWaker>,
}

#[derive(Debug)]
struct PipeWaker(UnixStream);

impl Wake for PipeWaker {
    fn wake(&self) -> io::Result<()> {
        match (&self.0).write(&[1]) {
            // A full pipe wakes the loop already.
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }
}

impl SelfPipe {
    pub(crate) fn new() -> io::Result<SelfPipe> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(SelfPipe {
            rx,
            tx: Arc::new(PipeWaker(tx)),
        })
    }

    /// The end to watch for reading.
    pub(crate) fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Empties the pipe after a wake-up: every notification so far is
    /// consumed by this one wake-up.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
    }

    /// What the notifiers hold.
    pub(crate) fn waker(&self) -> Weak<dyn Wake> {
        let tx: Arc<dyn Wake> = self.tx.clone();
        Arc::downgrade(&tx)
    }

    /// A notifier of this pipe (it does nothing once the pipe is dropped).
    pub(crate) fn notifier(&self) -> Notifier {
        Notifier {
            waker: self.waker(),
        }
    }
}
