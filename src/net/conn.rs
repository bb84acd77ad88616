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
//! Admission, limits, idle deadlines and closing are the
//! [connection core](super::core)'s, for this connection as for io_uring's.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use super::core::Connection;
use super::{protocol, ServerConfig, ServerStats};
use crate::selector::Interest;

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

impl Connection for Conn {
    /// Wraps an accepted stream: non-blocking, Nagle off (a reply goes out
    /// at once, not after the peer's delayed ACK).
    fn open(stream: TcpStream, serial: u64, now: Instant) -> io::Result<Conn> {
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

    fn serial(&self) -> u64 {
        self.serial
    }

    fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// One last non-blocking write of the pending replies.
    fn flush_before_close(&mut self, stats: &mut ServerStats) {
        let _ = self.flush(stats, Instant::now());
    }
}

impl Conn {
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

    // Used by the sigio model (Linux only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    /// For edge-triggered notifications (signals), which say only that
    /// something changed: reads and writes until neither makes progress, so
    /// that nothing the kernel holds waits for a notification that will not
    /// come again.
    pub(crate) fn drive(
        &mut self,
        scratch: &mut [u8],
        config: &ServerConfig,
        stats: &mut ServerStats,
        now: Instant,
    ) -> Next {
        loop {
            let before = (stats.bytes_in, stats.bytes_out, self.peer_closed);
            let next = self.on_ready(
                Interest::READ | Interest::WRITE,
                scratch,
                config,
                stats,
                now,
            );
            if next == Next::Close || (stats.bytes_in, stats.bytes_out, self.peer_closed) == before
            {
                return next;
            }
        }
    }

    /// Writes pending replies (the socket is writable, or we are polling it).
    pub(crate) fn on_writable(&mut self, stats: &mut ServerStats, now: Instant) -> Next {
        match self.flush(stats, now) {
            Ok(()) => self.next(),
            Err(_) => Next::Close,
        }
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
