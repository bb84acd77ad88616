//! # Exercise 17 — a blocking echo server, one thread per connection
//!
//! **What to build.** `serve(listener, stop)`: accept connections on
//! `listener` and give each one a thread of its own that reads what the
//! client sends and writes it back ASCII-uppercased (`b"hello"` →
//! `b"HELLO"`), until the client closes its side (a read returns 0). Keep
//! going until `stop` is requested; then close every open connection, join
//! every thread and return `Ok(())`.
//!
//! - **Blocking IO** (the article's first model): `accept`, `read` and
//!   `write` each put the calling thread to sleep until the kernel has
//!   something. One thread per connection is what lets a silent client block
//!   only its own thread.
//! - **The protocol has no framing**: a request may arrive in pieces, and
//!   the reply to each piece is that piece uppercased. Answer every read as
//!   it comes, and write ALL of the reply (`write_all`).
//! - **Errors end a connection, never the server**: a client that resets
//!   (`ECONNRESET`) ends its own thread. An `accept` that fails (a client
//!   that reset before we took it: `ECONNABORTED`; out of descriptors:
//!   `EMFILE`) is no reason to stop serving: pause a moment, go on.
//! - **Stopping a blocked `accept`**: `accept` sleeps until a client comes,
//!   so nobody would look at `stop`. Register a waker with
//!   `stop.on_request(...)` that connects to `listener.local_addr()` once:
//!   that wakes `accept`, and the loop then sees `stop.is_requested()`.
//! - **Closing the open connections**: keep a clone of each stream
//!   (`try_clone`) with its thread's `JoinHandle`. At the end,
//!   `shutdown(Both)` each clone: the thread blocked in `read` sees 0 and
//!   ends; then join the threads.
//!
//! **The Python it mirrors** (the seed's question 10, a `socketserver`
//! handler: `ThreadingTCPServer` runs each connection's `handle` on a thread
//! of its own; and the article: "每个连接都拥有独立的线程" — every connection
//! has a thread of its own, so that one blocking connection does not hold up
//! the others):
//!
//! ```python
//! import socketserver
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
//! server = socketserver.ThreadingTCPServer(('127.0.0.1', 8080), Handler)
//! server.serve_forever()
//! ```
//!
//! **Use** `std::net::{TcpListener, TcpStream}`, `std::thread`, and
//! `synclings::net::Shutdown` (`is_requested`, `on_request`).
//! `synclings::net::protocol::respond(&mut buf[..n], EchoMode::Upper)`
//! uppercases in place (or `buf[..n].make_ascii_uppercase()`).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin echo_blocking` runs the suite against
//!   your server (over 127.0.0.1, with several clients at once);
//! - `cargo run -p exercises --bin echo_blocking` runs the `main` below.
//! - Stuck? `cargo run -- hint echo_blocking`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};

/// Serves `listener` until `stop` is requested, a thread per connection;
/// then closes every connection, joins every thread and returns `Ok(())`.
pub fn serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()> {
    // TODO: `stop.on_request(...)` with a waker that connects to
    // `listener.local_addr()?` (use `TcpStream::connect_timeout`), so that
    // a blocked `accept` returns.
    // TODO: loop: `accept`; if `stop.is_requested()` leave the loop; else
    // keep `stream.try_clone()?` and spawn a thread running `handle`.
    // TODO: at the end, `shutdown(std::net::Shutdown::Both)` every clone,
    // then join every thread.
    todo!()
}

/// One connection: read, uppercase, write back, until the client's EOF or
/// an error.
fn handle(stream: TcpStream, peer: SocketAddr) {
    // TODO: a buffer; loop on `read`: 0 → the client is done; n → respond
    // to `buf[..n]` and `write_all` it; an error → this connection is done.
    // TODO: then `stream.shutdown(std::net::Shutdown::Both)`: `serve` keeps
    // a clone of the stream, so dropping this one does not close the socket.
    todo!()
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop));
        for msg in ["hello", "blocking io"] {
            let mut client = TcpStream::connect(addr)?;
            client.write_all(msg.as_bytes())?;
            let mut reply = vec![0; msg.len()];
            client.read_exact(&mut reply)?;
            println!("{}", String::from_utf8_lossy(&reply));
        }
        stop.request();
        server.join().expect("the server thread")
    })
}

#[cfg(test)]
synclings_suites::echo_blocking_suite!(crate::serve);
