//! # Exercise 20 — an echo server that survives a flood
//!
//! **What to build.** `serve(listener, config, stop)`: exercise 19's
//! selector server (one thread, a `Selector`, callbacks), hardened with
//! three limits taken from `config` (a `synclings::net::ServerConfig`), and
//! counting what it does in a `ServerStats` that it returns when `stop` is
//! requested (after closing every connection).
//!
//! - **A connection cap** (`config.max_connections`): when that many are
//!   open, accept the new connection and drop it at once (count it in
//!   `refused`). Don't leave it waiting: the listener would stay readable and
//!   `select` would return at once, for ever. Count the others in
//!   `accepted`.
//! - **An idle timeout** (`config.idle_timeout`, `None` = never): close a
//!   connection with no byte read or written for that long (count it in
//!   `closed_idle`). Keep each connection's `last_active`; `select`'s
//!   timeout is the time to the earliest `last_active + idle_timeout`;
//!   after each `select`, close those whose time is up. The thread still
//!   sleeps while nothing is due.
//! - **Bounded buffers** (`config.max_buffered`): make connections
//!   non-blocking; a reply the socket does not take whole waits in the
//!   connection's `out`. Never let `out` grow past `max_buffered`: read at
//!   most the room left (and at most `config.read_chunk` bytes), and while
//!   `out` is full stop reading: `modify` the connection's interest to
//!   `WRITE` only. Watch `READ` while there is room, `WRITE` while replies
//!   wait. A client that never reads then costs at most `max_buffered`
//!   bytes, and never blocks the thread that serves everybody else.
//! - At the client's EOF, finish writing its replies, then close (unregister
//!   first). Count every byte read in `bytes_in`, every byte written in
//!   `bytes_out`. Reply with `protocol::respond(&mut data, config.mode)`.
//!
//! **The Python it mirrors** (the seed's question 10: "with a forking or
//! threading `socketserver`, a malicious program may send a flood of
//! requests and bring the server down: write a program that avoids this"):
//!
//! ```python
//! class Handler(socketserver.BaseRequestHandler):
//!     def handle(self):
//!         print('new connection:', self.client_address)
//!         while True:
//!             try:
//!                 data = self.request.recv(1024)
//!                 if not data: break
//!                 print('client data:', data.decode())
//!                 self.request.send(data.upper())
//!             except Exception as e:
//!                 print(e)
//!                 break
//! ```
//!
//! The seed's answer stops there; the limits above are the rest of it.
//!
//! **Use** `synclings::selector::{Selector, Interest}` (`register`,
//! `modify`, `unregister`, `get_key`, `select_ready(timeout)`, `notifier`)
//! and `synclings::net::{ServerConfig, ServerStats, Shutdown, protocol}`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin echo_flood` runs the suite: a flood past
//!   the cap, an idle client, a client that never reads;
//! - `cargo run -p exercises --bin echo_flood` runs the `main` below.
//! - Stuck? `cargo run -- hint echo_flood`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use synclings::net::protocol::respond;
use synclings::net::{ServerConfig, ServerStats, Shutdown};
use synclings::selector::{Interest, Selector};

/// What to do when a registered socket is ready.
type Callback = fn(&mut FloodServer, RawFd, Interest);

/// One client, non-blocking.
struct Conn {
    stream: TcpStream,
    /// Replies the socket has not taken yet: at most `max_buffered` bytes.
    out: Vec<u8>,
    /// The client closed its side: read no more, finish writing, close.
    eof: bool,
    /// The last read or write of at least one byte (or the accept).
    last_active: Instant,
}

/// The server's state, passed to every callback.
struct FloodServer {
    sel: Selector<Callback>,
    listener: TcpListener,
    config: ServerConfig,
    /// The open connections, by descriptor.
    conns: HashMap<RawFd, Conn>,
    /// Where every read lands.
    buf: Vec<u8>,
    stats: ServerStats,
}

/// The listener is readable: accept one client, or refuse it when full.
fn accept(server: &mut FloodServer, _fd: RawFd, _events: Interest) {
    // TODO: accept (an error: return); if `max_connections` are open,
    // count it refused and drop it; else make it non-blocking, register it
    // for READ with `on_conn`, keep it in `conns`, count it accepted.
    todo!()
}

/// Connection `fd` is readable and/or writable.
fn on_conn(server: &mut FloodServer, fd: RawFd, events: Interest) {
    // TODO: if readable and `out` has room, read at most the room left
    // (0 → eof; n → count, respond, append to `out`, `last_active = now`;
    // WouldBlock → nothing; an error → close).
    // TODO: write from `out` while the socket takes it (count, drain,
    // `last_active = now`; WouldBlock → stop; an error → close).
    // TODO: eof and `out` empty → close; else `modify` the interest: READ
    // while there is room, WRITE while `out` is not empty.
    todo!()
}

/// Unregisters connection `fd`, then closes it.
fn close(server: &mut FloodServer, fd: RawFd) {
    todo!()
}

/// Serves `listener` on this thread with a selector and the limits of
/// `config` until `stop` is requested; then closes every connection and
/// returns the counts.
pub fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    stop: &Shutdown,
) -> io::Result<ServerStats> {
    // TODO: as in exercise 19 (listener non-blocking, registered with
    // `accept`; a notifier woken by `stop`), but `select_ready(timeout)`
    // with the time to the earliest idle deadline, and after each round
    // close the connections idle for `idle_timeout` (count `closed_idle`).
    todo!()
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let stop = Shutdown::new();
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &config, &stop));
        let mut clients = Vec::new();
        for i in 0..4 {
            let mut client = TcpStream::connect(addr)?;
            let msg = format!("client {i}");
            let mut reply = vec![0; msg.len()];
            let answered = client
                .write_all(msg.as_bytes())
                .and_then(|()| client.read_exact(&mut reply));
            match answered {
                Ok(()) => println!("{}", String::from_utf8_lossy(&reply)),
                Err(_) => println!("{msg}: refused"),
            }
            clients.push(client);
        }
        stop.request();
        let stats = server.join().expect("the server thread")?;
        println!("{stats:?}");
        Ok(())
    })
}

#[cfg(test)]
synclings_suites::echo_flood_suite!(crate::serve);
