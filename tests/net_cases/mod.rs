//! The scenarios every echo server model runs (`tests/net_servers.rs` for
//! the in-process models, `tests/net_prefork.rs` for the prefork model,
//! whose test binary must call `ipc::init` first): many concurrent clients
//! with random payloads and split writes, half-close, abrupt resets, a
//! client that never reads, a connection flood, the idle timeout, a
//! shutdown while busy. [`for_each_case!`] lists them once for both.
//!
//! Loopback only; every loop is bounded in count, every wait by a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown as Half, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, RwLock, RwLockReadGuard};
use std::thread;
use std::time::{Duration, Instant};

use synclings::net::{start, EchoMode, Model, RunningServer, ServerConfig, ServerStats};
use synclings::selector::BackendKind;
use synclings::testing::{current_tid, eventually, wait_until_parked, within, DEADLINE};

/// Calls `$callback!($args; NAME: CASE, ...)` with every scenario: the
/// test's name and the case function (`fn(impl Into<Subject>)`), each with
/// its `cfg` if it has one.
#[macro_export]
macro_rules! for_each_case {
    ($callback:ident, $($args:tt)*) => {
        $callback! {
            $($args)*;
            concurrent_clients_with_random_split_payloads: concurrent_clients,
            exact_echo_mode: exact_mode,
            half_close_gets_every_reply_then_eof: half_close,
            #[cfg(unix)] // SO_LINGER through libc
            abrupt_resets_free_their_slots: abrupt_reset,
            a_client_that_never_reads_is_bounded: client_that_never_reads,
            a_flood_past_max_connections_is_refused: flood_past_max_connections,
            idle_connections_are_closed: idle_timeout,
            shutdown_while_busy_returns: shutdown_while_busy,
        }
    };
}

// ---------------------------------------------------------------- helpers

/// Tests that fill the descriptor table run alone: the others take this
/// lock shared, those exclusively.
pub static FD_TABLE: RwLock<()> = RwLock::new(());

pub fn shared() -> RwLockReadGuard<'static, ()> {
    FD_TABLE.read().unwrap_or_else(|e| e.into_inner())
}

/// Small limits; 8 workers, so that the thread pool (a worker per
/// connection at a time) serves every client of a scenario at once.
pub fn config() -> ServerConfig {
    ServerConfig {
        workers: 8,
        ..ServerConfig::default()
    }
}

/// What a scenario runs on: a model, and for the selector models the
/// selector backend (the platform's default unless a row says otherwise).
#[derive(Clone, Copy, Debug)]
pub struct Subject {
    pub model: Model,
    pub selector: BackendKind,
}

impl From<Model> for Subject {
    fn from(model: Model) -> Subject {
        Subject {
            model,
            selector: BackendKind::DEFAULT,
        }
    }
}

impl From<(Model, BackendKind)> for Subject {
    fn from((model, selector): (Model, BackendKind)) -> Subject {
        Subject { model, selector }
    }
}

/// A running server that is stopped even if the test panics.
pub struct Server {
    running: Option<RunningServer>,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(subject: impl Into<Subject>, config: ServerConfig) -> Server {
        let subject = subject.into();
        let config = ServerConfig {
            selector: subject.selector,
            ..config
        };
        let running = start(subject.model, config).expect("the server starts");
        let addr = running.local_addr();
        assert!(addr.ip().is_loopback());
        Server {
            running: Some(running),
            addr,
        }
    }

    pub fn stop(mut self) -> ServerStats {
        let running = self.running.take().expect("running");
        within(DEADLINE, "the server shuts down", move || {
            running.shutdown().expect("the server stops without error")
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown_handle().request();
        }
    }
}

/// A client whose every read and write gives up after the deadline.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// One small request and its reply (small: fits in the socket buffers).
pub fn echo(stream: &TcpStream, message: &[u8]) -> io::Result<Vec<u8>> {
    (&*stream).write_all(message)?;
    let mut reply = vec![0; message.len()];
    (&*stream).read_exact(&mut reply)?;
    Ok(reply)
}

/// What a refused (or closed) connection gives a reader: EOF or a reset.
pub fn is_closed_by_server(stream: &TcpStream) -> bool {
    match (&*stream).read(&mut [0u8; 16]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => {
            assert!(
                !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ),
                "the server neither answered nor closed within {DEADLINE:?}"
            );
            true
        }
    }
}

