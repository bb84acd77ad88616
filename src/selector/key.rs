//! What every backend shares: the [`Interest`] bits, the [`SelectorKey`] of a
//! registration and the [`SelectorError`]s (Python's exceptions, as types).

use std::fmt;
use std::io;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use super::RawSource;

/// What a source is watched for: Python's `EVENT_READ` / `EVENT_WRITE` bit
/// mask, combined with `|`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest(u8);

impl Interest {
    /// Python's `EVENT_READ` (1): readable, or a new connection to accept.
    pub const READ: Interest = Interest(1);
    /// Python's `EVENT_WRITE` (2): the socket takes more bytes without blocking.
    pub const WRITE: Interest = Interest(2);
    /// Both `READ | WRITE`.
    pub const BOTH: Interest = Interest(3);

    /// No events: what `register` refuses ([`SelectorError::EmptyInterest`]).
    pub const fn empty() -> Interest {
        Interest(0)
    }

    /// The interest with Python's bits (1 = read, 2 = write), or `None` if
    /// other bits are set.
    pub const fn from_bits(bits: u8) -> Option<Interest> {
        if bits & !3 == 0 {
            Some(Interest(bits))
        } else {
            None
        }
    }

    /// `READ` if `readable`, plus `WRITE` if `writable`.
    pub const fn new(readable: bool, writable: bool) -> Interest {
        Interest(readable as u8 | (writable as u8) << 1)
    }

    /// Python's bits: 1 = read, 2 = write.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True if no event is selected.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True if `READ` is set.
    pub const fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// True if `WRITE` is set.
    pub const fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    /// True if every event of `other` is in `self`.
    pub const fn contains(self, other: Interest) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, rhs: Interest) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Interest {
    type Output = Interest;
    fn bitand(self, rhs: Interest) -> Interest {
        Interest(self.0 & rhs.0)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READ | WRITE"),
            (true, false) => f.write_str("READ"),
            (false, true) => f.write_str("WRITE"),
            (false, false) => f.write_str("(empty)"),
        }
    }
}

/// A registration: Python's `SelectorKey` (its `fileobj` is the raw
/// descriptor, or the raw socket on Windows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorKey<D> {
    /// The registered descriptor ([`RawSource`]: a `RawFd` on Unix, a
    /// `RawSocket` on Windows).
    pub fd: RawSource,
    /// The events it is watched for (never empty).
    pub interest: Interest,
    /// The caller's data, returned with every readiness report.
    pub data: D,
}

/// Why a selector call failed: Python's exceptions, as types. Every backend
/// reports the same errors for the same mistakes.
#[derive(Debug)]
pub enum SelectorError {
    /// `register` of a descriptor already registered (Python: `KeyError`).
    /// Use `modify` to change it.
    AlreadyRegistered(RawSource),
    /// `modify`, `unregister` or `get_key` of a descriptor that is not
    /// registered (Python: `KeyError`).
    NotRegistered(RawSource),
    /// `register` or `modify` with no events (Python: `ValueError`).
    EmptyInterest(RawSource),
    /// `register` of a descriptor the backend cannot watch: `select(2)`
    /// only takes descriptors below `FD_SETSIZE` (Python: `ValueError:
    /// filedescriptor out of range in select()`).
    OutOfRange {
        /// The refused descriptor.
        fd: RawSource,
        /// The first number the backend cannot watch (`FD_SETSIZE`).
        limit: usize,
    },
    /// The kernel refused (e.g. a closed descriptor: `EBADF`; a regular
    /// file for epoll: `EPERM`; out of memory).
    Io(io::Error),
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectorError::AlreadyRegistered(fd) => {
                write!(f, "fd {fd} is already registered: use modify to change it")
            }
            SelectorError::NotRegistered(fd) => write!(f, "fd {fd} is not registered"),
            SelectorError::EmptyInterest(fd) => {
                write!(f, "fd {fd}: interest is empty: use READ, WRITE or both")
            }
            SelectorError::OutOfRange { fd, limit } => write!(
                f,
                "fd {fd} is out of range for select(2), which watches descriptors below \
                 FD_SETSIZE ({limit}) only: use PollSelector or DefaultSelector"
            ),
            SelectorError::Io(e) => write!(f, "the poller failed: {e}"),
        }
    }
}

impl std::error::Error for SelectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SelectorError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for SelectorError {
    fn from(e: io::Error) -> Self {
        SelectorError::Io(e)
    }
}

impl From<SelectorError> for io::Error {
    fn from(e: SelectorError) -> Self {
        match e {
            SelectorError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}
