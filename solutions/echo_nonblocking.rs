//! # Solution 18 — a non-blocking echo server that busy-polls
//!
//! One thread, non-blocking sockets, and a loop that asks each of them in
//! turn: "anything for me?". The kernel answers at once, usually
//! `WouldBlock` (not now).
//!
//! - No thread per connection, and one client can never block the others:
//!   no call ever waits.
//! - A reply the socket does not take whole waits in the connection's
//!   `outbox` for a later turn (the seed's `conn.send` would drop the rest).
//! - The price: the loop never sleeps. With nobody connected it still makes
//!   an `accept` call per turn, and one `read` per connection, ready or not:
//!   a core at 100 %, and more work per turn for every idle connection. The
//!   `yield_now` at the end of a turn only lets other threads share the core;
//!   the seed's `time.sleep` would save the core at the cost of latency. The
//!   kernel can say which sockets are ready, and sleep until one is: that is
//!   `select`/epoll, exercise 19.
//!
//! `cargo run -p solutions --bin echo_nonblocking` plays the article's
//! server and client: it prints the list of connections when it changes
//! (the seed prints it on every turn!), the client prints the replies, and
//! the end shows how many turns the loop made while the client took its
//! time.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};

/// One client.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// Replies the socket has not taken yet.
    outbox: Vec<u8>,
    /// The client closed its side: read no more.
    eof: bool,
}

impl Client {
    /// Tries to read once and to write what is owed. Returns `false` when
    /// the connection is over (EOF and everything written, or an error).
    fn poll(&mut self, buf: &mut [u8]) -> bool {
        if !self.eof {
            match (&self.stream).read(buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    respond(&mut buf[..n], EchoMode::Upper);
                    self.outbox.extend_from_slice(&buf[..n]);
                }
                // Nothing for us now (or a signal): try again next turn.
                Err(e) if would_block(&e) => {}
                // A reset, or worse: this connection is over.
                Err(_) => return false,
            }
        }
        while !self.outbox.is_empty() {
            match (&self.stream).write(&self.outbox) {
                Ok(0) => return false,
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                // The socket is full: the rest waits for a later turn.
                Err(e) if would_block(&e) => break,
                Err(_) => return false,
            }
        }
        !(self.eof && self.outbox.is_empty())
    }
}

/// "Not now": the call would have blocked, or a signal interrupted it.
fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Serves `listener` on this thread, busy-polling non-blocking sockets,
/// counting each turn of the loop in `turns`, until `stop` is requested.
pub fn serve(listener: TcpListener, stop: &Shutdown, turns: &AtomicU64) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut clients: Vec<Client> = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    while !stop.is_requested() {
        // Relaxed: a plain counter, read by whoever watches the burn.
        turns.fetch_add(1, Relaxed);
        let before = clients.len();
        match listener.accept() {
            Ok((stream, peer)) => {
                // Nagle off: replies go out at once.
                if stream.set_nonblocking(true).is_ok() && stream.set_nodelay(true).is_ok() {
                    clients.push(Client {
                        stream,
                        peer,
                        outbox: Vec::new(),
                        eof: false,
                    });
                }
            }
            // Nobody is waiting to connect (the usual answer).
            Err(e) if would_block(&e) => {}
            // A client gone before we took it, or out of descriptors:
            // nothing to do but try again next turn.
            Err(_) => {}
        }
        clients.retain_mut(|client| client.poll(&mut buf));
        if clients.len() != before {
            let peers: Vec<SocketAddr> = clients.iter().map(|c| c.peer).collect();
            println!("{peers:?}");
        }
        // Let other threads have the core; we come straight back.
        std::thread::yield_now();
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    let turns = AtomicU64::new(0);
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop, &turns));
        let mut client = TcpStream::connect(addr)?;
        let started = Instant::now();
        for msg in ["hello", "non-blocking io", "is busy"] {
            // The client types slowly (the seed's `input('>>: ')`).
            std::thread::sleep(Duration::from_millis(100));
            client.write_all(msg.as_bytes())?;
            let mut reply = vec![0; msg.len()];
            client.read_exact(&mut reply)?;
            println!("{}", String::from_utf8_lossy(&reply));
        }
        drop(client);
        let elapsed = started.elapsed();
        let made = turns.load(Relaxed);
        stop.request();
        server.join().expect("the server thread")?;
        println!(
            "in {elapsed:.2?} the loop turned {made} times to answer 3 messages: a core kept busy asking sockets that had nothing to say"
        );
        Ok(())
    })
}

#[cfg(test)]
synclings_suites::echo_nonblocking_suite!(crate::serve);
