//! **IO multiplexing with a selector**: one thread, one selector (the
//! platform's [`DefaultSelector`](crate::selector::DefaultSelector), or the
//! backend [`ServerConfig::selector`] names), the seed's `accept` and `read`
//! callbacks. The loop is generic over the backend ([`run`]), so each
//! backend gets its own statically dispatched copy: `--selector poll` runs
//! the same server on `poll(2)`, to measure what its scan costs.
//!
//! The article's claim: "the advantage of select/epoll is not that a single
//! connection is handled faster, but that more connections can be handled"
//! (select/epoll的优势并不是对于单个连接能处理得更快,而是在于能处理更多的连接).
//! And of epoll over select: "when awake, epoll only has to check whether
//! the ready list is empty" (epoll在“醒着”的时候只要判断一下就绪链表是否为空就行了):
//! the cost of a wake-up is the number of ready sockets, not of open ones.
//!
//! As in the seed, the data registered with each socket says what to do
//! when it is ready: [`Callback::Accept`] for the listener,
//! [`Callback::Conn`] (an index into the connections) for a client. A client
//! is watched for `READ` while its pending replies leave room (fewer than
//! `max_buffered` bytes) and for `WRITE` while replies wait: a client that
//! does not read is not read either. The wait's timeout is the time to the
//! next idle deadline; a shutdown wakes the wait through the selector's
//! [`Notifier`](crate::selector::Notifier).
//!
//! Cost, on epoll: two system calls per request at best (`read` and
//! `write`, plus a share of one `epoll_wait`; a `epoll_ctl` only when the
//! interest changes). On poll and select, each wait also hands the kernel
//! every connection and scans them all. The idle timeout costs no system call: the time to the next
//! idle deadline is the wait's timeout. No thread per
//! connection: an idle connection costs its socket and a few hundred bytes
//! (its slot, its selector key, its idle-timer entry; no buffer).
//! One core at most: [`selector_per_core`](super::selector_per_core) uses
//! the others.

use std::io;
use std::net::TcpListener;
use std::time::Instant;

use super::conn::{
    accept, timeout_until, Accepted, ConnCount, IdleTimer, Next, Slab, ACCEPT_BATCH,
};
use super::{ServerConfig, ServerStats, Shutdown};
use crate::selector::{Backend, BaseSelector, Interest};

/// The data registered with each socket: what to do when it is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Callback {
    /// The listener: accept new connections.
    Accept,
    /// Connection `id` of the slab: read, answer, write.
    Conn(usize),
}

/// Serves on the calling thread until `shutdown` is requested, on backend
/// `B` (`net::serve` picks it from `config.selector`).
pub(crate) fn serve<B: Backend>(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let count = ConnCount::new(config.max_connections);
    let sel = BaseSelector::<Callback, B>::new()?;
    let mut stats = run(sel, &listener, config, shutdown, &count)?;
    stats.peak_connections = count.peak();
    Ok(stats)
}

/// One event loop on a non-blocking `listener`, which other loops may share
/// (each with its own selector): `count` holds the connections of them all.
/// The selector is made by the caller, before any loop accepts: a loop that
/// started late could find every descriptor taken by the others' clients.
pub(crate) fn run<B: Backend>(
    mut sel: BaseSelector<Callback, B>,
    listener: &TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
    count: &ConnCount,
) -> io::Result<ServerStats> {
    shutdown.notify_on_request(sel.notifier());
    sel.register(listener, Interest::READ, Callback::Accept)?;
    let mut server = Loop {
        sel,
        listener,
        config,
        count,
        conns: Slab::default(),
        idle: IdleTimer::new(config.idle_timeout),
        stats: ServerStats::default(),
        scratch: vec![0; config.read_chunk.max(1)],
        accept_paused_until: None,
    };
    let result = server.run(shutdown);
    server.close_all();
    result.map(|()| server.stats)
}

