//! # Exercise 18 — a non-blocking echo server that busy-polls
//!
//! **What to build.** `serve(listener, stop, turns)`: ONE thread serving
//! every client with non-blocking sockets. Each turn of its loop it tries
//! to `accept` a new client, then tries every connection: `read` what the
//! client sent, and `write` back what the client is owed, ASCII-uppercased.
//! A socket that has nothing for us answers `WouldBlock` at once: that means
//! "not now", try the next one. Add 1 to `turns` on every turn of the loop.
//! Keep going until `stop` is requested; then close every connection and
//! return `Ok(())`.
//!
//! - `listener.set_nonblocking(true)` and, for every accepted stream,
//!   `stream.set_nonblocking(true)`: one blocking call and the whole loop
//!   waits on one client.
//! - A `write` may take only part of a reply, or none (`WouldBlock`): keep
//!   the rest in the connection's `outbox` and try again next turn.
//! - `read` returning 0 is the client's EOF: answer what it sent, then close
//!   the connection (drop it). Any other error (a reset) closes it too.
//! - End each turn with `std::thread::yield_now()`: it lets other runnable
//!   threads have the core (the seed sleeps instead). Either way the loop
//!   keeps asking sockets that have nothing to say: it keeps one core busy
//!   even with no client at all. That is the lesson; `turns` makes it
//!   visible.
//!
//! **The Python it mirrors** (the article's non-blocking server):
//!
//! ```python
//! s = socket(AF_INET, SOCK_STREAM)
//! s.bind(('127.0.0.1', 8080))
//! s.listen(5)
//! s.setblocking(False)            # accept never blocks
//! conn_l = []
//! del_l = []
//! while True:
//!     try:
//!         conn, addr = s.accept()
//!         conn_l.append(conn)
//!     except BlockingIOError:     # nobody is waiting to connect
//!         print(conn_l)
//!         for conn in conn_l:
//!             try:
//!                 data = conn.recv(1024)
//!                 if not data:
//!                     del_l.append(conn)
//!                     continue
//!                 conn.send(data.upper())
//!             except BlockingIOError:   # this one has nothing for us
//!                 pass
//!             except ConnectionResetError:
//!                 del_l.append(conn)
//!         for conn in del_l:
//!             conn_l.remove(conn)
//!             conn.close()
//!         del_l = []
//! ```
//!
//! "但是非阻塞IO模型绝不被推荐 ... 循环调用recv()将大幅度推高CPU占用率" — the
//! non-blocking model is not recommended: calling `recv()` in a loop drives
//! CPU usage way up. (The seed's `send` also ignores a partial send: the
//! `outbox` fixes that.)
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin echo_nonblocking` runs the suite;
//! - `cargo run -p exercises --bin echo_nonblocking` runs the `main` below
//!   (and prints how many turns the loop made).
//! - Stuck? `cargo run -- hint echo_nonblocking`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};

/// One client.
struct Client {
    stream: TcpStream,
    // TODO: `outbox: Vec<u8>`, the replies the socket has not taken yet,
    // and `eof: bool`, true once the client closed its side.
}

impl Client {
    /// Tries to read once and to write what is owed. Returns `false` when
    /// the connection is over (EOF and everything written, or an error).
    fn poll(&mut self, buf: &mut [u8]) -> bool {
        // TODO: if not at EOF, `read`: Ok(0) → eof; Ok(n) → respond to
        // `buf[..n]` and append it to the outbox; WouldBlock → nothing;
        // any other error → return false.
        // TODO: while the outbox is not empty, `write` from it: Ok(n) →
        // drop those n bytes; WouldBlock → stop for this turn; error → false.
        // TODO: over when at EOF with an empty outbox.
        todo!()
    }
}

/// Serves `listener` on this thread, busy-polling non-blocking sockets,
/// counting each turn of the loop in `turns`, until `stop` is requested.
pub fn serve(listener: TcpListener, stop: &Shutdown, turns: &AtomicU64) -> io::Result<()> {
    // TODO: the listener non-blocking; a `Vec<Client>`; a read buffer.
    // TODO: `while !stop.is_requested()`: count the turn; try `accept`
    // (WouldBlock: nobody new); `retain_mut` the clients whose `poll` says
    // they go on; `std::thread::yield_now()`.
    todo!()
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    let turns = AtomicU64::new(0);
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop, &turns));
        let mut client = TcpStream::connect(addr)?;
        for msg in ["hello", "non-blocking io"] {
            client.write_all(msg.as_bytes())?;
            let mut reply = vec![0; msg.len()];
            client.read_exact(&mut reply)?;
            println!("{}", String::from_utf8_lossy(&reply));
        }
        stop.request();
        server.join().expect("the server thread")?;
        println!("the loop turned {} times", turns.load(Relaxed));
        Ok(())
    })
}

#[cfg(test)]
synclings_suites::echo_nonblocking_suite!(crate::serve);
