//! The reactor: which sources a loop's tasks wait on, over the crate's
//! [`Selector`](crate::selector::Selector). This file is the only place in
//! `asyncio` that names the selector (and the only one, with the streams,
//! that names `AsFd`: on Windows the selector takes sockets).
//!
//! Every source is registered **level-triggered**, and only for the
//! directions somebody waits for:
//!
//! - a task that finds a source not ready stores its waker here and, if the
//!   direction is not armed yet, the source is registered (or `modify`'d)
//!   for it: one `epoll_ctl`, then none while the interest stays the same;
//! - a readiness report wakes the waiting task and remembers the direction
//!   as *ready*, so the task's next attempt goes straight to the system
//!   call; the task says [`clear_ready`](Reactor::clear_ready) when the call
//!   would block (or read short: the socket is then most likely drained;
//!   if it is not, the level-triggered selector reports it again at once,
//!   which costs one more `epoll_wait`, never a lost wake-up);
//! - a report for a direction nobody waits for disarms that direction (or
//!   unregisters the source), so that a task busy elsewhere (waiting in
//!   `drain`, say) does not make the selector report its socket over and
//!   over: the loop never spins on a level-triggered source.
//!
//! In the echo server's steady state this makes a request cost what the
//! selector server's does: one share of an `epoll_wait`, a `read`, a
//! `write`, and no `epoll_ctl`.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::precise_timer::{PreciseTimer, PRECISE_WITHIN};
use crate::selector::{Interest, Selector};

/// Wakes a loop's `select` from any thread (the selector's notifier).
pub(crate) type Notifier = crate::selector::Notifier;

/// One way a source can be waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Readable (or a connection to accept, or EOF, or an error).
    Read,
    /// Writable (or an error).
    Write,
}

impl Direction {
    fn interest(self) -> Interest {
        match self {
            Direction::Read => Interest::READ,
            Direction::Write => Interest::WRITE,
        }
    }
}

/// A registered source: its descriptor number and the generation of that
/// number's slot (a stale key of a closed source finds nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoKey {
    fd: RawFd,
    generation: u32,
}

/// What the reactor knows of one source.
struct Source {
    generation: u32,
    /// The directions registered with the selector (empty: not registered).
    armed: Interest,
    /// The directions last reported ready and not cleared since; both at
    /// first, so that a new source's first call is tried at once.
    ready: Interest,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// A loop's sources, by descriptor number, over its selector.
pub(crate) struct Reactor {
    sel: Selector<()>,
    /// Indexed by descriptor number (small integers, reused at once).
    sources: Vec<Option<Source>>,
    /// The generation of each number's last registration.
    generations: Vec<u32>,
    /// Reused by every turn.
    events: Vec<(RawFd, Interest)>,
    /// Sources with an armed direction.
    armed: usize,
    /// Sub-millisecond wake-ups (see `precise_timer.rs`), registered in
    /// `sel` for `READ` under its own descriptor number; `None` where the
    /// platform has none.
    precise: Option<(PreciseTimer, RawFd)>,
}

impl Reactor {
    /// A reactor over a new selector.
    pub(crate) fn new() -> io::Result<Reactor> {
        let mut sel = Selector::new()?;
        let precise = PreciseTimer::new().and_then(|timer| {
            let fd = timer.as_fd().as_raw_fd();
            sel.register(&timer, Interest::READ, ()).ok()?;
            Some((timer, fd))
        });
        Ok(Reactor {
            sel,
            sources: Vec::new(),
            generations: Vec::new(),
            events: Vec::new(),
            armed: 0,
            precise,
        })
    }

    /// The handle that wakes this reactor's [`turn`](Self::turn) from any
    /// thread.
    pub(crate) fn notifier(&self) -> Notifier {
        self.sel.notifier()
    }

