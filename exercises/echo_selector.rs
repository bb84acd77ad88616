//! # Exercise 19 — the `selectors` echo server: accept and read callbacks
//!
//! **What to build.** `serve(listener, stop)`: ONE thread and one
//! `Selector` (epoll). Register the listener with the `accept` callback;
//! `accept` registers each new connection with the `read` callback; the loop
//! sleeps in `select` until something is ready and calls the callback
//! registered with it. `read` reads what the client sent and writes it back
//! ASCII-uppercased; at the client's EOF (or an error) it unregisters the
//! connection, then closes it. Keep going until `stop` is requested; then
//! unregister and close every connection and return `Ok(())`.
//!
//! - **The data of a registration is the callback**, as in the seed: here a
//!   plain function pointer, `Callback = fn(&mut EchoServer, RawFd,
//!   Interest)`. The loop copies it out of the key (`sel.get_key(&fd)?.data`)
//!   and calls it with the server: `callback(&mut server, fd, events)`.
//! - **Unregister before closing.** The kernel gives the next connection the
//!   lowest free descriptor number, i.e. the one just closed: a stale key
//!   makes its `register` fail.
//! - **Stopping a sleeping `select`**: `stop.on_request(...)` with a waker
//!   that calls `notifier.notify()` (a `sel.notifier()`, made before the
//!   loop): `select` returns, and the loop sees `stop.is_requested()`.
//! - The connections may stay blocking, as in the seed: `read` is only
//!   called when `select` said the socket is readable, and `write_all`
//!   blocks only while a client does not read its replies. (That stalls the
//!   whole server: exercise 20 fixes it.)
//!
//! **The Python it mirrors** (seed program 9):
//!
//! ```python
//! sel = selectors.DefaultSelector()
//! def accept(server_fileobj, mask):
//!     conn, addr = server_fileobj.accept()
//!     print(addr)
//!     sel.register(conn, selectors.EVENT_READ, read)
//! def read(conn, mask):
//!     try:
//!         data = conn.recv(1024)
//!         if not data:
//!             print('closing..', conn)
//!             sel.unregister(conn)
//!             conn.close()
//!             return
//!         conn.send(data.upper())
//!     except Exception:
//!         print('closeing...', conn)
//!         sel.unregister(conn)
//!         conn.close()
//! server_fileobj = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
//! server_fileobj.bind(('127.0.0.1', 8080))
//! server_fileobj.listen(5)
//! server_fileobj.setblocking(False)
//! sel.register(server_fileobj, selectors.EVENT_READ, accept)
//! while True:
//!     events = sel.select()      # sleep until some socket is ready
//!     for sel_obj, mask in events:
//!         callback = sel_obj.data
//!         callback(sel_obj.fileobj, mask)
//! ```
//!
//! **Use** `synclings::selector::{Selector, Interest}` (`register`,
//! `unregister`, `get_key`, `select_ready(None)` → `Vec<(RawFd, Interest)>`,
//! `notifier`), a `HashMap<RawFd, TcpStream>` for the connections, and
//! `synclings::net::Shutdown`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin echo_selector` runs the suite;
//! - `cargo run -p exercises --bin echo_selector` runs the `main` below.
//! - Stuck? `cargo run -- hint echo_selector`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
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
    // TODO: `server.listener.accept()`; on success register the stream
    // with `Interest::READ` and `read` (the function below), then keep it
    // in `conns`. An error (the client left already) is no reason to stop.
    todo!()
}

/// Connection `fd` is readable: data, EOF or an error.
fn read(server: &mut EchoServer, fd: RawFd, _events: Interest) {
    // TODO: find the stream in `conns`; `read` into `buf`: n > 0 → respond
    // and `write_all`; 0 or an error (also of the write) → `close`.
    todo!()
}

/// Unregisters connection `fd`, then closes it (drops the stream).
fn close(server: &mut EchoServer, fd: RawFd) {
    // TODO: remove it from `conns`; `sel.unregister(&stream)` first, then
    // let the stream drop.
    todo!()
}

/// Serves `listener` on this thread with a selector until `stop` is
/// requested; then closes every connection and returns `Ok(())`.
pub fn serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()> {
    // TODO: the listener non-blocking; an `EchoServer`; register the
    // listener with `Interest::READ` and `accept`.
    // TODO: `stop.on_request` with a waker that notifies the selector.
    // TODO: `while !stop.is_requested()`: for each `(fd, events)` of
    // `select_ready(None)?`, get the key's callback (skip a fd whose key is
    // gone: an earlier callback of this round closed it) and call it.
    // TODO: at the end unregister and close every connection.
    todo!()
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop));
        let mut client = TcpStream::connect(addr)?;
        for msg in ["hello", "selectors"] {
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
synclings_suites::echo_selector_suite!(crate::serve);
