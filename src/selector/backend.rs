//! The seam between [`BaseSelector`](super::BaseSelector) and the operating
//! system: one small trait, [`Sys`], implemented once per backend file
//! (`epoll.rs`, `poll.rs`, `select.rs`, `polling.rs`), as the `polling`
//! crate puts one OS backend per file behind its `Poller`.
//!
//! A backend only talks to the kernel: add, modify and delete a descriptor,
//! wait once, and wake a wait from another thread. Everything Python's
//! selector does around that (the keys, the errors, masking the reported
//! events with the registered interest, waiting out the rest of a timeout
//! after a spurious return) is written once, in `base.rs`, and dispatched
//! statically: `EpollSelector<D>` is `BaseSelector<D, Epoll>`, so its
//! `select` compiles to the epoll code with no virtual call.

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Weak;
use std::time::Duration;

use super::{BorrowedSource, Interest, RawSource, SelectorError};

/// A selector backend: `Epoll` (Linux), `Poll`, `Select` (Unix) or
/// [`Polling`](super::Polling) (everywhere), the `B` of
/// [`BaseSelector<D, B>`](super::BaseSelector).
///
/// Sealed: implemented by this crate's backends only. Name it to write code
/// generic over the backend (as the lab's selector server is):
///
/// ```
/// use synclings::selector::{Backend, BaseSelector, Interest};
///
/// fn watch_listener<B: Backend>() -> std::io::Result<usize> {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
///     let mut sel = BaseSelector::<&str, B>::new()?;
///     sel.register(&listener, Interest::READ, "accept")?;
///     Ok(sel.len())
/// }
/// assert_eq!(watch_listener::<synclings::selector::Polling>()?, 1);
/// # std::io::Result::Ok(())
/// ```
pub trait Backend: Sys {
    /// Which backend this is.
    const KIND: BackendKind;
}

/// What a backend does; the methods [`BaseSelector`](super::BaseSelector)
/// calls. Not nameable outside the crate (it lives in a private module),
/// which seals [`Backend`].
pub trait Sys: Sized + Send + Sync + 'static {
    /// Python's class name, for `Debug` ("EpollSelector").
    const NAME: &'static str;

    /// A new instance with its wake-up mechanism in place.
    fn new() -> io::Result<Self>;

    /// Starts watching `source` for `interest` (never empty; the source is
    /// not registered yet).
    fn add(&mut self, source: BorrowedSource<'_>, interest: Interest) -> Result<(), SelectorError>;

    /// Changes what a registered `source` is watched for (never empty,
    /// never the current interest).
    fn modify(&mut self, source: BorrowedSource<'_>, interest: Interest) -> io::Result<()>;

    /// Stops watching a registered `source`.
    fn delete(&mut self, source: BorrowedSource<'_>) -> io::Result<()>;

    /// Forgets a registered descriptor that was closed without being
    /// deleted (no system call: there is no source left to pass).
    fn forget(&mut self, fd: RawSource);

    /// One wait of at most `timeout` (`None`: without limit; `Some(ZERO)`:
    /// a poll). Calls `ready(fd, events)` for each ready source, `events`
    /// not yet masked by its interest (a hang-up or an error counts as
    /// both), and returns true if a [`Wake::wake`] ended the wait (the
    /// wake-up is consumed). `registered` is how many sources are
    /// registered, so that one wait can report them all. May return early
    /// with nothing; an `Interrupted` error is a signal.
    fn wait(
        &mut self,
        timeout: Option<Duration>,
        registered: usize,
        ready: impl FnMut(RawSource, Interest),
    ) -> io::Result<bool>;

    /// What [`Notifier`](super::Notifier)s hold: weak, so that they do not
    /// keep a closed selector's descriptors open.
    fn waker(&self) -> Weak<dyn Wake>;
}

/// Ends a backend's current or next wait, from any thread.
pub trait Wake: Send + Sync {
    /// Wakes the current or the next wait.
    fn wake(&self) -> io::Result<()>;
}

/// A backend chosen at run time (`echo-server --selector NAME`): its name
/// and whether this platform has it. [`BackendKind::DEFAULT`] is
/// `DefaultSelector`'s.
///
/// ```
/// use synclings::selector::BackendKind;
///
/// let kind: BackendKind = "polling".parse()?;
/// assert_eq!(kind, BackendKind::Polling);
/// assert!(kind.is_available(), "polling exists on every platform");
/// assert!(BackendKind::DEFAULT.is_available());
/// assert!("kqueue".parse::<BackendKind>().is_err());
/// # Ok::<(), synclings::selector::UnknownBackend>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// `EpollSelector`: Linux's epoll (Linux, Android).
    Epoll,
    /// `PollSelector`: `poll(2)`, Unix.
    Poll,
    /// `SelectSelector`: `select(2)`, Unix.
    Select,
    /// `PollingSelector`: the `polling` crate, every platform.
    Polling,
}

impl BackendKind {
    /// Every backend, available here or not.
    pub const ALL: [BackendKind; 4] = [
        BackendKind::Epoll,
        BackendKind::Poll,
        BackendKind::Select,
        BackendKind::Polling,
    ];

    /// The command-line name: `epoll`, `poll`, `select`, `polling`.
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::Epoll => "epoll",
            BackendKind::Poll => "poll",
            BackendKind::Select => "select",
            BackendKind::Polling => "polling",
        }
    }

    /// Runs `job` with this backend's type, statically dispatched; an
    /// `Unsupported` error, changing nothing, if this platform lacks it.
    pub(crate) fn with<J: WithBackend>(self, job: J) -> io::Result<J::Output> {
        super::dispatch(self, job).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the {self} selector is not available on this platform: use {}",
                    BackendKind::DEFAULT
                ),
            )
        })
    }
}

impl Default for BackendKind {
    /// [`BackendKind::DEFAULT`].
    fn default() -> Self {
        BackendKind::DEFAULT
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A job generic over the backend, for [`BackendKind::with`] (a closure
/// cannot be generic over a type).
pub(crate) trait WithBackend {
    /// What the job returns.
    type Output;
    /// Runs the job on backend `B`.
    fn run<B: Backend>(self) -> Self::Output;
}

/// A name that is not one of [`BackendKind::ALL`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownBackend(pub String);

impl fmt::Display for UnknownBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown selector {:?}: use one of ", self.0)?;
        for (i, kind) in BackendKind::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownBackend {}

impl FromStr for BackendKind {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownBackend(s.to_owned()))
    }
}