/// xorshift64*: reproducible random payloads without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Random bytes, half of them lowercase letters (so that uppercasing
    /// shows).
    pub fn payload(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                let x = self.next();
                if x & 1 == 0 {
                    b'a' + (x >> 8) as u8 % 26
                } else {
                    (x >> 16) as u8
                }
            })
            .collect()
    }

    /// Chunk sizes for a split write: tiny, medium or large.
    pub fn chunk(&mut self) -> usize {
        match self.below(3) {
            0 => 1 + self.below(8),
            1 => 1 + self.below(1024),
            _ => 1 + self.below(64 * 1024),
        }
    }
}

/// Sends `payload` in random pieces from a second thread while this one
/// reads the whole reply: works for any size (no deadlock on full buffers).
pub fn round_trip(stream: &TcpStream, payload: &[u8], seed: u64) -> Vec<u8> {
    let mut reply = vec![0; payload.len()];
    thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut rng = Rng(seed | 1);
            let mut sent = 0;
            while sent < payload.len() {
                let end = (sent + rng.chunk()).min(payload.len());
                (&*stream)
                    .write_all(&payload[sent..end])
                    .expect("write a piece");
                sent = end;
            }
        });
        (&*stream)
            .read_exact(&mut reply)
            .expect("read the whole reply");
        writer.join().unwrap();
    });
    reply
}

/// Sets `SO_LINGER` to zero: closing then sends a reset (RST), not a FIN.
#[cfg(unix)]
pub fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Safety: the socket is open; the option value is a live linger struct
    // of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

// ------------------------------------------------------------- scenarios

/// 20 clients at once, each a few random requests (two of them 1 MiB),
/// written in random pieces: every reply is the request uppercased.
pub fn concurrent_clients(model: impl Into<Subject>) {
    let _fd = shared();
    let server = Server::start(model, config());
    let addr = server.addr;
    let sent: u64 = within(DEADLINE, "20 concurrent clients", move || {
        let clients: Vec<_> = (0..20u64)
            .map(|i| {
                thread::spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i + 1));
                    let stream = connect(addr);
                    let mut sent = 0;
                    for request in 0..4 {
                        let len = match (i, request) {
                            (0 | 1, 0) => 1 << 20,
                            _ => 1 + rng.below(16 * 1024),
                        };
                        let payload = rng.payload(len);
                        let reply = round_trip(&stream, &payload, rng.next());
                        assert!(
                            reply == payload.to_ascii_uppercase(),
                            "client {i}, request {request}: wrong reply"
                        );
                        sent += len as u64;
                    }
                    sent
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).sum()
    });
    let stats = server.stop();
    assert_eq!(stats.accepted, 20);
    assert_eq!(stats.refused, 0);
    assert_eq!(stats.bytes_in, sent);
    assert_eq!(stats.bytes_out, sent, "every byte answered");
    assert!((1..=20).contains(&stats.peak_connections), "{stats:?}");
}

/// `EchoMode::Exact` sends the bytes back unchanged.
pub fn exact_mode(model: impl Into<Subject>) {
    let _fd = shared();
    let server = Server::start(
        model,
        ServerConfig {
            mode: EchoMode::Exact,
            ..config()
        },
    );
    let stream = connect(server.addr);
    assert_eq!(echo(&stream, b"Hello, World").unwrap(), b"Hello, World");
    drop(stream);
    server.stop();
}

