//! `selectors.DefaultSelector`: wait until any of many sources is ready.
//!
//! [`Selector<D>`] mirrors Python's selector over the [`polling`] crate (epoll
//! on Linux): [`register`](Selector::register) a source with an [`Interest`]
//! and some data, [`modify`](Selector::modify) it,
//! [`unregister`](Selector::unregister) it (getting the data back), and
//! [`select`](Selector::select) the ones that are ready.
//!
//! | Python | synclings |
//! |---|---|
//! | `sel = selectors.DefaultSelector()` | [`Selector::new`] |
//! | `EVENT_READ`, `EVENT_WRITE` | [`Interest::READ`], [`Interest::WRITE`] (same bits: 1, 2) |
//! | `sel.register(fileobj, events, data)` → key | [`Selector::register`] → `&SelectorKey` |
//! | `sel.modify(fileobj, events, data)` → key | [`Selector::modify`] |
//! | `sel.unregister(fileobj)` → key | [`Selector::unregister`] → the data |
//! | `sel.select(timeout)` → `[(key, events)]` | [`Selector::select`], or [`Selector::select_into`] without allocating |
//! | `sel.get_key(fileobj)`, `sel.get_map()` | [`Selector::get_key`], [`Selector::get_map`], [`Selector::len`] |
//! | `sel.close()` | [`Selector::close`] (or drop) |
//! | `KeyError` (twice / unknown), `ValueError` (no events) | [`SelectorError::AlreadyRegistered`], [`SelectorError::NotRegistered`], [`SelectorError::EmptyInterest`] |
//!
//! Like Python's epoll selector it is **level-triggered**: a source stays
//! ready, and is reported by every `select`, until its data is read (or its
//! buffer drained). Hang-ups and errors are reported as whatever the source
//! was registered for, so that the read or write that follows sees them.
//!
//! # The contract: unregister before closing
//!
//! A registered source must stay open until it is unregistered. Closing it
//! first does not corrupt memory (the kernel drops an epoll registration with
//! the last descriptor of a file), but its key stays here, so the number can
//! not be registered again until [`Selector::unregister_closed`] removes it;
//! and if a duplicate of the descriptor (`try_clone`, `dup`) is still open,
//! epoll keeps reporting the old file under that number.
//!
//! # Example: the seed's accept/read callbacks
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//! use synclings::selector::{Interest, Selector};
//!
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! enum Callback { Accept, Read }
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
//!                 sel.register(&conn, Interest::READ, Callback::Read)?;
//!                 conns.push(conn);
//!             }
//!             Callback::Read => {
//!                 let conn = conns.iter_mut().find(|c| c.as_raw_fd() == fd).unwrap();
//!                 let mut buf = [0u8; 1024];
//!                 let n = conn.read(&mut buf)?;
//!                 conn.write_all(&buf[..n].to_ascii_uppercase())?;
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

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::ops::{BitAnd, BitOr, BitOrAssign};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use polling::{Event, Events, PollMode, Poller};

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

    fn event(self, key: usize) -> Event {
        Event::new(key, self.is_readable(), self.is_writable())
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

/// A registration: Python's `SelectorKey` (its `fileobj` is the raw `fd`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorKey<D> {
    /// The registered descriptor.
    pub fd: RawFd,
    /// The events it is watched for (never empty).
    pub interest: Interest,
    /// The caller's data, returned with every readiness report.
    pub data: D,
}

/// Why a [`Selector`] call failed: Python's exceptions, as types.
#[derive(Debug)]
pub enum SelectorError {
    /// `register` of a descriptor already registered (Python: `KeyError`).
    /// Use `modify` to change it.
    AlreadyRegistered(RawFd),
    /// `modify`, `unregister` or `get_key` of a descriptor that is not
    /// registered (Python: `KeyError`).
    NotRegistered(RawFd),
    /// `register` or `modify` with no events (Python: `ValueError`).
    EmptyInterest(RawFd),
    /// The kernel refused (e.g. a closed descriptor: `EBADF`; out of memory).
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

/// Python's `selectors.DefaultSelector` (epoll, level-triggered) with data
/// of type `D` attached to each registration. See the [module docs](self).
pub struct Selector<D> {
    poller: Arc<Poller>,
    /// Set by [`Notifier::notify`]: tells a wake-up by a notifier from an
    /// early (spurious) return of the poller.
    notified: Arc<AtomicBool>,
    keys: HashMap<RawFd, SelectorKey<D>>,
    /// Cleared before every wait (polling appends to it).
    events: Events,
}

impl<D> Selector<D> {
    /// Creates a selector (an epoll instance).
    pub fn new() -> io::Result<Self> {
        Ok(Selector {
            poller: Arc::new(Poller::new()?),
            notified: Arc::new(AtomicBool::new(false)),
            keys: HashMap::new(),
            events: Events::new(),
        })
    }

