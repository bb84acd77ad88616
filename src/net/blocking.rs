//! Blocking IO, a thread per connection: the first fix the article gives
//! for `recv` blocking the whole server.
//!
//! > "Use multiple threads (or processes) on the server: give every
//! > connection its own thread, so that one connection blocking does not
//! > affect the others." — and its limit: "to answer hundreds or thousands
//! > of connections at once, threads or processes seriously occupy system
//! > resources."
//!
//! How it works: the accept loop admits a connection (or refuses it past
//! `max_connections`) and starts a thread that loops `read` (at most
//! `min(read_chunk, max_buffered)` bytes) → [`respond`] → `write` until the
//! peer closes. A peer that never reads fills its receive buffer, then ours:
//! our `write` blocks, so the thread stops reading, and the memory the
//! connection holds stays one chunk: back-pressure comes for free with
//! blocking IO. The idle timeout is `SO_RCVTIMEO`/`SO_SNDTIMEO`: a read or
//! a write that makes no progress for that long closes the connection.
//!
//! Shutdown: the listener is non-blocking and the loop sleeps in a
//! `DefaultSelector` watching it, which the [`Shutdown`] wakes through the
//! selector's notifier, so a request interrupts it at once (also during an
//! `EMFILE` pause). Every admitted
//! stream is kept, shared, in a registry: the shutdown calls
//! `shutdown(Both)` on each, which wakes its thread's blocked `read` (it
//! returns 0) or `write` (`EPIPE`), then joins every thread.
//!
//! Cost: a thread per connection: a kernel task, a stack (128 KiB reserved,
//! a few pages touched) and a read buffer (2 KiB on that stack until a read
//! fills it, then `read_chunk` on the heap), plus two context switches per
//! request; thousands of connections are thousands of threads. The
//! [thread pool](super::thread_pool) caps the threads but not the waiting.
//!
//! These pieces (the accept loop, the registry, the per-connection loop)
//! are shared with the thread-pool model, which differs only in who runs a
//! connection.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::protocol::respond;
use super::{accept_pause, os, ServerConfig, ServerStats, Shutdown};
use crate::selector::{DefaultSelector, Interest};

/// Stack size of a connection thread: the loop keeps its large buffer on
/// the heap.
const CONNECTION_STACK: usize = 128 * 1024;

/// The read buffer a connection starts with, on its thread's stack: a
/// connection that has never received more than this at once holds no
/// heap buffer (10 000 idle connections stay a few pages each).
const SMALL_READ: usize = 2048;

/// Runs the thread-per-connection model until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    let shared = Shared::new(config);
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    // Finished threads are reaped when the list doubles: amortised O(1).
    let mut reap_at = 64;
    let result = accept_loop(&listener, shutdown, |stream, _peer| {
        let Some(connection) = shared.admit(stream) else {
            return;
        };
        if threads.len() >= reap_at {
            threads.retain(|t| !t.is_finished());
            reap_at = (threads.len() * 2).max(64);
        }
        let spawned = std::thread::Builder::new()
            .name("echo-connection".to_owned())
            .stack_size(CONNECTION_STACK)
            .spawn(move || connection.serve());
        match spawned {
            Ok(thread) => threads.push(thread),
            // The closure, and the connection in it, was dropped: closed.
            Err(_) => shared.no_thread_for_it(),
        }
    });
    drop(listener);
    shared.close_all();
    for thread in threads {
        let _ = thread.join();
    }
    result.map(|()| shared.stats())
}

/// The state a model's connections share: the limits, the registry of open
/// streams (for the shutdown) and the counters.
pub(super) struct Shared {
    /// The server's settings.
    config: ServerConfig,
    /// Open connections and counts, under one lock taken twice per
    /// connection (admit, close), never per request.
    registry: Mutex<Registry>,
}

/// The open connections and what happened so far.
#[derive(Default)]
struct Registry {
    /// Id of the next admitted connection.
    next_id: u64,
    /// Every admitted connection not yet closed, shared with the thread
    /// serving it so that `close_all` can shut it down.
    open: HashMap<u64, Arc<TcpStream>>,
    /// Set by `close_all`: nothing more is admitted.
    closed: bool,
    /// The counts; `peak_connections` tracks `open.len()`.
    stats: ServerStats,
}