    /// Starts tracking `source` (no system call yet: a direction is armed
    /// when a task first waits for it). The caller must
    /// [`deregister`](Self::deregister) it before closing it.
    pub(crate) fn register(&mut self, source: &impl AsFd) -> io::Result<IoKey> {
        let fd = source.as_fd().as_raw_fd();
        let index = usize::try_from(fd)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "negative descriptor"))?;
        if index >= self.sources.len() {
            self.sources.resize_with(index + 1, || None);
            self.generations.resize(index + 1, 0);
        }
        if self.sources[index].is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("fd {fd} is already registered with this event loop"),
            ));
        }
        self.generations[index] = self.generations[index].wrapping_add(1);
        let generation = self.generations[index];
        self.sources[index] = Some(Source {
            generation,
            armed: Interest::empty(),
            ready: Interest::BOTH,
            reader: None,
            writer: None,
        });
        Ok(IoKey { fd, generation })
    }

    fn source(&mut self, key: IoKey) -> io::Result<&mut Source> {
        self.sources
            .get_mut(key.fd as usize)
            .and_then(Option::as_mut)
            .filter(|s| s.generation == key.generation)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the source is no longer registered with the event loop",
                )
            })
    }

    /// Ready if `direction` was reported (and not cleared since); otherwise
    /// stores the task's waker, arms the direction if needed, and returns
    /// `Pending`.
    pub(crate) fn poll_ready(
        &mut self,
        key: IoKey,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let source = match self.source(key) {
            Ok(source) => source,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let wanted = direction.interest();
        if source.ready.contains(wanted) {
            return Poll::Ready(Ok(()));
        }
        let slot = match direction {
            Direction::Read => &mut source.reader,
            Direction::Write => &mut source.writer,
        };
        match slot {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        if !source.armed.contains(wanted) {
            let new = source.armed | wanted;
            if let Err(e) = self.arm(key.fd, new) {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Pending
    }

    /// The last call in `direction` would block (or read short): wait for
    /// the next report before trying again.
    pub(crate) fn clear_ready(&mut self, key: IoKey, direction: Direction) {
        if let Ok(source) = self.source(key) {
            source.ready = Interest::from_bits(source.ready.bits() & !direction.interest().bits())
                .unwrap_or_default();
        }
    }

    /// Stops tracking the source of `key`; call it before the source is
    /// closed. A task still waiting on it is not woken (its waker is
    /// dropped): deregister a source only when nobody uses it any more.
    pub(crate) fn deregister(&mut self, key: IoKey, source: &impl AsFd) {
        let Some(slot) = self.sources.get_mut(key.fd as usize) else {
            return;
        };
        if slot
            .as_ref()
            .is_some_and(|s| s.generation == key.generation)
        {
            let removed = slot.take().expect("checked just above");
            if !removed.armed.is_empty() {
                self.armed -= 1;
                let _ = self.sel.unregister(source);
            }
        }
    }

    /// Waits for readiness (at most `timeout`; `None`: until a source is
    /// ready or a notifier rings) and pushes the wakers of the tasks whose
    /// sources became ready onto `woken` (the caller wakes them, after
    /// releasing the reactor).
    ///
    /// A timeout under [`PRECISE_WITHIN`] (and not zero) also arms the
    /// precise timer, so the wait ends when it is due rather than at the
    /// next whole millisecond (the selector's own timeout, rounded up,
    /// stays as the backstop).
    pub(crate) fn turn(
        &mut self,
        timeout: Option<Duration>,
        woken: &mut Vec<Waker>,
    ) -> io::Result<()> {
        if let (Some((timer, _)), Some(t)) = (&self.precise, timeout) {
            if !t.is_zero() && t < PRECISE_WITHIN {
                // A failure leaves the millisecond timeout: at worst late.
                let _ = timer.arm(t);
            }
        }
        let mut events = std::mem::take(&mut self.events);
        let result = self.sel.select_into(timeout, &mut events);
        for &(fd, reported) in &events {
            if let Some((timer, timer_fd)) = &self.precise {
                if fd == *timer_fd {
                    timer.clear();
                    continue;
                }
            }
            let Some(Some(source)) = self.sources.get_mut(fd as usize) else {
                continue;
            };
            source.ready |= reported;
            let mut unwanted = Interest::empty();
            if reported.is_readable() {
                match source.reader.take() {
                    Some(waker) => woken.push(waker),
                    None => unwanted |= Interest::READ,
                }
            }
            if reported.is_writable() {
                match source.writer.take() {
                    Some(waker) => woken.push(waker),
                    None => unwanted |= Interest::WRITE,
                }
            }
            if !unwanted.is_empty() {
                let keep =
                    Interest::from_bits(source.armed.bits() & !unwanted.bits()).unwrap_or_default();
                // A failure leaves the old interest: at worst one more report.
                let _ = self.arm(fd, keep);
            }
        }
        // Armed and not fired (IO came first): it fires later, harmlessly
        // (one extra wake-up), unless a later turn re-arms it first.
        self.events = events;
        result.map(|_| ())
    }

    /// Registers, modifies or unregisters `fd` so that exactly `interest` is
    /// armed.
    fn arm(&mut self, fd: RawFd, interest: Interest) -> io::Result<()> {
        let Some(Some(source)) = self.sources.get_mut(fd as usize) else {
            return Ok(());
        };
        // SAFETY: a registered source stays open until it is deregistered
        // (the contract of `register`, kept by every caller: the streams
        // and the server deregister in their `Drop` before the socket
        // closes), so `fd` is an open descriptor for this call.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let was = source.armed;
        if was == interest {
            return Ok(());
        }
        if interest.is_empty() {
            self.sel.unregister(&borrowed)?;
            self.armed -= 1;
        } else if was.is_empty() {
            self.sel.register(&borrowed, interest, ())?;
            self.armed += 1;
        } else {
            self.sel.modify(&borrowed, interest, ())?;
        }
        source.armed = interest;
        Ok(())
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("sources", &self.sources.iter().flatten().count())
            .field("armed", &self.armed)
            .finish()
    }
}
