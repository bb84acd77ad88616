//! # Exercise 28 — a threading socketserver that a flood cannot bring down
//!
//! **What to build.** Question 10's answer as Python's `ThreadingMixIn`
//! would need it:
//!
//! - `Admission::try_admit(ip)`: at most `max_children` handlers at once in
//!   all (`Err(Refused::Full)`), at most `max_per_client` from one IP
//!   (`Err(Refused::PerClient)`); else count it (and the peak) and `Ok`.
//!   `release(ip)` undoes one admission.
//! - `serve(listener, admission, handler, stop)`: accept in a loop; once
//!   `stop` is set, return after the next accept. A connection that is not
//!   admitted is dropped at once (closed: its client reads EOF) and counted
//!   `refused`; an admitted one runs `handler` on a thread of its own, inside
//!   `catch_unwind` (a panic is counted in `handler_panics`, never a crash),
//!   and releases its slot when done. Return once every handler ended
//!   (`std::thread::scope` waits for them).
//!
//! **The Python it mirrors** (the seed's question 10: "with a forking or
//! threading socketserver, a malicious program may send a flood of requests
//! and bring the server down: write a program that avoids this"):
//!
//! ```python
//! class Handler(socketserver.BaseRequestHandler):
//!     def handle(self):
//!         print('new connection:', self.client_address)
//!         ...
//! socketserver.ThreadingTCPServer(('127.0.0.1', 8080), Handler).serve_forever()
//! ```
//!
//! `ThreadingMixIn` starts a thread per connection without limit: that is
//! the flood's way in. The library's answer is
//! `synclings::net::socketserver::{ThreadingTcpServer, ForkingTcpServer}`
//! with `Limits { max_children, max_per_client }`.
//!
//! **Use** a `Mutex<Open>` (a total and a `HashMap<IpAddr, usize>`),
//! `std::thread::scope`, `std::panic::catch_unwind`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin socketserver` runs the suite;
//! - `cargo run -p exercises --bin socketserver` runs the `main` below.
//! - Stuck? `cargo run -- hint socketserver`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_children` handlers run already.
    Full,
    /// This IP has `max_per_client` handlers running already.
    PerClient,
}

/// What `serve` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub refused: u64,
    pub handler_panics: u64,
}

/// A handler: serves one connection.
pub type Handler = fn(&mut TcpStream) -> io::Result<()>;

/// The handlers running now, in all and per client IP.
#[derive(Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    peak: usize,
}

/// Question 10's caps, decided under one lock.
pub struct Admission {
    max_children: usize,
    max_per_client: usize,
    open: Mutex<Open>,
}

impl Admission {
    pub fn new(max_children: usize, max_per_client: usize) -> Admission {
        Admission {
            max_children,
            max_per_client,
            open: Mutex::new(Open::default()),
        }
    }

    /// Counts one more handler for `ip`, or says which cap is full.
    pub fn try_admit(&self, ip: IpAddr) -> Result<(), Refused> {
        // TODO: under the lock: the total cap, then this IP's cap; count it and the peak.
        todo!()
    }

    /// Counts a handler for `ip` done.
    pub fn release(&self, ip: IpAddr) {
        // TODO: under the lock: one less in all and for `ip` (remove the IP at 0).
        todo!()
    }

    /// The most handlers at once.
    pub fn peak(&self) -> usize {
        self.open.lock().unwrap().peak
    }
}

/// Accepts until `stop` is set (and a connection wakes the `accept`): a
/// thread per admitted connection; returns once every handler ended.
pub fn serve(
    listener: TcpListener,
    admission: Arc<Admission>,
    handler: Handler,
    stop: Arc<AtomicBool>,
) -> Stats {
    // TODO: in `std::thread::scope`, `for conn in listener.incoming()`: stop? break.
    // Not admitted? count refused, drop it. Admitted: count it, spawn a thread
    // that runs `handler` under `catch_unwind`, then releases its slot.
    todo!()
}

/// The seed's handler: prints the client and its data, replies uppercased.
fn seed_handler(stream: &mut TcpStream) -> io::Result<()> {
    println!("new connection: {}", stream.peer_addr()?);
    let mut data = [0; 1024];
    loop {
        let n = stream.read(&mut data)?;
        if n == 0 {
            return Ok(());
        }
        println!("client data: {}", String::from_utf8_lossy(&data[..n]));
        stream.write_all(&data[..n].to_ascii_uppercase())?;
    }
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let admission = Arc::new(Admission::new(2, 2));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (admission, stop) = (admission.clone(), stop.clone());
        std::thread::spawn(move || serve(listener, admission, seed_handler, stop))
    };
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut client = TcpStream::connect(addr)?;
        let msg = format!("hello from client {i}");
        let mut reply = vec![0; msg.len()];
        match client
            .write_all(msg.as_bytes())
            .and_then(|()| client.read_exact(&mut reply))
        {
            Ok(()) => println!("reply: {}", String::from_utf8_lossy(&reply)),
            Err(_) => println!("client {i}: refused (max_children = 2)"),
        }
        clients.push(client);
    }
    drop(clients);
    stop.store(true, SeqCst);
    let _wake = TcpStream::connect(addr)?;
    let stats = server.join().expect("the server thread");
    println!(
        "accepted {}, refused {}, peak {}",
        stats.accepted,
        stats.refused,
        admission.peak()
    );
    Ok(())
}

#[cfg(test)]
synclings_suites::socketserver_suite! {
    admission: crate::Admission,
    refused: crate::Refused,
    serve: crate::serve,
}
