//! # Solution 28 — a threading socketserver that a flood cannot bring down
//!
//! Question 10's answer in the shape of Python's `ThreadingMixIn`: a thread
//! per connection, but only for the connections [`Admission`] admits: at
//! most `max_children` at once, at most `max_per_client` from one IP. The
//! others are closed at once (their client reads EOF) and counted. A
//! handler's panic is caught on its thread (`catch_unwind`), its slot is
//! released and the server goes on. The library's version is
//! `synclings::net::socketserver` (`ThreadingTcpServer`, and
//! `ForkingTcpServer` with worker processes).
//!
//! `cargo run -p solutions --bin socketserver` replays the seed's program
//! 10 with `max_children = 2`: two clients served, the third refused.

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
        let mut open = self.open.lock().unwrap();
        if open.total >= self.max_children {
            return Err(Refused::Full);
        }
        let mine = open.per_client.entry(ip).or_default();
        if *mine >= self.max_per_client {
            return Err(Refused::PerClient);
        }
        *mine += 1;
        open.total += 1;
        open.peak = open.peak.max(open.total);
        Ok(())
    }

    /// Counts a handler for `ip` done.
    pub fn release(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap();
        open.total -= 1;
        if let Some(n) = open.per_client.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&ip);
            }
        }
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
    let (accepted, refused, panics) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for conn in listener.incoming() {
            if stop.load(SeqCst) {
                break;
            }
            let Ok(mut stream) = conn else { continue };
            let Ok(ip) = stream.peer_addr().map(|a| a.ip()) else {
                continue;
            };
            if admission.try_admit(ip).is_err() {
                refused.fetch_add(1, SeqCst);
                continue; // dropped: closed at once
            }
            accepted.fetch_add(1, SeqCst);
            let (admission, panics) = (&admission, &panics);
            s.spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| handler(&mut stream)));
                drop(stream);
                admission.release(ip);
                if outcome.is_err() {
                    panics.fetch_add(1, SeqCst);
                }
            });
        }
    });
    Stats {
        accepted: accepted.into_inner(),
        refused: refused.into_inner(),
        handler_panics: panics.into_inner(),
    }
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
