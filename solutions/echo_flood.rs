//! # Solution 20 — an echo server that survives a flood
//!
//! Exercise 19's selector server, hardened against the clients of question
//! 10: "a malicious program may send a flood of requests and bring the server
//! down". Three limits, each closing one way to exhaust the server:
//!
//! - **A connection cap** (`max_connections`): past it a new connection is
//!   accepted and closed at once (counted in `refused`). Closing, not
//!   ignoring: a connection left in the listener's backlog is still there at
//!   the next `select`, and the one after (level-triggered).
//! - **An idle timeout** (`idle_timeout`): a connection with no byte read or
//!   written for that long is closed (`closed_idle`), so clients that
//!   connect and say nothing cannot hold every slot for ever. The `select`
//!   timeout is the time to the earliest idle deadline: the loop sleeps
//!   until there is something to do, data or a deadline.
//! - **Bounded buffers** (`max_buffered`): connections are non-blocking now,
//!   and a reply the socket does not take waits in the connection's `out`.
//!   While `max_buffered` bytes wait, the server stops reading that client
//!   (its interest drops `READ`, keeps `WRITE`): its bytes wait in the
//!   kernel, then its writes block. A client that never reads costs at most
//!   `max_buffered` bytes, and never blocks the thread that serves everybody
//!   else (exercise 19's blocking `write_all` did).
//!
//! And one more way to spin: when `accept` fails because the process is out
//! of descriptors (`EMFILE`), the connection stays in the backlog, the
//! listener stays readable and `select` returns at once, for ever. The
//! server then takes the listener out of the selector for a moment.
//!
//! `cargo run -p solutions --bin echo_flood` floods a server capped at 3
//! connections with 6 clients, lets a silent one time out, and prints the
//! counts.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use synclings::net::protocol::respond;
use synclings::net::{ServerConfig, ServerStats, Shutdown};
use synclings::selector::{Interest, Selector};

/// How long to stop accepting after `accept` failed (out of descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What to do when a registered socket is ready.
type Callback = fn(&mut FloodServer, RawFd, Interest);

/// One client, non-blocking.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Replies the socket has not taken yet: at most `max_buffered` bytes.
    out: Vec<u8>,
    /// The client closed its side: read no more, finish writing, close.
    eof: bool,
    /// The last read or write of at least one byte (or the accept).
    last_active: Instant,
}

impl Conn {
    /// True while the client may send more and `out` has room.
    fn wants_read(&self, max_buffered: usize) -> bool {
        !self.eof && self.out.len() < max_buffered
    }

    /// What to wait for: never empty while the connection is open.
    fn interest(&self, max_buffered: usize) -> Interest {
        let mut interest = Interest::empty();
        if self.wants_read(max_buffered) {
            interest |= Interest::READ;
        }
        if !self.out.is_empty() {
            interest |= Interest::WRITE;
        }
        interest
    }

    /// EOF seen and every reply written: time to close.
    fn is_done(&self) -> bool {
        self.eof && self.out.is_empty()
    }

