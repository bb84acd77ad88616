//! # Solution 19 — the `selectors` echo server: accept and read callbacks
//!
//! Seed program 9 in Rust. One thread sleeps in `select` (epoll) until one
//! of its sockets is ready, then calls the callback registered with that
//! socket: `accept` for the listener, `read` for a connection.
//!
//! - The data of a registration is a function pointer, as Python's is a
//!   function: the loop copies it out of the key and calls it with the
//!   server, which it may then change (register, unregister).
//! - Cost per wake-up: the ready sockets, not the open ones (the article:
//!   "epoll在“醒着”的时候只要判断一下就绪链表是否为空就行了"). An idle
//!   connection costs a socket and a map entry: no thread, no turn of a loop.
//! - `unregister` comes before the close: the next connection gets the same
//!   descriptor number, and a stale key would refuse its `register`.
//! - The shutdown wakes the sleeping `select` through a `Notifier`.
//! - What the seed gets wrong, kept here on purpose: the connections are
//!   blocking, so `write_all` to a client that does not read its replies
//!   blocks the only thread, and every other client waits. Nor is there a
//!   cap on connections or a timeout for idle ones. Exercise 20 fixes all
//!   three.
//!
//! `cargo run -p solutions --bin echo_selector` plays the seed: the server
//! prints each new client's address and `closing..` when one leaves; the
//! clients print the replies.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};
use synclings::selector::{Interest, Selector};

/// What to do when a registered socket is ready: the seed's `accept` and
/// `read`.
type Callback = fn(&mut EchoServer, RawFd, Interest);

/// The server's state, passed to every callback.
struct EchoServer {
    sel: Selector<Callback>,
    listener: TcpListener,
    /// The open connections, by descriptor.
    conns: HashMap<RawFd, TcpStream>,
    /// Where every read lands.
    buf: Vec<u8>,
}

/// The listener is readable: a client is waiting to be accepted.
fn accept(server: &mut EchoServer, _fd: RawFd, _events: Interest) {
    // An error: the client reset before we took it (or we are out of
    // descriptors): nothing to serve.
    let Ok((conn, addr)) = server.listener.accept() else {
        return;
    };
    println!("{addr}");
    // Replies go out at once, not after the client's delayed ACK.
    let _ = conn.set_nodelay(true);
    if server.sel.register(&conn, Interest::READ, read).is_ok() {
        server.conns.insert(conn.as_raw_fd(), conn);
    }
}

/// Connection `fd` is readable: data, EOF or an error.
fn read(server: &mut EchoServer, fd: RawFd, _events: Interest) {
    let Some(mut conn) = server.conns.get(&fd) else {
        return;
    };
    let buf = &mut server.buf;
    let n = match conn.read(buf) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return, // ready still
        Err(_) => 0,
    };
    if n == 0 {
        println!("closing.. {}", peer(conn));
        close(server, fd);
        return;
    }
    respond(&mut buf[..n], EchoMode::Upper);
    if conn.write_all(&buf[..n]).is_err() {
        println!("closing... {}", peer(conn));
        close(server, fd);
    }
}

/// Unregisters connection `fd`, then closes it (drops the stream).
fn close(server: &mut EchoServer, fd: RawFd) {
    if let Some(conn) = server.conns.remove(&fd) {
        let _ = server.sel.unregister(&conn);
    }
}

/// The client's address, for the log.
fn peer(conn: &TcpStream) -> String {
    conn.peer_addr()
        .map_or_else(|_| "(gone)".to_owned(), |a: SocketAddr| a.to_string())
}

/// Serves `listener` on this thread with a selector until `stop` is
/// requested; then closes every connection and returns `Ok(())`.
pub fn serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut server = EchoServer {
        sel: Selector::new()?,
        listener,
        conns: HashMap::new(),
        buf: vec![0; 16 * 1024],
    };
    server
        .sel
        .register(&server.listener, Interest::READ, accept)?;
    let notifier = server.sel.notifier();
    stop.on_request(move || {
        let _ = notifier.notify();
    });
    while !stop.is_requested() {
        for (fd, events) in server.sel.select_ready(None)? {
            // Gone: an earlier callback of this round closed it.
            let Ok(key) = server.sel.get_key(&fd) else {
                continue;
            };
            let callback = key.data;
            callback(&mut server, fd, events);
        }
    }
    let fds: Vec<RawFd> = server.conns.keys().copied().collect();
    for fd in fds {
        close(&mut server, fd);
    }
    server.sel.unregister(&server.listener)?;
    Ok(())
}

/// The seed's client, without `input()`: sends each message, prints the
/// reply.
fn client(addr: SocketAddr, messages: &[&str]) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    for msg in messages {
        stream.write_all(msg.as_bytes())?;
        let mut reply = vec![0; msg.len()];
        stream.read_exact(&mut reply)?;
        println!("{}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop));
        // Two clients at once, one server thread.
        let a = s.spawn(move || client(addr, &["hello", "one thread"]));
        let b = s.spawn(move || client(addr, &["selectors", "many clients"]));
        a.join().expect("client a")?;
        b.join().expect("client b")?;
        stop.request();
        server.join().expect("the server thread")
    })
}

#[cfg(test)]
synclings_suites::echo_selector_suite!(crate::serve);
