//! The connection core every event-loop model shares: how a connection is
//! admitted, counted, timed out and closed, and what is counted of it.
//!
//! A model differs only in how it learns that a socket is ready (busy-poll,
//! `select(2)`, `poll(2)`, a selector, signals, io_uring completions); what
//! it does then goes through [`Conns`]:
//!
//! - **accept** ([`Conns::accept_batch`], or [`Conns::admit`] for a model
//!   whose kernel accepts for it): up to [`ACCEPT_BATCH`] per turn; out of
//!   descriptors or memory, a pause ([`ACCEPT_PAUSE`]) instead of a spin;
//! - **limits**: one [`Admit`] decides, for all the loops of a server (one
//!   per thread, or one per process), whether a new connection is served
//!   (`max_connections`) or closed at once (counted in `refused`), and keeps
//!   the peak;
//! - **idle**: one [`IdleTimer`] heap per loop, touched only when an entry
//!   comes due, so a request costs no timer work; [`Conns::timeout`] is the
//!   time to the next deadline (idle or end of an accept pause);
//! - **close**: [`Conns::close`] hands the connection back (the model
//!   unregisters it from its selector before it drops), releases its slot;
//!   [`Conns::close_all`] makes one last write of what is pending;
//! - **stats**: [`ServerStats`], with the peak from the admission.
//!
//! The connection type is the model's: the readiness models use
//! [`Conn`](super::conn::Conn) (its buffers and its read/write rules);
//! io_uring has its own, since the kernel does its reads and writes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::{os, ServerConfig, ServerStats};

/// How many connections an event loop accepts per turn, so that a flood of
/// connections does not starve the open ones.
pub(crate) const ACCEPT_BATCH: usize = 64;

/// How long to stop accepting after running out of descriptors or memory.
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What to do with an accept error: `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` →
/// `Some(pause)`: stop accepting for a moment instead of spinning (the
/// pending connection stays readable on the listener, so retrying at once
/// would fail again at once); anything else (`ECONNABORTED`, `EINTR`,
/// `WouldBlock`, a peer that reset before we accepted...) → `None`: go on.
pub(crate) fn accept_pause(e: &io::Error) -> Option<Duration> {
    os::is_exhaustion(e).then_some(ACCEPT_PAUSE)
}

/// The one decision of `max_connections`, shared by every loop of a server:
/// a new connection is served if [`try_admit`](Self::try_admit) says so, and
/// [`release`](Self::release)d when it closes.
pub(crate) trait Admit: Sync {
    /// Counts one more connection if there is room; false if the server is
    /// full.
    fn try_admit(&self) -> bool;
    /// Counts one connection closed.
    fn release(&self);
    /// The most connections open at once.
    fn peak(&self) -> usize;
}

/// The [`Admit`] of the loops of one process: two atomic counters.
#[derive(Debug)]
pub(crate) struct ConnCount {
    open: AtomicUsize,
    peak: AtomicUsize,
    max: usize,
}

impl ConnCount {
    /// No connection open yet; at most `max`.
    pub(crate) fn new(max: usize) -> Self {
        ConnCount {
            open: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            max,
        }
    }
}

impl Admit for ConnCount {
    fn try_admit(&self) -> bool {
        // Relaxed: a plain counter; no other memory is published through it.
        let before = self.open.fetch_add(1, Relaxed);
        if before >= self.max {
            self.open.fetch_sub(1, Relaxed);
            return false;
        }
        self.peak.fetch_max(before + 1, Relaxed);
        true
    }

    fn release(&self) {
        self.open.fetch_sub(1, Relaxed);
    }

    fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }
}

/// What the core needs of a model's connection.
pub(crate) trait Connection: Sized {
    /// Wraps a just-accepted stream (non-blocking, Nagle off, ...).
    fn open(stream: TcpStream, serial: u64, now: Instant) -> io::Result<Self>;
    /// Tells this connection from an earlier one in the same slot.
    fn serial(&self) -> u64;
    /// The last read or write of at least one byte (or the accept).
    fn last_activity(&self) -> Instant;
    /// One last attempt to write what is pending, at shutdown.
    fn flush_before_close(&mut self, _stats: &mut ServerStats) {}

    /// When this connection times out if nothing happens before.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        self.last_activity() + timeout
    }
}

/// What one [`Conns::accept_batch`] turn found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptTurn {
    /// The listener has nothing more waiting (`accept` said `EWOULDBLOCK`).
    Drained,
    /// A whole batch was accepted: more may wait (an edge-triggered model
    /// must come back without waiting for a new notification).
    More,
    /// Out of descriptors or memory: no accept until
    /// [`Conns::accepting`] says so again.
    Paused,
}

/// The open connections of one event loop, with the server's limits, the
/// idle deadlines and the counts: see the module docs.
pub(crate) struct Conns<'a, C> {
    slab: Slab<C>,
    idle: IdleTimer,
    admission: &'a dyn Admit,
    config: &'a ServerConfig,
    stats: ServerStats,
    /// Set while `accept` fails for lack of descriptors: no accept until then.
    accept_paused_until: Option<Instant>,
    /// The serial of the next connection.
    next_serial: u64,
}

