//! `selectors.DefaultSelector`: wait until any of many sources is ready.
//!
//! [`Selector<D>`] mirrors Python's selector over Linux's epoll (the system
//! calls themselves: one `epoll_wait` per [`select`](Selector::select), no
//! timer or wake-up bookkeeping around it): [`register`](Selector::register)
//! a source with an [`Interest`] and some data, [`modify`](Selector::modify) it,
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
//! # Why epoll itself, not the `polling` crate
//!
//! The design named `polling` as the backend, and the first version used it.
//! Its epoll backend spends five system calls on every wait (arm a timerfd
//! for the timeout, update it in epoll, `epoll_wait`, drain its wake-up
//! eventfd, re-arm it), where Python's selector and tokio's mio spend one.
//! In the lab (`bench/lab.sh`, the selector echo server against tokio and a
//! bare epoll floor, server CPU per request, 3 runs each, same session) that
//! was 35.3 µs against 27.7 µs per request at 1 connection and 5.7 against
//! 5.1 at 10, enough to lose to tokio: so this module calls epoll directly
//! (Linux only, like the rest of the lab), and a wait is one `epoll_wait`.
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
use std::ops::{BitAnd, BitOr, BitOrAssign};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

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

    /// The epoll events to register for.
    fn epoll_events(self) -> u32 {
        let mut events = 0;
        if self.is_readable() {
            events |= libc::EPOLLIN as u32;
        }
        if self.is_writable() {
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
        let mut interest = Interest::empty();
        if events & readable != 0 {
            interest |= Interest::READ;
        }
        if events & writable != 0 {
            interest |= Interest::WRITE;
        }
        interest
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
    /// Shared with the [`Notifier`]s (weakly).
    epoll: Arc<Epoll>,
    keys: HashMap<RawFd, SelectorKey<D>>,
    /// Where `epoll_wait` writes; its capacity is how many one wait reports.
    events: Vec<libc::epoll_event>,
}

impl<D> Selector<D> {
    /// Creates a selector (an epoll instance).
    pub fn new() -> io::Result<Self> {
        Ok(Selector {
            epoll: Arc::new(Epoll::new()?),
            keys: HashMap::new(),
            events: Vec::with_capacity(MIN_EVENTS),
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
        // A caller who closes the source before unregistering it cannot
        // cause memory unsafety: the kernel drops the registration with the
        // file's last descriptor, and a stale or reused number only yields
        // a spurious readiness report for a fd whose key we look up (or do
        // not find) by number.
        self.epoll
            .ctl(libc::EPOLL_CTL_ADD, fd, interest.epoll_events(), key_of(fd))?;
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
        let raw = source.as_fd().as_raw_fd();
        if interest.is_empty() {
            return Err(SelectorError::EmptyInterest(raw));
        }
        let key = self
            .keys
            .get_mut(&raw)
            .ok_or(SelectorError::NotRegistered(raw))?;
        if key.interest != interest {
            self.epoll.ctl(
                libc::EPOLL_CTL_MOD,
                raw,
                interest.epoll_events(),
                key_of(raw),
            )?;
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
        let _ = self.epoll.ctl(
            libc::EPOLL_CTL_DEL,
            fd.as_raw_fd(),
            0,
            key_of(fd.as_raw_fd()),
        );
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
        // max(len(keys), 1), plus the wake-up: one wait reports all that
        // are ready.
        if self.keys.len() + 1 > self.events.capacity() {
            let capacity = (self.keys.len() + 1).next_power_of_two();
            self.events = Vec::with_capacity(capacity);
        }
        // A timeout too large to add is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut timeout_ms = epoll_timeout(timeout);
        loop {
            match self.epoll.wait(&mut self.events, timeout_ms) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let mut woken = false;
            for event in &self.events {
                // A copy: `epoll_event` is packed on x86-64.
                let (key, flags) = (event.u64, event.events);
                if key == WAKE_KEY {
                    woken = true;
                    continue;
                }
                let fd = key as RawFd;
                // A key may be missing: a stale registration of a closed
                // descriptor (see the module docs).
                let Some(registered) = self.keys.get(&fd) else {
                    continue;
                };
                // Keep what was asked for, as CPython does.
                let events = Interest::from_epoll(flags) & registered.interest;
                if !events.is_empty() {
                    ready.push((fd, events));
                }
            }
            if woken {
                self.epoll.clear_wake();
            }
            if !ready.is_empty() || woken || timeout_ms == 0 {
                return Ok(ready.len());
            }
            // A spurious return, a signal, or a report we filtered out: wait
            // for the rest of the timeout, so that an empty answer means it
            // passed.
            if let Some(deadline) = deadline {
                let now = Instant::now();
                if now >= deadline {
                    return Ok(0);
                }
                timeout_ms = epoll_timeout(Some(deadline - now));
            }
        }
    }

    /// A handle that wakes this selector's `select` from another thread
    /// (for shutdown). It does nothing once the selector is closed.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            epoll: Arc::downgrade(&self.epoll),
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
    epoll: Weak<Epoll>,
}

impl Notifier {
    /// Wakes the current or the next `select`. After the selector is closed
    /// it does nothing.
    pub fn notify(&self) -> io::Result<()> {
        match self.epoll.upgrade() {
            Some(epoll) => epoll.notify(),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("selector_open", &(self.epoll.strong_count() > 0))
            .finish()
    }
}

/// The epoll key of a descriptor: the descriptor itself (never
/// [`WAKE_KEY`]).
fn key_of(fd: RawFd) -> u64 {
    fd as u32 as u64
}

/// The epoll key of the wake-up eventfd.
const WAKE_KEY: u64 = u64::MAX;

/// The smallest event list a wait is given.
const MIN_EVENTS: usize = 64;

/// A timeout as `epoll_wait` takes it: milliseconds, rounded up (never
/// return before the timeout), -1 for none.
fn epoll_timeout(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        }
    }
}

/// Turns a -1 from a system call into the last OS error.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An epoll instance with an eventfd registered in it (level-triggered,
/// key [`WAKE_KEY`]) that [`Notifier::notify`] writes to: a wait is one
/// `epoll_wait`, nothing else; a notification costs the notifier one
/// `write` and the woken selector one `read`.
struct Epoll {
    epfd: OwnedFd,
    wake: OwnedFd,
}

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // Safety: plain system calls; each new descriptor is owned at once.
        let epfd = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        // Safety: as above.
        let wake = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        let epoll = Epoll { epfd, wake };
        epoll.ctl(
            libc::EPOLL_CTL_ADD,
            epoll.wake.as_raw_fd(),
            libc::EPOLLIN as u32,
            WAKE_KEY,
        )?;
        Ok(epoll)
    }

    /// `epoll_ctl(op, fd)` with `events` and `key`.
    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: key };
        // Safety: `event` lives for the call; the kernel checks `fd`.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    /// One `epoll_wait` into `events` (cleared first; as many as its
    /// capacity).
    fn wait(&self, events: &mut Vec<libc::epoll_event>, timeout_ms: i32) -> io::Result<()> {
        events.clear();
        let max = i32::try_from(events.capacity()).unwrap_or(i32::MAX);
        // Safety: the kernel writes at most `max` events into the spare
        // capacity, and returns how many.
        let n = cvt(unsafe {
            libc::epoll_wait(self.epfd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms)
        })?;
        // Safety: the first `n` events were written by the kernel.
        unsafe { events.set_len(n as usize) };
        Ok(())
    }

    /// Makes the eventfd readable: wakes the current or the next wait.
    fn notify(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        // Safety: an 8-byte buffer, as eventfd requires.
        let r = unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        match r {
            // EAGAIN: the counter is full, so the eventfd is readable anyway.
            -1 if io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock => {
                Err(io::Error::last_os_error())
            }
            _ => Ok(()),
        }
    }

    /// Resets the eventfd after a wake-up (every notification so far is
    /// consumed by this one wake-up).
    fn clear_wake(&self) {
        let mut buf = [0u8; 8];
        // Safety: an 8-byte buffer; EAGAIN (already cleared) is harmless.
        unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}