/// The client sends everything, then shuts its write side: the server
/// still answers every byte (more than `max_buffered`, so some waits in
/// the server after the EOF), then closes.
pub fn half_close(model: impl Into<Subject>) {
    let _fd = shared();
    let server = Server::start(
        model,
        ServerConfig {
            max_buffered: 16 * 1024,
            ..config()
        },
    );
    let addr = server.addr;
    let payload = Rng(7).payload(256 * 1024);
    let expected = payload.to_ascii_uppercase();
    let reply = within(DEADLINE, "half-closed client gets its replies", move || {
        let stream = connect(addr);
        thread::scope(|scope| {
            scope.spawn(|| {
                let mut rng = Rng(11);
                let mut sent = 0;
                while sent < payload.len() {
                    let end = (sent + rng.chunk()).min(payload.len());
                    (&stream).write_all(&payload[sent..end]).unwrap();
                    sent = end;
                }
                stream.shutdown(Half::Write).unwrap();
            });
            let mut reply = Vec::new();
            // Ends at the server's close; an error (timeout) fails the test.
            (&stream)
                .read_to_end(&mut reply)
                .expect("EOF after the replies");
            reply
        })
    });
    assert!(
        reply == expected,
        "got {} of {} bytes",
        reply.len(),
        expected.len()
    );
    let stats = server.stop();
    assert_eq!(stats.bytes_out, 256 * 1024);
}

/// Clients that reset their connection (one with a request in flight) free
/// their slot: with room for 2, five clients in a row are served.
#[cfg(unix)]
pub fn abrupt_reset(model: impl Into<Subject>) {
    let _fd = shared();
    let server = Server::start(
        model,
        ServerConfig {
            max_connections: 2,
            ..config()
        },
    );
    let addr = server.addr;
    within(DEADLINE, "clients that reset", move || {
        for round in 0..5 {
            let mut served = None;
            eventually(
                DEADLINE,
                "a slot is free (reset connections are closed)",
                || {
                    let stream = connect(addr);
                    // Refused while the server still holds reset connections.
                    if echo(&stream, b"ping").is_ok_and(|r| r == b"PING") {
                        served = Some(stream);
                        true
                    } else {
                        false
                    }
                },
            );
            let stream = served.unwrap();
            if round % 2 == 1 {
                // A request the reset interrupts: its reply meets a closed socket.
                (&stream).write_all(&Rng(round).payload(32 * 1024)).unwrap();
            }
            set_linger_zero(&stream);
            drop(stream); // RST
        }
    });
    let stats = server.stop();
    assert!(stats.accepted >= 5, "{stats:?}");
    assert!(stats.peak_connections <= 2, "{stats:?}");
}

/// A client that sends without ever reading: the server stops reading it
/// once `max_buffered` replies wait, so its writes block, and the server
/// holds at most `max_buffered` for it; the other clients are unaffected.
pub fn client_that_never_reads(model: impl Into<Subject>) {
    const MAX_BUFFERED: usize = 64 * 1024;
    const LIMIT: u64 = 256 << 20; // what an unbounded server would swallow
    let _fd = shared();
    let server = Server::start(
        model,
        ServerConfig {
            max_buffered: MAX_BUFFERED,
            ..config()
        },
    );
    let addr = server.addr;
    let sent = Arc::new(AtomicU64::new(0));
    let (tid_tx, tid_rx) = mpsc::channel();
    let stuck = {
        let sent = sent.clone();
        thread::spawn(move || {
            let stream = connect(addr);
            tid_tx.send(current_tid()).unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            while sent.load(SeqCst) < LIMIT {
                match (&stream).write(&chunk) {
                    Ok(n) => sent.fetch_add(n as u64, SeqCst),
                    Err(_) => break, // the server closed it at shutdown
                };
            }
            stream
        })
    };
    let tid = tid_rx.recv_timeout(DEADLINE).unwrap();
    // Blocked in write: the kernel buffers are full because the server
    // stopped reading (an unbounded server would let it run to LIMIT).
    wait_until_parked(DEADLINE, "the non-reading client's write blocks", tid);
    // Meanwhile others are served.
    let other = connect(addr);
    for i in 0..3u64 {
        let payload = Rng(i + 100).payload(100_000);
        assert!(round_trip(&other, &payload, i) == payload.to_ascii_uppercase());
    }
    drop(other);
    let stats = server.stop();
    let stuck_stream = within(DEADLINE, "the stuck client ends", move || {
        stuck.join().unwrap()
    });
    drop(stuck_stream);
    let sent = sent.load(SeqCst);
    assert!(
        sent < LIMIT,
        "the client was never stopped: {sent} bytes taken"
    );
    assert!(stats.bytes_in <= sent + 300_000, "{stats:?}, sent {sent}");
    // Everything read was answered, except what waited for the stuck client:
    // at most max_buffered.
    let held = stats.bytes_in - stats.bytes_out;
    assert!(
        held <= MAX_BUFFERED as u64,
        "the server held {held} bytes (> {MAX_BUFFERED})"
    );
}