impl<'a, C: Connection> Conns<'a, C> {
    /// No connection yet; `admission` decides for every loop of the server.
    pub(crate) fn new(config: &'a ServerConfig, admission: &'a dyn Admit) -> Self {
        Conns {
            slab: Slab::default(),
            idle: IdleTimer::new(config.idle_timeout),
            admission,
            config,
            stats: ServerStats::default(),
            accept_paused_until: None,
            next_serial: 0,
        }
    }

    /// The server's settings.
    pub(crate) fn config(&self) -> &'a ServerConfig {
        self.config
    }

    /// The counts so far.
    pub(crate) fn stats_mut(&mut self) -> &mut ServerStats {
        &mut self.stats
    }

    /// Connection `id`, if open.
    // Used by the Linux-only models (sigio, uring).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn get(&self, id: usize) -> Option<&C> {
        self.slab.get(id)
    }

    /// Connection `id`, if open, with the counts (to add its bytes).
    pub(crate) fn get_mut(&mut self, id: usize) -> Option<(&mut C, &mut ServerStats)> {
        Some((self.slab.get_mut(id)?, &mut self.stats))
    }

    /// How many are open.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// One more than the largest id in use: `0..slots()` covers every id.
    pub(crate) fn slots(&self) -> usize {
        self.slab.slots()
    }

    /// The open connections with their ids.
    // Used by the Unix-only models (select, poll, sigio, uring).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &C)> {
        self.slab.iter()
    }

    /// False during an accept pause (out of descriptors); ends the pause once
    /// it is over.
    pub(crate) fn accepting(&mut self, now: Instant) -> bool {
        match self.accept_paused_until {
            Some(until) if now < until => false,
            Some(_) => {
                self.accept_paused_until = None;
                true
            }
            None => true,
        }
    }

    /// Admits `stream` (accepted by the caller, or by the kernel for it):
    /// served if the server has room and `setup(id, &conn)` (register it,
    /// say) succeeds; otherwise closed at once and counted in `refused`.
    pub(crate) fn admit(
        &mut self,
        stream: TcpStream,
        now: Instant,
        setup: impl FnOnce(usize, &mut C) -> bool,
    ) -> Option<usize> {
        self.next_serial += 1;
        let Ok(conn) = C::open(stream, self.next_serial, now) else {
            return None; // could not be set up: it failed before we got it
        };
        if !self.admission.try_admit() {
            // Dropping the stream closes it: the client reads EOF.
            self.stats.refused += 1;
            return None;
        }
        let id = self.slab.insert(conn);
        let conn = self.slab.get_mut(id).expect("just inserted");
        if !setup(id, conn) {
            // Refused after all (select(2) cannot watch a descriptor past
            // FD_SETSIZE, say): closed at once.
            self.slab.remove(id);
            self.admission.release();
            self.stats.refused += 1;
            return None;
        }
        self.stats.accepted += 1;
        let conn = self.slab.get(id).expect("just inserted");
        self.idle.track(id, conn, &self.slab);
        Some(id)
    }

    /// Accepts up to [`ACCEPT_BATCH`] connections from the non-blocking
    /// `listener` (nothing during an accept pause), each through
    /// [`admit`](Self::admit) with `setup`.
    pub(crate) fn accept_batch(
        &mut self,
        listener: &TcpListener,
        now: Instant,
        mut setup: impl FnMut(usize, &mut C) -> bool,
    ) -> AcceptTurn {
        if !self.accepting(now) {
            return AcceptTurn::Paused;
        }
        for _ in 0..ACCEPT_BATCH {
            match listener.accept() {
                Ok((stream, _peer)) => {
                    self.admit(stream, now, &mut setup);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return AcceptTurn::Drained,
                Err(e) => {
                    // ECONNABORTED and the like: that one is gone, go on.
                    if let Some(pause) = accept_pause(&e) {
                        self.accept_paused_until = Some(now + pause);
                        return AcceptTurn::Paused;
                    }
                }
            }
        }
        AcceptTurn::More
    }

    /// Takes connection `id` out and frees its slot; the caller drops it
    /// (after unregistering it, for a selector).
    pub(crate) fn close(&mut self, id: usize) -> Option<C> {
        let conn = self.slab.remove(id)?;
        self.admission.release();
        Some(conn)
    }

    /// The next connection idle for the whole timeout at `now`, closed
    /// (counted in `closed_idle`), with the id it had; call until `None`.
    pub(crate) fn expire_idle(&mut self, now: Instant) -> Option<(usize, C)> {
        let id = self.idle.pop_expired(&self.slab, now)?;
        self.stats.closed_idle += 1;
        Some((id, self.close(id)?))
    }

    /// Starts an accept pause (out of descriptors), for a model whose
    /// kernel accepts for it (uring, Linux only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn pause_accept(&mut self, now: Instant) {
        self.accept_paused_until = Some(now + ACCEPT_PAUSE);
    }

    /// The time from `now` to the next thing the loop must do by itself: an
    /// idle deadline, or the end of an accept pause (`None`: nothing, wait
    /// without limit).
    pub(crate) fn timeout(&self, now: Instant) -> Option<Duration> {
        [self.idle.next_deadline(), self.accept_paused_until]
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(now))
    }

    /// At shutdown: one last write of what is pending, `each` (to
    /// unregister), then close them all.
    pub(crate) fn close_all(&mut self, mut each: impl FnMut(&mut C)) {
        let ids: Vec<usize> = self.slab.iter().map(|(id, _)| id).collect();
        for id in ids {
            if let Some(mut conn) = self.close(id) {
                conn.flush_before_close(&mut self.stats);
                each(&mut conn);
            }
        }
    }

    /// The counts, with the peak of the whole server.
    pub(crate) fn finish(mut self) -> ServerStats {
        self.close_all(|_| {});
        self.stats.peak_connections = self.admission.peak();
        self.stats
    }
}

