//! The non-blocking connection that every readiness model drives: busy-poll,
//! selector, selector per core, `select(2)` and `poll(2)` differ only in how
//! they learn that a socket is ready; what they do then is here.
//!
//! The state of a [`Conn`] is its pending output (replies the socket has not
//! taken yet), whether the peer has closed its side, and when it last made
//! progress. The rules:
//!
//! - **Read** up to `read_chunk` bytes, but never more than keeps the pending
//!   output within `max_buffered`: a peer that does not read its replies is
//!   not read either (its bytes wait in the kernel, then its writes block),
//!   so no connection can make the server buffer without bound.
//! - **Respond** in place ([`protocol::respond`]) and **write** what the
//!   socket takes at once; keep the rest for the next writable event
//!   (partial writes).
//! - **Half-close**: after the peer's EOF, finish writing, then close.
//! - A reset (`ECONNRESET`, `EPIPE`) or any other error closes the
//!   connection, never the server.
//! - **Idle**: no byte read or written for `idle_timeout`. A peer that stops
//!   reading while replies wait makes no progress either, and is closed too.
//!
//! Bytes are read into a scratch buffer owned by the event loop, not by the
//! connection: an idle connection holds no buffer at all.
//!
//! [`Slab`] keeps the open connections by small integer id and [`IdleTimer`]
//! finds the next one to time out without scanning them all.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::{accept_pause, protocol, ServerConfig, ServerStats};
use crate::selector::Interest;

/// How many connections an event loop accepts per wake-up of the listener,
/// so that a flood of connections does not starve the open ones.
pub(crate) const ACCEPT_BATCH: usize = 64;

/// Pending output capacity kept for reuse once drained; a larger buffer is
/// freed, so that idle connections stay small.
const KEEP_CAPACITY: usize = 4 * 1024;

/// What the event loop does with a connection after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Keep it open; ask it again what it waits for.
    Keep,
    /// Close it: finished (EOF and all written), reset, or failed.
    Close,
}

/// One client connection, non-blocking.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    /// Replies not yet taken by the socket are `out[written..]`; at most
    /// `max_buffered` bytes.
    out: Vec<u8>,
    written: usize,
    /// The peer sent EOF (its write side is closed): read no more.
    peer_closed: bool,
    /// The last read or write of at least one byte (or the accept).
    last_activity: Instant,
    /// Tells this connection from an earlier one in the same slab slot.
    serial: u64,
}