struct Loop<'a, B: Backend> {
    sel: BaseSelector<Callback, B>,
    listener: &'a TcpListener,
    config: &'a ServerConfig,
    count: &'a ConnCount,
    conns: Slab,
    idle: IdleTimer,
    stats: ServerStats,
    /// Where every read lands: connections own no read buffer.
    scratch: Vec<u8>,
    /// Set while `accept` fails for lack of descriptors: the listener is out
    /// of the selector until then (level-triggered, it would wake us at once).
    accept_paused_until: Option<Instant>,
}

impl<B: Backend> Loop<'_, B> {
    fn run(&mut self, shutdown: &Shutdown) -> io::Result<()> {
        let mut ready = Vec::new();
        while !shutdown.is_requested() {
            let timeout = timeout_until(
                Instant::now(),
                [self.idle.next_deadline(), self.accept_paused_until],
            );
            self.sel.select_into(timeout, &mut ready)?;
            let now = Instant::now();
            for &(fd, events) in &ready {
                // A key may be gone: an earlier event of this round closed it.
                let Ok(key) = self.sel.get_key(&fd) else {
                    continue;
                };
                let callback = key.data;
                match callback {
                    Callback::Accept => self.on_accept(now)?,
                    Callback::Conn(id) => self.on_conn(id, events, now),
                }
            }
            if self.accept_paused_until.is_some_and(|until| now >= until) {
                self.sel
                    .register(self.listener, Interest::READ, Callback::Accept)?;
                self.accept_paused_until = None;
            }
            while let Some(id) = self.idle.pop_expired(&self.conns, now) {
                self.close(id);
                self.stats.closed_idle += 1;
            }
        }
        Ok(())
    }

    /// The seed's `accept` callback.
    fn on_accept(&mut self, now: Instant) -> io::Result<()> {
        for _ in 0..ACCEPT_BATCH {
            let count = self.count;
            match accept(self.listener, |_| count.try_admit(), &mut self.stats, now) {
                Accepted::New(conn) => {
                    let id = self.conns.insert(conn);
                    let conn = self.conns.get(id).expect("just inserted");
                    if self
                        .sel
                        .register(conn.stream(), Interest::READ, Callback::Conn(id))
                        .is_err()
                    {
                        // Refused after all (select(2) cannot watch a
                        // descriptor past FD_SETSIZE, say): closed at once.
                        self.conns.remove(id);
                        self.count.release();
                        self.stats.accepted -= 1;
                        self.stats.refused += 1;
                        continue;
                    }
                    self.idle.track(id, conn, &self.conns);
                }
                Accepted::Refused | Accepted::Failed => {}
                Accepted::Empty => break,
                Accepted::Pause(pause) => {
                    self.sel.unregister(self.listener)?;
                    self.accept_paused_until = Some(now + pause);
                    break;
                }
            }
        }
        Ok(())
    }

    /// The seed's `read` callback, and its missing half: write what is left.
    fn on_conn(&mut self, id: usize, events: Interest, now: Instant) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let next = conn.on_ready(events, &mut self.scratch, self.config, &mut self.stats, now);
        let interest = conn.interest(self.config);
        // Python's modify; the kernel is asked only if the interest changed.
        let keep = next == Next::Keep
            && self
                .sel
                .modify(conn.stream(), interest, Callback::Conn(id))
                .is_ok();
        if !keep {
            self.close(id);
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(conn) = self.conns.remove(id) {
            // Unregister before the socket closes (the selector's contract).
            let _ = self.sel.unregister(conn.stream());
            self.count.release();
        }
    }

    /// At shutdown: one last write of what is pending, then close everything.
    fn close_all(&mut self) {
        for mut conn in self.conns.drain() {
            conn.flush_before_close(&mut self.stats);
            let _ = self.sel.unregister(conn.stream());
            self.count.release();
        }
        if self.accept_paused_until.is_none() {
            let _ = self.sel.unregister(self.listener);
        }
    }
}
