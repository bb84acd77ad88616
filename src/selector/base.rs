//! [`BaseSelector`]: Python's selector methods, written once over any
//! [`Backend`] (CPython's `_BaseSelectorImpl`), and the [`Notifier`].

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::Weak;
use std::time::{Duration, Instant};

use super::backend::{Backend, Wake};
use super::{AsRawSource, BorrowedSource, Interest, RawSource, SelectorError, SelectorKey, Source};

/// Python's selector over backend `B`, with data of type `D` attached to
/// each registration. Use it through its aliases: [`DefaultSelector`],
/// `EpollSelector`, `PollSelector`, `SelectSelector`, [`PollingSelector`]
/// (see the [module docs](super) for which exists where, and what each
/// costs).
///
/// Every backend has these methods with the same behaviour and the same
/// [`SelectorError`]s; they differ in cost, in which descriptors they
/// accept (epoll refuses regular files, select refuses numbers from
/// `FD_SETSIZE` on) and in what the kernel does with a source closed before
/// it was unregistered (see the module docs).
///
/// `Send` when `D` is, `Sync` when `D` is: every method that waits or
/// changes the registrations takes `&mut self`; a [`Notifier`] wakes a
/// `select` from another thread.
///
/// [`DefaultSelector`]: super::DefaultSelector
/// [`PollingSelector`]: super::PollingSelector
pub struct BaseSelector<D, B: Backend> {
    /// The kernel side.
    sys: B,
    /// Python's `_fd_to_key`: every registration, by descriptor.
    keys: HashMap<RawSource, SelectorKey<D>>,
}

impl<D, B: Backend> BaseSelector<D, B> {
    /// Creates a selector (an epoll instance, a `pollfd` array, `fd_set`s or
    /// a `polling::Poller`, with its wake-up for [`Notifier`]).
    pub fn new() -> io::Result<Self> {
        Ok(BaseSelector {
            sys: B::new()?,
            keys: HashMap::new(),
        })
    }

    /// Starts watching `source` for `interest`, with `data` attached.
    ///
    /// The source must stay open until [`unregister`](Self::unregister)
    /// (see the [module docs](super)); make it non-blocking if you read it
    /// from a loop, as Python does.
    pub fn register(
        &mut self,
        source: &impl Source,
        interest: Interest,
        data: D,
    ) -> Result<&SelectorKey<D>, SelectorError> {
        let (source, fd) = with_interest(source, interest)?;
        if self.keys.contains_key(&fd) {
            return Err(SelectorError::AlreadyRegistered(fd));
        }
        self.sys.add(source, interest)?;
        let key = SelectorKey { fd, interest, data };
        Ok(self.keys.entry(fd).or_insert(key))
    }