    /// Starts watching `source` for `interest`, with `data` attached.
    ///
    /// The source must stay open until [`unregister`](Self::unregister)
    /// (see the [module docs](self)); make it non-blocking if you read it
    /// from a loop, as Python does.
    pub fn register(
        &mut self,
        source: &impl AsFd,
        interest: Interest,
        data: D,
    ) -> Result<&SelectorKey<D>, SelectorError> {
        let fd = source.as_fd().as_raw_fd();
        if interest.is_empty() {
            return Err(SelectorError::EmptyInterest(fd));
        }
        if self.keys.contains_key(&fd) {
            return Err(SelectorError::AlreadyRegistered(fd));
        }
        // Safety: polling requires the source to be deleted from the poller
        // before it is dropped, because some backends keep using the raw
        // handle. `unregister` deletes it and the caller is told to
        // unregister before closing. A caller who closes first cannot cause
        // memory unsafety on epoll (our backend): the kernel drops the
        // registration with the file's last descriptor, and a stale or
        // reused number only yields a spurious readiness report for a fd
        // whose key we look up (or do not find) by number.
        unsafe {
            self.poller
                .add_with_mode(fd, interest.event(key_of(fd)), PollMode::Level)?;
        }
        let key = SelectorKey { fd, interest, data };
        Ok(self.keys.entry(fd).or_insert(key))
    }

    /// Changes what `source` is watched for and its data (Python's
    /// `modify`). The kernel is asked only if the interest changes.
    pub fn modify(
        &mut self,
        source: &impl AsFd,
        interest: Interest,
        data: D,
    ) -> Result<&SelectorKey<D>, SelectorError> {
        let fd = source.as_fd();
        let raw = fd.as_raw_fd();
        if interest.is_empty() {
            return Err(SelectorError::EmptyInterest(raw));
        }
        let key = self
            .keys
            .get_mut(&raw)
            .ok_or(SelectorError::NotRegistered(raw))?;
        if key.interest != interest {
            self.poller
                .modify_with_mode(fd, interest.event(key_of(raw)), PollMode::Level)?;
            key.interest = interest;
        }
        key.data = data;
        Ok(key)
    }

    /// Stops watching `source` and returns its data. Call it before the
    /// source is closed.
    ///
    /// As in CPython, a failure of the kernel to forget the descriptor is
    /// ignored: the key is gone either way.
    pub fn unregister(&mut self, source: &impl AsFd) -> Result<D, SelectorError> {
        let fd = source.as_fd();
        let key = self
            .keys
            .remove(&fd.as_raw_fd())
            .ok_or(SelectorError::NotRegistered(fd.as_raw_fd()))?;
        let _ = self.poller.delete(fd);
        Ok(key.data)
    }

    /// Removes the key of a descriptor that was closed without being
    /// unregistered first, and returns its data; no system call.
    ///
    /// The kernel dropped the registration when the file's last descriptor
    /// closed. (CPython's `unregister` covers this case by ignoring the
    /// `EBADF`; with Rust's I/O safety a closed source cannot be passed to
    /// [`unregister`](Self::unregister), hence this method.)
    pub fn unregister_closed(&mut self, fd: RawFd) -> Result<D, SelectorError> {
        self.keys
            .remove(&fd)
            .map(|key| key.data)
            .ok_or(SelectorError::NotRegistered(fd))
    }

    /// The key of `source` (a socket, or a raw fd: `&fd`).
    pub fn get_key(&self, source: &impl AsRawFd) -> Result<&SelectorKey<D>, SelectorError> {
        let fd = source.as_raw_fd();
        self.keys.get(&fd).ok_or(SelectorError::NotRegistered(fd))
    }

    /// Every key, by descriptor (Python's `get_map()`).
    pub fn get_map(&self) -> &HashMap<RawFd, SelectorKey<D>> {
        &self.keys
    }