impl Shared {
    /// Shared state for a server with `config`.
    pub(super) fn new(config: &ServerConfig) -> Arc<Self> {
        Arc::new(Shared {
            config: config.clone(),
            registry: Mutex::new(Registry::default()),
        })
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic elsewhere never leaves the counts half-updated.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits `stream`, or closes it at once (counted as refused) when
    /// `max_connections` are open or the server is closing.
    pub(super) fn admit(self: &Arc<Self>, stream: TcpStream) -> Option<Connection> {
        let mut registry = self.registry();
        if registry.closed || registry.open.len() >= self.config.max_connections {
            registry.stats.refused += 1;
            return None; // `stream` is dropped: closed
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let stream = Arc::new(stream);
        registry.open.insert(id, Arc::clone(&stream));
        registry.stats.accepted += 1;
        let open = registry.open.len();
        registry.stats.peak_connections = registry.stats.peak_connections.max(open);
        Some(Connection {
            id,
            stream,
            shared: Arc::clone(self),
            bytes_in: 0,
            bytes_out: 0,
            idle: false,
        })
    }

    /// An admitted connection got no thread and was closed: refused after all.
    pub(super) fn no_thread_for_it(&self) {
        let mut registry = self.registry();
        registry.stats.accepted -= 1;
        registry.stats.refused += 1;
    }

    /// Admits nothing more and shuts every open stream down (both ways),
    /// waking the threads blocked on them.
    pub(super) fn close_all(&self) {
        let mut registry = self.registry();
        registry.closed = true;
        for stream in registry.open.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The counts so far (final once every connection is dropped).
    pub(super) fn stats(&self) -> ServerStats {
        self.registry().stats.clone()
    }
}

/// An admitted connection: served by [`serve`](Self::serve), deregistered
/// and closed when dropped.
pub(super) struct Connection {
    /// Its key in the registry.
    id: u64,
    /// The socket, shared with the registry.
    stream: Arc<TcpStream>,
    /// Where it is registered and counted.
    shared: Arc<Shared>,
    /// Counted here, added to the server's stats once, on drop.
    bytes_in: u64,
    /// Likewise.
    bytes_out: u64,
    /// True if it ended by the idle timeout.
    idle: bool,
}

impl Connection {
    /// Echoes until the peer closes, an error, the idle timeout or the
    /// shutdown; then closes the connection.
    pub(super) fn serve(mut self) {
        if let Err(e) = self.echo() {
            // SO_RCVTIMEO/SO_SNDTIMEO expiring shows as EAGAIN.
            self.idle = matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            );
        }
    }

    /// The read → respond → write loop. Returns `Ok` when the peer closed
    /// its side (after a half-close, every reply was written already).
    fn echo(&mut self) -> io::Result<()> {
        let stream = Arc::clone(&self.stream);
        let mut stream = &*stream;
        let config = &self.shared.config;
        stream.set_nonblocking(false)?;
        // Replies go out at once, not after the peer's delayed ACK.
        stream.set_nodelay(true)?;
        stream.set_read_timeout(config.idle_timeout)?;
        stream.set_write_timeout(config.idle_timeout)?;
        let mode = config.mode;
        let chunk = config.read_chunk.min(config.max_buffered);
        // An idle connection waits in `read` on a small buffer on the
        // stack (whose pages the thread touched already); the full chunk is
        // allocated the first time a read fills the small one.
        let mut small = [0u8; SMALL_READ];
        let mut large: Vec<u8> = Vec::new();
        loop {
            let on_stack = large.is_empty();
            let buf: &mut [u8] = if on_stack {
                &mut small[..SMALL_READ.min(chunk)]
            } else {
                &mut large
            };
            let n = match stream.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let grow = on_stack && n == buf.len() && chunk > SMALL_READ;
            self.bytes_in += n as u64;
            respond(&mut buf[..n], mode);
            let mut reply = &buf[..n];
            while !reply.is_empty() {
                match stream.write(reply) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(written) => {
                        self.bytes_out += written as u64;
                        reply = &reply[written..];
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if grow {
                large = vec![0; chunk];
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut registry = self.shared.registry();
        registry.open.remove(&self.id);
        registry.stats.bytes_in += self.bytes_in;
        registry.stats.bytes_out += self.bytes_out;
        if self.idle {
            registry.stats.closed_idle += 1;
        }
        // The registry's clone is gone: dropping `stream` closes the socket.
    }
}

/// Accepts connections until `shutdown` is requested, handing each (and
/// its peer's address) to `on_accept`; sleeps in a selector (the listener and the shutdown's
/// notifier) between them, never spins, and pauses on descriptor exhaustion
/// ([`accept_pause`]). Fails only on an error that no retry can fix (the
/// listener is not a listening socket).
pub(super) fn accept_loop(
    listener: &TcpListener,
    shutdown: &Shutdown,
    mut on_accept: impl FnMut(TcpStream, SocketAddr),
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut sel = DefaultSelector::new()?;
    shutdown.notify_on_request(sel.notifier());
    sel.register(listener, Interest::READ, ())?;
    let result = accept_until(&mut sel, listener, shutdown, &mut on_accept);
    let _ = sel.unregister(listener);
    result
}

/// [`accept_loop`]'s loop, on a selector where `listener` is registered.
fn accept_until(
    sel: &mut DefaultSelector<()>,
    listener: &TcpListener,
    shutdown: &Shutdown,
    on_accept: &mut impl FnMut(TcpStream, SocketAddr),
) -> io::Result<()> {
    let mut ready = Vec::new();
    while !shutdown.is_requested() {
        match listener.accept() {
            Ok((stream, peer)) => on_accept(stream, peer),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                sel.select_into(None, &mut ready)?;
            }
            Err(e) => {
                if let Some(pause) = accept_pause(&e) {
                    // Only the notifier: the listener stays readable.
                    sel.unregister(listener)?;
                    sel.select_into(Some(pause), &mut ready)?;
                    sel.register(listener, Interest::READ, ())?;
                } else if os::is_fatal_accept_error(&e) {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}