    /// Changes what `source` is watched for and its data (Python's
    /// `modify`). The kernel is asked only if the interest changes.
    pub fn modify(
        &mut self,
        source: &impl Source,
        interest: Interest,
        data: D,
    ) -> Result<&SelectorKey<D>, SelectorError> {
        let (source, fd) = with_interest(source, interest)?;
        let key = self
            .keys
            .get_mut(&fd)
            .ok_or(SelectorError::NotRegistered(fd))?;
        if key.interest != interest {
            self.sys.modify(source, interest)?;
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
    pub fn unregister(&mut self, source: &impl Source) -> Result<D, SelectorError> {
        let source = source.as_source();
        let fd = source.as_raw_source();
        let key = self
            .keys
            .remove(&fd)
            .ok_or(SelectorError::NotRegistered(fd))?;
        let _ = self.sys.delete(source);
        Ok(key.data)
    }

    /// Removes the key of a descriptor that was closed without being
    /// unregistered first, and returns its data; no system call.
    ///
    /// epoll and kqueue dropped the registration when the file's last
    /// descriptor closed; `poll` and `select` stopped watching the number
    /// when they found it closed. (CPython's `unregister` covers this case
    /// by ignoring the `EBADF`; with Rust's I/O safety a closed source
    /// cannot be passed to [`unregister`](Self::unregister), hence this
    /// method.)
    pub fn unregister_closed(&mut self, fd: RawSource) -> Result<D, SelectorError> {
        let key = self
            .keys
            .remove(&fd)
            .ok_or(SelectorError::NotRegistered(fd))?;
        self.sys.forget(fd);
        Ok(key.data)
    }

    /// The key of `source` (a socket, or a raw descriptor: `&fd`).
    pub fn get_key(&self, source: &impl AsRawSource) -> Result<&SelectorKey<D>, SelectorError> {
        let fd = source.as_raw_source();
        self.keys.get(&fd).ok_or(SelectorError::NotRegistered(fd))
    }

    /// Every key, by descriptor (Python's `get_map()`).
    pub fn get_map(&self) -> &HashMap<RawSource, SelectorKey<D>> {
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
    ) -> io::Result<Vec<(RawSource, Interest)>> {
        let mut ready = Vec::new();
        self.select_into(timeout, &mut ready)?;
        Ok(ready)
    }

    /// [`select_ready`](Self::select_ready) into a list the caller reuses
    /// (cleared first): no allocation per wake-up. Returns how many are ready.
    pub fn select_into(
        &mut self,
        timeout: Option<Duration>,
        ready: &mut Vec<(RawSource, Interest)>,
    ) -> io::Result<usize> {
        ready.clear();
        // A timeout too large to add is no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut wait = timeout;
        loop {
            let keys = &self.keys;
            let reported = self.sys.wait(wait, keys.len(), |fd, events| {
                // A key may be missing: a stale registration of a closed
                // descriptor (see the module docs).
                let Some(registered) = keys.get(&fd) else {
                    return;
                };
                // Keep what was asked for, as CPython does.
                let events = events & registered.interest;
                if !events.is_empty() {
                    ready.push((fd, events));
                }
            });
            let woken = match reported {
                Ok(woken) => woken,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                Err(e) => return Err(e),
            };
            if !ready.is_empty() || woken || wait == Some(Duration::ZERO) {
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
                wait = Some(deadline - now);
            }
        }
    }

    /// A handle that wakes this selector's `select` from another thread
    /// (for shutdown). It does nothing once the selector is closed.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            waker: self.sys.waker(),
        }
    }

    /// Closes the selector (its kernel objects) and returns the keys still
    /// registered, whose sources the caller may now close.
    pub fn close(self) -> Vec<SelectorKey<D>> {
        self.keys.into_values().collect()
    }
}

/// `source`, borrowed, and its number; [`SelectorError::EmptyInterest`] if
/// `interest` is empty (what `register` and `modify` refuse first).
fn with_interest(
    source: &impl Source,
    interest: Interest,
) -> Result<(BorrowedSource<'_>, RawSource), SelectorError> {
    let source = source.as_source();
    let fd = source.as_raw_source();
    if interest.is_empty() {
        return Err(SelectorError::EmptyInterest(fd));
    }
    Ok((source, fd))
}

impl<D, B: Backend> fmt::Debug for BaseSelector<D, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fds: Vec<_> = self.keys.values().map(|k| (k.fd, k.interest)).collect();
        fds.sort_by_key(|&(fd, _)| fd);
        f.debug_struct(B::NAME).field("registered", &fds).finish()
    }
}

/// Wakes a selector's `select` from any thread: its `select` returns (with
/// what is ready, maybe nothing). Cheap to clone; `Send + Sync`.
///
/// It costs one system call: a `write` to the selector's eventfd (epoll) or
/// wake-up socket (poll, select), or `Poller::notify` (polling).
#[derive(Clone)]
pub struct Notifier {
    /// Weak: a notifier does not keep a closed selector's wake-up open.
    pub(super) waker: Weak<dyn Wake>,
}

impl Notifier {
    /// Wakes the current or the next `select`. After the selector is closed
    /// it does nothing.
    pub fn notify(&self) -> io::Result<()> {
        match self.waker.upgrade() {
            Some(waker) => waker.wake(),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("selector_open", &(self.waker.strong_count() > 0))
            .finish()
    }
}
