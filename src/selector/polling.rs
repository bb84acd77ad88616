//! [`Polling`]: the `polling` crate's `Poller`, on every platform: kqueue on
//! macOS and the BSDs (Python's `KqueueSelector`), IOCP on Windows, epoll on
//! Linux; registered level-triggered (`PollMode::Level`), as Python's
//! selectors are.
//!
//! The kernel keeps the watched set (kqueue, epoll; IOCP through the `AFD`
//! driver), so a wait costs the number of ready sources, like epoll's; but
//! `polling` adds work of its own around each wait (on Linux a timerfd for
//! the timeout and an eventfd for `notify`: about five system calls per
//! wait instead of one, which is why Linux's default is
//! [`Epoll`](super::Epoll)).
//!
//! kqueue watches reading and writing with two filters, so one source may
//! come back as two events: they are merged here, one report per source,
//! as the other backends give.

use std::collections::HashMap;
use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicBool;
// Release/Acquire: `notified` is a flag, published before `Poller::notify`
// and taken after the wait it ended.
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::{Arc, Weak};
use std::time::Duration;

use polling::{Event, Events, PollMode, Poller};

use self::exclusive::Exclusive;
use super::backend::{Backend, BackendKind, Sys, Wake};
use super::{AsRawSource, BorrowedSource, Interest, RawSource, SelectorError};

/// The `polling` backend of [`PollingSelector`](super::PollingSelector).
pub struct Polling {
    /// Shared (weakly) with the notifiers.
    shared: Arc<Shared>,
    /// Where a wait writes; cleared before each.
    events: Exclusive<Events>,
    /// One wait's reports merged by source (kqueue splits read and write).
    merged: Vec<(RawSource, Interest)>,
    /// Where each source's report is in `merged`, during the merge.
    position: HashMap<RawSource, usize>,
}

/// The poller and whether a [`Notifier`](super::Notifier) woke it.
struct Shared {
    poller: Poller,
    /// Set by `wake`, taken after a wait: `Poller::wait` does not say
    /// whether `notify` ended it.
    notified: AtomicBool,
}

impl Wake for Shared {
    fn wake(&self) -> io::Result<()> {
        self.notified.store(true, Release);
        self.poller.notify()
    }
}

/// The smallest event list a wait is given.
const MIN_EVENTS: usize = 64;

/// `polling`'s key of a source: its raw number (a descriptor, or a socket
/// that fits a `usize`, as every Windows socket does).
fn key_of(fd: RawSource) -> io::Result<usize> {
    usize::try_from(fd)
        .ok()
        .filter(|&key| key != usize::MAX) // reserved by polling
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("source {fd} does not fit polling's key"),
            )
        })
}

fn event(key: usize, interest: Interest) -> Event {
    Event::new(key, interest.is_readable(), interest.is_writable())
}

impl Sys for Polling {
    const NAME: &'static str = "PollingSelector";

    fn new() -> io::Result<Polling> {
        let poller = Poller::new()?;
        if !poller.supports_level() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the polling crate has no level-triggered mode on this platform",
            ));
        }
        let min = NonZeroUsize::new(MIN_EVENTS).expect("not zero");
        Ok(Polling {
            shared: Arc::new(Shared {
                poller,
                notified: AtomicBool::new(false),
            }),
            events: Exclusive::new(Events::with_capacity(min)),
            merged: Vec::new(),
            position: HashMap::new(),
        })
    }

    fn add(&mut self, source: BorrowedSource<'_>, interest: Interest) -> Result<(), SelectorError> {
        let fd = source.as_raw_source();
        let key = key_of(fd)?;
        // SAFETY: polling asks that the source be deleted from the poller
        // before it is dropped, which Python's API (ours) cannot enforce. A
        // source dropped first is no memory hazard: epoll and kqueue drop a
        // registration with the file's last descriptor, polling's IOCP
        // backend removes a socket on its AFD_POLL_LOCAL_CLOSE event, and
        // our keys are looked up by number, so a stale report is at worst a
        // spurious one (see the module docs, "unregister before closing").
        unsafe {
            self.shared
                .poller
                .add_with_mode(fd, event(key, interest), PollMode::Level)?;
        }
        Ok(())
    }

    fn modify(&mut self, source: BorrowedSource<'_>, interest: Interest) -> io::Result<()> {
        let key = key_of(source.as_raw_source())?;
        self.shared
            .poller
            .modify_with_mode(source, event(key, interest), PollMode::Level)
    }

    fn delete(&mut self, source: BorrowedSource<'_>) -> io::Result<()> {
        self.shared.poller.delete(source)
    }

    fn forget(&mut self, _fd: RawSource) {
        // The kernel (or polling, on Windows) dropped it with the source.
    }

    fn wait(
        &mut self,
        timeout: Option<Duration>,
        registered: usize,
        mut ready: impl FnMut(RawSource, Interest),
    ) -> io::Result<bool> {
        let events = self.events.get_mut();
        if registered + 1 > events.capacity().get() {
            let capacity = NonZeroUsize::new((registered + 1).next_power_of_two())
                .expect("a power of two is not zero");
            *events = Events::with_capacity(capacity);
        }
        events.clear();
        self.shared.poller.wait(events, timeout)?;
        let woken = self.shared.notified.swap(false, Acquire);
        if events.len() == 1 {
            if let Some(ev) = events.iter().next() {
                if let Ok(fd) = RawSource::try_from(ev.key) {
                    ready(fd, Interest::new(ev.readable, ev.writable));
                }
            }
            return Ok(woken);
        }
        self.merged.clear();
        self.position.clear();
        for ev in events.iter() {
            let Ok(fd) = RawSource::try_from(ev.key) else {
                continue;
            };
            let interest = Interest::new(ev.readable, ev.writable);
            match self.position.get(&fd) {
                Some(&i) => self.merged[i].1 |= interest,
                None => {
                    self.position.insert(fd, self.merged.len());
                    self.merged.push((fd, interest));
                }
            }
        }
        for &(fd, interest) in &self.merged {
            ready(fd, interest);
        }
        Ok(woken)
    }

    fn waker(&self) -> Weak<dyn Wake> {
        let shared: Arc<dyn Wake> = self.shared.clone();
        Arc::downgrade(&shared)
    }
}

impl Backend for Polling {
    const KIND: BackendKind = BackendKind::Polling;
}

mod exclusive {
    /// A value reachable only through `&mut` (std's unstable `Exclusive`):
    /// `Sync` whatever `T` is, since a shared reference gives no access to
    /// it. `polling::Events` is `!Sync` by choice ("intended to be used from
    /// &mut"), and this keeps the selectors `Sync` alike.
    pub(super) struct Exclusive<T>(T);

    impl<T> Exclusive<T> {
        pub(super) fn new(value: T) -> Self {
            Exclusive(value)
        }

        pub(super) fn get_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }

    // SAFETY: the field is private to this module and only `get_mut`
    // (through `&mut`, which is exclusive) reaches it: sharing an
    // `&Exclusive<T>` between threads shares nothing.
    unsafe impl<T: Send> Sync for Exclusive<T> {}
}