    /// How many sources are registered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Waits until a source is ready, `timeout` passes, or a [`Notifier`]
    /// wakes the selector; returns each ready key with its events, masked by
    /// the interest it was registered with (Python's `select`).
    ///
    /// `None` waits without limit; `Some(Duration::ZERO)` only polls. An
    /// empty list means the timeout passed (never earlier) or a notifier
    /// woke us.
    pub fn select(
        &mut self,
        timeout: Option<Duration>,
    ) -> io::Result<Vec<(&SelectorKey<D>, Interest)>> {
        let mut ready = Vec::new();
        self.select_into(timeout, &mut ready)?;
        Ok(ready
            .into_iter()
            .filter_map(|(fd, events)| Some((self.keys.get(&fd)?, events)))
            .collect())
    }

    /// [`select`](Self::select) returning descriptors instead of keys, so
    /// that the caller may modify the selector while handling them.
    pub fn select_ready(
        &mut self,
        timeout: Option<Duration>,
    ) -> io::Result<Vec<(RawFd, Interest)>> {
        let mut ready = Vec::new();
        self.select_into(timeout, &mut ready)?;
        Ok(ready)
    }

    /// [`select_ready`](Self::select_ready) into a list the caller reuses
    /// (cleared first): no allocation per wake-up. Returns how many are ready.
    pub fn select_into(
        &mut self,
        timeout: Option<Duration>,
        ready: &mut Vec<(RawFd, Interest)>,
    ) -> io::Result<usize> {
        ready.clear();
        // Room for every registered source, as CPython asks epoll for
        // max(len(keys), 1): one wait reports all that are ready.
        if self.keys.len() > self.events.capacity().get() {
            let capacity = self.keys.len().next_power_of_two();
            self.events = Events::with_capacity(NonZeroUsize::new(capacity).expect("not zero"));
        }
        // A timeout too large to add is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // polling appends to the list: events of an earlier wait would
            // be reported again.
            self.events.clear();
            match self.wait_once(deadline) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in self.events.iter() {
                let fd = event.key as RawFd;
                // A key may be missing: a stale registration of a closed
                // descriptor (see the module docs).
                let Some(key) = self.keys.get(&fd) else {
                    continue;
                };
                let mut events = Interest::empty();
                if event.readable {
                    events |= Interest::READ;
                }
                if event.writable {
                    events |= Interest::WRITE;
                }
                // polling reports a hang-up or error as both readable and
                // writable; keep what was asked for, as CPython does.
                let events = events & key.interest;
                if !events.is_empty() {
                    ready.push((fd, events));
                }
            }
            let woken = self.notified.swap(false, SeqCst);
            let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
            if !ready.is_empty() || woken || timed_out {
                return Ok(ready.len());
            }
            // A spurious return (or a report we filtered out): wait for the
            // rest of the timeout, so that an empty answer means it passed.
        }
    }

    fn wait_once(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        match deadline {
            None => self.poller.wait(&mut self.events, None)?,
            Some(deadline) => self.poller.wait_deadline(&mut self.events, deadline)?,
        };
        Ok(())
    }

    /// A handle that wakes this selector's `select` from another thread
    /// (for shutdown). It does nothing once the selector is closed.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            poller: Arc::downgrade(&self.poller),
            notified: self.notified.clone(),
        }
    }

    /// Closes the selector (the epoll instance) and returns the keys still
    /// registered, whose sources the caller may now close.
    pub fn close(self) -> Vec<SelectorKey<D>> {
        self.keys.into_values().collect()
    }
}

impl<D> fmt::Debug for Selector<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fds: Vec<_> = self.keys.values().map(|k| (k.fd, k.interest)).collect();
        fds.sort_by_key(|&(fd, _)| fd);
        f.debug_struct("Selector")
            .field("registered", &fds)
            .finish()
    }
}

/// Wakes a [`Selector`]'s `select` from any thread: its `select` returns
/// (with what is ready, maybe nothing). Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    /// Weak: a notifier does not keep a closed selector's epoll alive.
    poller: Weak<Poller>,
    notified: Arc<AtomicBool>,
}

impl Notifier {
    /// Wakes the current or the next `select`. After the selector is closed
    /// it does nothing.
    pub fn notify(&self) -> io::Result<()> {
        match self.poller.upgrade() {
            Some(poller) => {
                self.notified.store(true, SeqCst);
                poller.notify()
            }
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("selector_open", &(self.poller.strong_count() > 0))
            .finish()
    }
}

/// The poller's key of a descriptor: the descriptor itself (never
/// `usize::MAX`, which polling reserves).
fn key_of(fd: RawFd) -> usize {
    fd as usize
}