impl Conn {
    /// Wraps an accepted stream: non-blocking, Nagle off (a reply goes out
    /// at once, not after the peer's delayed ACK).
    pub(crate) fn new(stream: TcpStream, serial: u64, now: Instant) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            out: Vec::new(),
            written: 0,
            peer_closed: false,
            last_activity: now,
            serial,
        })
    }

    /// The socket (to register it, or to get its descriptor).
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Bytes waiting to be written.
    pub(crate) fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// True while the peer may send more and the pending output leaves room.
    pub(crate) fn wants_read(&self, config: &ServerConfig) -> bool {
        !self.peer_closed && self.pending() < config.max_buffered.max(1)
    }

    /// True while replies wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.pending() > 0
    }

    /// What to wait for: never empty for an open connection (one that wants
    /// neither is finished and closed).
    pub(crate) fn interest(&self, config: &ServerConfig) -> Interest {
        let mut interest = Interest::empty();
        if self.wants_read(config) {
            interest |= Interest::READ;
        }
        if self.wants_write() {
            interest |= Interest::WRITE;
        }
        interest
    }

    /// When this connection times out if nothing happens before.
    pub(crate) fn idle_deadline(&self, timeout: Duration) -> Instant {
        self.last_activity + timeout
    }

    /// Reads once (the socket is readable, or we are polling it), answers,
    /// and writes what the socket takes.
    pub(crate) fn on_readable(
        &mut self,
        scratch: &mut [u8],
        config: &ServerConfig,
        stats: &mut ServerStats,
        now: Instant,
    ) -> Next {
        if !self.wants_read(config) {
            return self.next();
        }
        let room = (config.max_buffered.max(1) - self.pending()).min(scratch.len());
        let chunk = &mut scratch[..room];
        let n = loop {
            match (&self.stream).read(chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                // ECONNRESET and the like: nothing more to say to this peer.
                Err(_) => return Next::Close,
            }
        };
        if n == 0 {
            self.peer_closed = true;
            return self.next();
        }
        stats.bytes_in += n as u64;
        self.last_activity = now;
        let reply = &mut chunk[..n];
        protocol::respond(reply, config.mode);
        if self.pending() == 0 {
            // The fast path: straight from the scratch buffer to the socket.
            let Ok(sent) = write_some(&self.stream, reply, stats) else {
                return Next::Close;
            };
            self.keep(&reply[sent..]);
        } else {
            // Older replies first.
            self.keep(reply);
            if self.flush(stats, now).is_err() {
                return Next::Close;
            }
        }
        self.next()
    }

    /// Handles a readiness report: read if `events` says readable, then
    /// write if writable. `Close` also when nothing is left to wait for.
    pub(crate) fn on_ready(
        &mut self,
        events: Interest,
        scratch: &mut [u8],
        config: &ServerConfig,
        stats: &mut ServerStats,
        now: Instant,
    ) -> Next {
        let mut next = Next::Keep;
        if events.is_readable() {
            next = self.on_readable(scratch, config, stats, now);
        }
        if next == Next::Keep && events.is_writable() {
            next = self.on_writable(stats, now);
        }
        if self.interest(config).is_empty() {
            next = Next::Close;
        }
        next
    }

    /// True if the connection made no progress for `config.idle_timeout`.
    pub(crate) fn is_idle(&self, config: &ServerConfig, now: Instant) -> bool {
        config
            .idle_timeout
            .is_some_and(|timeout| self.idle_deadline(timeout) <= now)
    }

    /// Writes pending replies (the socket is writable, or we are polling it).
    pub(crate) fn on_writable(&mut self, stats: &mut ServerStats, now: Instant) -> Next {
        match self.flush(stats, now) {
            Ok(()) => self.next(),
            Err(_) => Next::Close,
        }
    }

    /// One last non-blocking write of the pending replies, at shutdown.
    pub(crate) fn flush_before_close(&mut self, stats: &mut ServerStats) {
        let _ = self.flush(stats, Instant::now());
    }

    fn next(&self) -> Next {
        if self.peer_closed && self.pending() == 0 {
            Next::Close
        } else {
            Next::Keep
        }
    }

    /// Appends bytes the socket did not take.
    fn keep(&mut self, rest: &[u8]) {
        if rest.is_empty() {
            return;
        }
        if self.written > 0 {
            self.out.drain(..self.written);
            self.written = 0;
        }
        self.out.extend_from_slice(rest);
    }

    fn flush(&mut self, stats: &mut ServerStats, now: Instant) -> io::Result<()> {
        if self.pending() == 0 {
            return Ok(());
        }
        let sent = write_some(&self.stream, &self.out[self.written..], stats)?;
        if sent > 0 {
            self.last_activity = now;
        }
        self.written += sent;
        if self.pending() == 0 {
            self.written = 0;
            if self.out.capacity() > KEEP_CAPACITY {
                self.out = Vec::new();
            } else {
                self.out.clear();
            }
        }
        Ok(())
    }
}

