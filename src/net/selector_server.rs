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

use super::conn::{Conn, Next};
use super::core::{AcceptTurn, Admit, ConnCount, Conns};
use super::{selector_per_core, ServerConfig, ServerStats, Shutdown};
use crate::selector::{Backend, BaseSelector, Interest, WithBackend};

/// The data registered with each socket: what to do when it is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Callback {
    /// The listener: accept new connections.
    Accept,
    /// Connection `id` of the slab: read, answer, write.
    Conn(usize),
}

/// Serves on the calling thread until `shutdown` is requested, on the
/// backend `config.selector` names.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    on_backend(listener, config, shutdown, false)
}

/// The selector models, once `config.selector` names its backend `B`: each
/// backend gets its own statically dispatched copy of the server (one loop,
/// or one per core).
pub(crate) fn on_backend(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
    per_core: bool,
) -> io::Result<ServerStats> {
    struct OnSelector<'a> {
        listener: TcpListener,
        config: &'a ServerConfig,
        shutdown: &'a Shutdown,
        per_core: bool,
    }
    impl WithBackend for OnSelector<'_> {
        type Output = io::Result<ServerStats>;

        fn run<B: Backend>(self) -> Self::Output {
            let OnSelector {
                listener,
                config,
                shutdown,
                per_core,
            } = self;
            if per_core {
                return selector_per_core::serve_on::<B>(listener, config, shutdown);
            }
            listener.set_nonblocking(true)?;
            let count = ConnCount::new(config.max_connections);
            let sel = BaseSelector::<Callback, B>::new()?;
            run(sel, &listener, config, shutdown, &count)
        }
    }
    config.selector.with(OnSelector {
        listener,
        config,
        shutdown,
        per_core,
    })?
}

/// One event loop on a non-blocking `listener`, which other loops may share
/// (each with its own selector; other threads, or other processes):
/// `admission` holds the connections of them all. The selector is made by
/// the caller, before any loop accepts: a loop that started late could find
/// every descriptor taken by the others' clients.
pub(crate) fn run<B: Backend>(
    mut sel: BaseSelector<Callback, B>,
    listener: &TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
    admission: &dyn Admit,
) -> io::Result<ServerStats> {
    shutdown.notify_on_request(sel.notifier());
    sel.register(listener, Interest::READ, Callback::Accept)?;
    let mut server = Loop {
        sel,
        listener,
        listening: true,
        conns: Conns::new(config, admission),
        scratch: vec![0; config.read_chunk.max(1)],
    };
    let result = server.run(shutdown);
    let Loop {
        mut sel,
        mut conns,
        listening,
        ..
    } = server;
    conns.close_all(|conn| {
        let _ = sel.unregister(conn.stream());
    });
    if listening {
        let _ = sel.unregister(listener);
    }
    result.map(|()| conns.finish())
}

struct Loop<'a, B: Backend> {
    sel: BaseSelector<Callback, B>,
    listener: &'a TcpListener,
    /// False during an accept pause: the listener is out of the selector
    /// (level-triggered, it would wake us at once).
    listening: bool,
    conns: Conns<'a, Conn>,
    /// Where every read lands: connections own no read buffer.
    scratch: Vec<u8>,
}

impl<B: Backend> Loop<'_, B> {
    fn run(&mut self, shutdown: &Shutdown) -> io::Result<()> {
        let mut ready = Vec::new();
        while !shutdown.is_requested() {
            let timeout = self.conns.timeout(Instant::now());
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
            if !self.listening && self.conns.accepting(now) {
                self.sel
                    .register(self.listener, Interest::READ, Callback::Accept)?;
                self.listening = true;
            }
            while let Some((_, conn)) = self.conns.expire_idle(now) {
                let _ = self.sel.unregister(conn.stream());
            }
        }
        Ok(())
    }

    /// The seed's `accept` callback.
    fn on_accept(&mut self, now: Instant) -> io::Result<()> {
        let sel = &mut self.sel;
        let turn = self.conns.accept_batch(self.listener, now, |id, conn| {
            sel.register(conn.stream(), Interest::READ, Callback::Conn(id))
                .is_ok()
        });
        if turn == AcceptTurn::Paused {
            self.sel.unregister(self.listener)?;
            self.listening = false;
        }
        Ok(())
    }

    /// The seed's `read` callback, and its missing half: write what is left.
    fn on_conn(&mut self, id: usize, events: Interest, now: Instant) {
        let config = self.conns.config();
        let Some((conn, stats)) = self.conns.get_mut(id) else {
            return;
        };
        let next = conn.on_ready(events, &mut self.scratch, config, stats, now);
        let interest = conn.interest(config);
        // Python's modify; the kernel is asked only if the interest changed.
        let keep = next == Next::Keep
            && self
                .sel
                .modify(conn.stream(), interest, Callback::Conn(id))
                .is_ok();
        if !keep {
            if let Some(conn) = self.conns.close(id) {
                // Unregister before the socket closes (the selector's contract).
                let _ = self.sel.unregister(conn.stream());
            }
        }
    }
}