/// Adds the counts of the loops of one server (their peak is the server's).
pub(crate) fn total(all: impl IntoIterator<Item = ServerStats>) -> ServerStats {
    let mut total = ServerStats::default();
    for stats in all {
        total.accepted += stats.accepted;
        total.refused += stats.refused;
        total.closed_idle += stats.closed_idle;
        total.bytes_in += stats.bytes_in;
        total.bytes_out += stats.bytes_out;
        total.peak_connections = total.peak_connections.max(stats.peak_connections);
    }
    total
}

/// Open connections by small integer id (the index of their slot, reused
/// after a close).
#[derive(Debug)]
pub(crate) struct Slab<C> {
    slots: Vec<Option<C>>,
    free: Vec<usize>,
    len: usize,
}

impl<C> Default for Slab<C> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<C> Slab<C> {
    /// Stores `conn` and returns its id.
    pub(crate) fn insert(&mut self, conn: C) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(id) => {
                self.slots[id] = Some(conn);
                id
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        }
    }

    /// Takes connection `id` out.
    pub(crate) fn remove(&mut self, id: usize) -> Option<C> {
        let conn = self.slots.get_mut(id)?.take()?;
        self.free.push(id);
        self.len -= 1;
        Some(conn)
    }

    /// Connection `id`, if open.
    pub(crate) fn get(&self, id: usize) -> Option<&C> {
        self.slots.get(id)?.as_ref()
    }

    /// Connection `id`, if open.
    pub(crate) fn get_mut(&mut self, id: usize) -> Option<&mut C> {
        self.slots.get_mut(id)?.as_mut()
    }

    /// How many are open.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// One more than the largest id in use.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The open connections with their ids.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &C)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, slot)| Some((id, slot.as_ref()?)))
    }
}

/// The idle deadlines of a [`Slab`]'s connections, earliest first, without
/// touching them on every request.
///
/// Each open connection has one entry, made when it is tracked. Activity
/// only moves `last_activity`; when an entry comes due, the connection is
/// either idle (expired) or its entry is pushed again at its real deadline.
/// Entries of closed connections are skipped when they come due, and the
/// heap is rebuilt when they outnumber the live ones.
#[derive(Debug)]
pub(crate) struct IdleTimer {
    timeout: Option<Duration>,
    /// (deadline, slab id, serial of the connection).
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl IdleTimer {
    /// A timer for `timeout` (`None`: connections never time out).
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        IdleTimer {
            timeout,
            heap: BinaryHeap::new(),
        }
    }

    /// Starts watching the connection just inserted as `id`.
    pub(crate) fn track<C: Connection>(&mut self, id: usize, conn: &C, slab: &Slab<C>) {
        let Some(timeout) = self.timeout else { return };
        self.heap
            .push(Reverse((conn.idle_deadline(timeout), id, conn.serial())));
        if self.heap.len() > 2 * slab.len() + 64 {
            self.heap = slab
                .iter()
                .map(|(id, c)| Reverse((c.idle_deadline(timeout), id, c.serial())))
                .collect();
        }
    }

    /// The earliest deadline that may be due (maybe early: the connection
    /// may have been active since, or closed).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _, _))| *deadline)
    }

    /// The next connection idle for the whole timeout at `now`, if any.
    pub(crate) fn pop_expired<C: Connection>(
        &mut self,
        slab: &Slab<C>,
        now: Instant,
    ) -> Option<usize> {
        let timeout = self.timeout?;
        while let Some(&Reverse((deadline, id, serial))) = self.heap.peek() {
            if deadline > now {
                return None;
            }
            self.heap.pop();
            let Some(conn) = slab.get(id).filter(|c| c.serial() == serial) else {
                continue; // closed since
            };
            let real = conn.idle_deadline(timeout);
            if real <= now {
                return Some(id);
            }
            self.heap.push(Reverse((real, id, serial)));
        }
        None
    }
}