/// Writes until the socket would block or `bytes` are all sent; returns how
/// many were sent.
fn write_some(stream: &TcpStream, bytes: &[u8], stats: &mut ServerStats) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match (&*stream).write(&bytes[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                sent += n;
                stats.bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// The result of one [`accept`].
pub(crate) enum Accepted {
    /// A new connection to serve.
    New(Conn),
    /// Accepted and closed at once: over `max_connections`.
    Refused,
    /// No connection is waiting.
    Empty,
    /// Out of descriptors or memory: stop accepting for this long.
    Pause(Duration),
    /// A connection that failed before we got it (`ECONNABORTED`), or one we
    /// could not set up: go on.
    Failed,
}

/// One `accept(2)` on a non-blocking listener, with the limits applied:
/// `admit(&stream)` decides whether to serve the new connection (it is
/// called last, so that an admitted connection is always returned).
pub(crate) fn accept(
    listener: &TcpListener,
    admit: impl FnOnce(&TcpStream) -> bool,
    stats: &mut ServerStats,
    now: Instant,
) -> Accepted {
    match listener.accept() {
        Ok((stream, _peer)) => {
            let Ok(conn) = Conn::new(stream, stats.accepted, now) else {
                return Accepted::Failed;
            };
            if admit(conn.stream()) {
                stats.accepted += 1;
                Accepted::New(conn)
            } else {
                // Dropping the stream closes it: the client reads EOF.
                stats.refused += 1;
                Accepted::Refused
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Accepted::Empty,
        Err(e) => match accept_pause(&e) {
            Some(pause) => Accepted::Pause(pause),
            None => Accepted::Failed,
        },
    }
}

/// The number of open connections of a server, shared by its threads, with
/// the `max_connections` limit and the peak.
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

    /// Counts one more connection if there is room; false if the server is
    /// full.
    pub(crate) fn try_admit(&self) -> bool {
        // Relaxed: a plain counter; no other memory is published through it.
        let before = self.open.fetch_add(1, Relaxed);
        if before >= self.max {
            self.open.fetch_sub(1, Relaxed);
            return false;
        }
        self.peak.fetch_max(before + 1, Relaxed);
        true
    }

    /// Counts one connection closed.
    pub(crate) fn release(&self) {
        self.open.fetch_sub(1, Relaxed);
    }

    /// The most connections open at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }
}

/// Open connections by small integer id (the index of their slot, reused
/// after a close).
#[derive(Debug, Default)]
pub(crate) struct Slab {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    /// Stores `conn` and returns its id.
    pub(crate) fn insert(&mut self, conn: Conn) -> usize {
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

    /// Takes connection `id` out (to close it).
    pub(crate) fn remove(&mut self, id: usize) -> Option<Conn> {
        let conn = self.slots.get_mut(id)?.take()?;
        self.free.push(id);
        self.len -= 1;
        Some(conn)
    }

    /// Connection `id`, if open.
    pub(crate) fn get(&self, id: usize) -> Option<&Conn> {
        self.slots.get(id)?.as_ref()
    }

    /// Connection `id`, if open.
    pub(crate) fn get_mut(&mut self, id: usize) -> Option<&mut Conn> {
        self.slots.get_mut(id)?.as_mut()
    }

    /// How many are open.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// One more than the largest id in use: `0..slots()` covers every id.
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Accepts up to [`ACCEPT_BATCH`] connections into the slab, for the
    /// loops that keep their connections here rather than in a selector. A
    /// new connection is served if `admit(&stream)` and the slab is below
    /// `config.max_connections`. Returns when to try again if the server ran
    /// out of descriptors (stop accepting until then: no busy loop).
    pub(crate) fn accept_batch(
        &mut self,
        listener: &TcpListener,
        config: &ServerConfig,
        stats: &mut ServerStats,
        now: Instant,
        mut admit: impl FnMut(&TcpStream) -> bool,
    ) -> Option<Instant> {
        for _ in 0..ACCEPT_BATCH {
            let open = self.len();
            let admit = |stream: &TcpStream| admit(stream) && open < config.max_connections;
            match accept(listener, admit, stats, now) {
                Accepted::New(conn) => {
                    self.insert(conn);
                    stats.peak_connections = stats.peak_connections.max(self.len());
                }
                Accepted::Refused | Accepted::Failed => {}
                Accepted::Empty => break,
                Accepted::Pause(pause) => return Some(now + pause),
            }
        }
        None
    }

    /// Ends connection `id`'s turn: closes it when `next` says so, or when
    /// it has been idle for `config.idle_timeout` (counted in `closed_idle`).
    pub(crate) fn end_turn(
        &mut self,
        id: usize,
        mut next: Next,
        config: &ServerConfig,
        stats: &mut ServerStats,
        now: Instant,
    ) {
        if next == Next::Keep && self.get(id).is_some_and(|conn| conn.is_idle(config, now)) {
            stats.closed_idle += 1;
            next = Next::Close;
        }
        if next == Next::Close {
            self.remove(id);
        }
    }

    /// At shutdown: one last write of what is pending, then close them all.
    pub(crate) fn close_all(&mut self, stats: &mut ServerStats) {
        for mut conn in self.drain() {
            conn.flush_before_close(stats);
        }
    }

    /// The open connections with their ids.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, slot)| Some((id, slot.as_ref()?)))
    }

    /// Takes every connection out.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Conn> + '_ {
        self.free.clear();
        self.len = 0;
        self.slots.drain(..).flatten()
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
    pub(crate) fn track(&mut self, id: usize, conn: &Conn, slab: &Slab) {
        let Some(timeout) = self.timeout else { return };
        self.heap
            .push(Reverse((conn.idle_deadline(timeout), id, conn.serial)));
        if self.heap.len() > 2 * slab.len() + 64 {
            self.heap = slab
                .iter()
                .map(|(id, c)| Reverse((c.idle_deadline(timeout), id, c.serial)))
                .collect();
        }
    }

    /// The earliest deadline that may be due (maybe early: the connection
    /// may have been active since, or closed).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _, _))| *deadline)
    }

    /// The next connection idle for the whole timeout at `now`, if any.
    pub(crate) fn pop_expired(&mut self, slab: &Slab, now: Instant) -> Option<usize> {
        let timeout = self.timeout?;
        while let Some(&Reverse((deadline, id, serial))) = self.heap.peek() {
            if deadline > now {
                return None;
            }
            self.heap.pop();
            let Some(conn) = slab.get(id).filter(|c| c.serial == serial) else {
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

/// The time from `now` until the earliest of `deadlines`, for a wait's
/// timeout (`None`: no deadline, wait without limit).
pub(crate) fn timeout_until(
    now: Instant,
    deadlines: impl IntoIterator<Item = Option<Instant>>,
) -> Option<Duration> {
    deadlines
        .into_iter()
        .flatten()
        .min()
        .map(|d| d.saturating_duration_since(now))
}