    /// Reads once (if readable and there is room), answers, writes what the
    /// socket takes. `Err` means: close it.
    fn on_ready(
        &mut self,
        events: Interest,
        buf: &mut [u8],
        config: &ServerConfig,
        stats: &mut ServerStats,
        now: Instant,
    ) -> io::Result<()> {
        let max_buffered = config.max_buffered.max(1);
        if events.is_readable() && self.wants_read(max_buffered) {
            // Never read more than `out` has room for.
            let room = (max_buffered - self.out.len()).min(buf.len());
            match (&self.stream).read(&mut buf[..room]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    stats.bytes_in += n as u64;
                    self.last_active = now;
                    respond(&mut buf[..n], config.mode);
                    self.out.extend_from_slice(&buf[..n]);
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
        }
        // Write at once what we can (a `WRITE` event, or a fresh reply).
        while !self.out.is_empty() {
            match (&self.stream).write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    stats.bytes_out += n as u64;
                    self.last_active = now;
                    self.out.drain(..n);
                }
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// "Not now": the call would have blocked, or a signal interrupted it.
fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The server's state, passed to every callback.
struct FloodServer {
    sel: Selector<Callback>,
    listener: TcpListener,
    config: ServerConfig,
    /// The open connections, by descriptor.
    conns: HashMap<RawFd, Conn>,
    /// Where every read lands: connections own no read buffer.
    buf: Vec<u8>,
    stats: ServerStats,
    /// Set while the listener is out of the selector after an `EMFILE`.
    accept_paused_until: Option<Instant>,
}

/// The listener is readable: accept one client, or refuse it when full.
fn accept(server: &mut FloodServer, _fd: RawFd, _events: Interest) {
    let (stream, peer) = match server.listener.accept() {
        Ok(accepted) => accepted,
        Err(e) if would_block(&e) || e.kind() == io::ErrorKind::ConnectionAborted => return,
        Err(e) => {
            // Out of descriptors (or memory): the client stays in the
            // backlog and the listener readable. Stop watching it a moment.
            eprintln!("accept failed: {e}; pausing");
            let _ = server.sel.unregister(&server.listener);
            server.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
            return;
        }
    };
    if server.conns.len() >= server.config.max_connections {
        server.stats.refused += 1;
        println!("refused {peer}: {} connections open", server.conns.len());
        return; // dropping `stream` closes it
    }
    if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
        return;
    }
    if server
        .sel
        .register(&stream, Interest::READ, on_conn)
        .is_err()
    {
        return;
    }
    println!("new connection: {peer}");
    let conn = Conn {
        stream,
        peer,
        out: Vec::new(),
        eof: false,
        last_active: Instant::now(),
    };
    server.conns.insert(conn.stream.as_raw_fd(), conn);
    server.stats.accepted += 1;
    server.stats.peak_connections = server.stats.peak_connections.max(server.conns.len());
}

/// Connection `fd` is readable and/or writable.
fn on_conn(server: &mut FloodServer, fd: RawFd, events: Interest) {
    let Some(conn) = server.conns.get_mut(&fd) else {
        return;
    };
    let now = Instant::now();
    let result = conn.on_ready(
        events,
        &mut server.buf,
        &server.config,
        &mut server.stats,
        now,
    );
    if result.is_err() || conn.is_done() {
        close(server, fd);
        return;
    }
    // Python's `modify`: READ while there is room, WRITE while replies wait.
    let interest = conn.interest(server.config.max_buffered.max(1));
    if server.sel.modify(&conn.stream, interest, on_conn).is_err() {
        close(server, fd);
    }
}

/// Unregisters connection `fd`, then closes it.
fn close(server: &mut FloodServer, fd: RawFd) {
    if let Some(conn) = server.conns.remove(&fd) {
        let _ = server.sel.unregister(&conn.stream);
        println!("closing {}", conn.peer);
    }
}

impl FloodServer {
    /// How long `select` may sleep: until the earliest idle deadline or the
    /// end of an accept pause (`None`: until something is ready).
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let idle = self.config.idle_timeout.and_then(|timeout| {
            self.conns
                .values()
                .map(|conn| conn.last_active + timeout)
                .min()
        });
        [idle, self.accept_paused_until]
            .into_iter()
            .flatten()
            .min()
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    /// Closes every connection silent for the whole idle timeout.
    fn close_idle(&mut self, now: Instant) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        let idle: Vec<(RawFd, SocketAddr)> = self
            .conns
            .iter()
            .filter(|(_, conn)| now.saturating_duration_since(conn.last_active) >= timeout)
            .map(|(&fd, conn)| (fd, conn.peer))
            .collect();
        for (fd, peer) in idle {
            println!("{peer} said nothing for {timeout:?}");
            close(self, fd);
            self.stats.closed_idle += 1;
        }
    }
}

/// Serves `listener` on this thread with a selector and the limits of
/// `config` (`max_connections`, `idle_timeout`, `max_buffered`,
/// `read_chunk`, `mode`) until `stop` is requested; then closes every
/// connection and returns the counts.
pub fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    stop: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let mut server = FloodServer {
        sel: Selector::new()?,
        listener,
        config: config.clone(),
        conns: HashMap::new(),
        buf: vec![0; config.read_chunk.max(1)],
        stats: ServerStats::default(),
        accept_paused_until: None,
    };
    server
        .sel
        .register(&server.listener, Interest::READ, accept)?;
    let notifier = server.sel.notifier();
    stop.on_request(move || {
        let _ = notifier.notify();
    });
    while !stop.is_requested() {
        let timeout = server.timeout(Instant::now());
        for (fd, events) in server.sel.select_ready(timeout)? {
            let Ok(key) = server.sel.get_key(&fd) else {
                continue;
            };
            let callback = key.data;
            callback(&mut server, fd, events);
        }
        let now = Instant::now();
        if server.accept_paused_until.is_some_and(|until| now >= until) {
            server.accept_paused_until = None;
            server
                .sel
                .register(&server.listener, Interest::READ, accept)?;
        }
        server.close_idle(now);
    }
    let fds: Vec<RawFd> = server.conns.keys().copied().collect();
    for fd in fds {
        close(&mut server, fd);
    }
    if server.accept_paused_until.is_none() {
        server.sel.unregister(&server.listener)?;
    }
    Ok(server.stats)
}

/// A client that sends one message and prints the reply, or that it was
/// refused.
fn client(addr: SocketAddr, message: &str) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    let mut reply = vec![0; message.len()];
    // A refused client may find its connection closed before it sends.
    let sent = stream.write_all(message.as_bytes());
    match sent.and_then(|()| stream.read_exact(&mut reply)) {
        Ok(()) => println!("{}", String::from_utf8_lossy(&reply)),
        Err(_) => println!("{message:?}: refused, the server is full"),
    }
    Ok(stream)
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        max_connections: 3,
        idle_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let stop = Shutdown::new();
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &config, &stop));
        // A flood: 6 clients, 3 slots. The first 3 are served and stay.
        let mut flood = Vec::new();
        for i in 0..6 {
            flood.push(client(addr, &format!("client {i}"))?);
        }
        // They say nothing more: the idle timeout frees their slots.
        for stream in &mut flood {
            let mut byte = [0; 1];
            let _ = stream.read(&mut byte); // returns once the server closes it
        }
        client(addr, "a slot is free again")?;
        stop.request();
        let stats = server.join().expect("the server thread")?;
        println!(
            "accepted {}, refused {}, closed idle {}, {} bytes in, {} bytes out",
            stats.accepted, stats.refused, stats.closed_idle, stats.bytes_in, stats.bytes_out
        );
        Ok(())
    })
}

#[cfg(test)]
synclings_suites::echo_flood_suite!(crate::serve);