/// 40 connections past a cap of 8: each is accepted and closed at once; the
/// 8 keep working; a freed slot is reused.
pub fn flood_past_max_connections(model: impl Into<Subject>) {
    let _fd = shared();
    let server = Server::start(
        model,
        ServerConfig {
            max_connections: 8,
            ..config()
        },
    );
    let addr = server.addr;
    within(DEADLINE, "a connection flood", move || {
        let mut kept: Vec<_> = (0..8).map(|_| connect(addr)).collect();
        for stream in &kept {
            assert_eq!(echo(stream, b"in").unwrap(), b"IN");
        }
        let flood: Vec<_> = (0..40).map(|_| connect(addr)).collect();
        for stream in &flood {
            let _ = (&*stream).write_all(b"more");
            assert!(
                is_closed_by_server(stream),
                "a connection past the cap was served"
            );
        }
        for stream in &kept {
            assert_eq!(echo(stream, b"still").unwrap(), b"STILL");
        }
        drop(kept.pop());
        eventually(DEADLINE, "the freed slot serves a new client", || {
            echo(&connect(addr), b"new").is_ok_and(|r| r == b"NEW")
        });
    });
    let stats = server.stop();
    assert!(stats.refused >= 40, "{stats:?}");
    assert_eq!(stats.peak_connections, 8, "{stats:?}");
}

/// A silent connection is closed after the idle timeout, not before.
pub fn idle_timeout(model: impl Into<Subject>) {
    const IDLE: Duration = Duration::from_millis(200);
    let _fd = shared();
    let server = Server::start(
        model,
        ServerConfig {
            idle_timeout: Some(IDLE),
            ..config()
        },
    );
    let addr = server.addr;
    let waited = within(DEADLINE, "the idle connection is closed", move || {
        let start = Instant::now();
        let stream = connect(addr);
        assert_eq!(echo(&stream, b"hi").unwrap(), b"HI");
        assert!(is_closed_by_server(&stream));
        start.elapsed()
    });
    assert!(
        waited >= IDLE,
        "closed after {waited:?}, before the timeout"
    );
    let stats = server.stop();
    assert_eq!(stats.closed_idle, 1, "{stats:?}");
}

/// Shutdown while 6 clients are sending: the server stops, closes them, and
/// returns its stats; the clients see EOF or a reset, not a hang.
pub fn shutdown_while_busy(model: impl Into<Subject>) {
    let _fd = shared();
    let server = Server::start(model, config());
    let addr = server.addr;
    let replies: Arc<Vec<AtomicU64>> = Arc::new((0..6).map(|_| AtomicU64::new(0)).collect());
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let replies = replies.clone();
            let stream = connect(addr);
            thread::spawn(move || {
                let payload = Rng(i as u64 + 1).payload(8 * 1024);
                // Until the server closes the connection (bounded anyway).
                for _ in 0..1_000_000 {
                    if echo(&stream, &payload).is_err() {
                        break;
                    }
                    replies[i].fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    eventually(DEADLINE, "every client is being served", || {
        replies.iter().all(|r| r.load(SeqCst) >= 10)
    });
    let stats = server.stop();
    assert_eq!(stats.accepted, 6);
    assert!(stats.bytes_out >= 60 * 8 * 1024);
    let rebound = std::net::TcpListener::bind(addr).expect("the port is free after the shutdown");
    drop(rebound);
    within(DEADLINE, "every client ends", move || {
        for client in clients {
            client.join().unwrap();
        }
    });
}

/// False, with a `skipped:` line naming the cause, if the model cannot run
/// on this machine (io_uring missing or forbidden, say).
pub fn runs_here(subject: impl Into<Subject>) -> bool {
    let model = subject.into().model;
    match synclings::net::check(model) {
        Ok(()) => true,
        Err(e) => {
            println!("skipped: {e}");
            false
        }
    }
}
