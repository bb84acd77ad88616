//! Every echo server model (blocking, thread pool, busy-poll, selector,
//! selector per core, `select(2)`, `poll(2)`) against the same scenarios,
//! one test per model and scenario: many concurrent clients with random
//! payloads and split writes, half-close, abrupt resets, a client that never
//! reads, a connection flood, the idle timeout, a shutdown while busy; then
//! the descriptor limits (`FD_SETSIZE`, `EMFILE`). The selector server runs
//! the scenarios on every selector backend (`selector_on_poll`, ...).
//!
//! Loopback only; every loop is bounded in count, every wait by a deadline.
#![cfg(not(loom))]

use std::io::{self, Read, Write};
use std::net::{Shutdown as Half, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, RwLock, RwLockReadGuard};
use std::thread;
use std::time::{Duration, Instant};

use synclings::net::{start, EchoMode, Model, RunningServer, ServerConfig, ServerStats};
use synclings::selector::BackendKind;
use synclings::testing::{current_tid, eventually, wait_until_parked, within, DEADLINE};

// ---------------------------------------------------------------- helpers

/// Tests that fill the descriptor table run alone: the others take this
/// lock shared, those exclusively.
static FD_TABLE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FD_TABLE.read().unwrap_or_else(|e| e.into_inner())
}

/// Small limits; 8 workers, so that the thread pool (a worker per
/// connection at a time) serves every client of a scenario at once.
fn config() -> ServerConfig {
    ServerConfig {
        workers: 8,
        ..ServerConfig::default()
    }
}

/// What a scenario runs on: a model, and for the selector models the
/// selector backend (the platform's default unless a row says otherwise).
#[derive(Clone, Copy, Debug)]
struct Subject {
    model: Model,
    selector: BackendKind,
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
struct Server {
    running: Option<RunningServer>,
    addr: SocketAddr,
}

impl Server {
    fn start(subject: impl Into<Subject>, config: ServerConfig) -> Server {
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

    fn stop(mut self) -> ServerStats {
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
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// One small request and its reply (small: fits in the socket buffers).
fn echo(stream: &TcpStream, message: &[u8]) -> io::Result<Vec<u8>> {
    (&*stream).write_all(message)?;
    let mut reply = vec![0; message.len()];
    (&*stream).read_exact(&mut reply)?;
    Ok(reply)
}

/// What a refused (or closed) connection gives a reader: EOF or a reset.
fn is_closed_by_server(stream: &TcpStream) -> bool {
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
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Random bytes, half of them lowercase letters (so that uppercasing
    /// shows).
    fn payload(&mut self, len: usize) -> Vec<u8> {
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
    fn chunk(&mut self) -> usize {
        match self.below(3) {
            0 => 1 + self.below(8),
            1 => 1 + self.below(1024),
            _ => 1 + self.below(64 * 1024),
        }
    }
}

/// Sends `payload` in random pieces from a second thread while this one
/// reads the whole reply: works for any size (no deadlock on full buffers).
fn round_trip(stream: &TcpStream, payload: &[u8], seed: u64) -> Vec<u8> {
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
fn set_linger_zero(stream: &TcpStream) {
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
fn concurrent_clients(model: impl Into<Subject>) {
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
fn exact_mode(model: impl Into<Subject>) {
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
fn half_close(model: impl Into<Subject>) {
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
fn abrupt_reset(model: impl Into<Subject>) {
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
fn client_that_never_reads(model: impl Into<Subject>) {
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
fn flood_past_max_connections(model: impl Into<Subject>) {
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
fn idle_timeout(model: impl Into<Subject>) {
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
fn shutdown_while_busy(model: impl Into<Subject>) {
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
fn runs_here(subject: impl Into<Subject>) -> bool {
    let model = subject.into().model;
    match synclings::net::check(model) {
        Ok(()) => true,
        Err(e) => {
            println!("skipped: {e}");
            false
        }
    }
}

macro_rules! model_tests {
    ($($(#[$meta:meta])* $module:ident: $model:expr;)*) => {$(
        $(#[$meta])*
        mod $module {
            use super::*;
            #[test]
            fn concurrent_clients_with_random_split_payloads() {
                if runs_here($model) {
                    concurrent_clients($model);
                }
            }
            #[test]
            fn exact_echo_mode() {
                if runs_here($model) {
                    exact_mode($model);
                }
            }
            #[test]
            fn half_close_gets_every_reply_then_eof() {
                if runs_here($model) {
                    half_close($model);
                }
            }
            #[cfg(unix)] // SO_LINGER through libc
            #[test]
            fn abrupt_resets_free_their_slots() {
                if runs_here($model) {
                    abrupt_reset($model);
                }
            }
            #[test]
            fn a_client_that_never_reads_is_bounded() {
                if runs_here($model) {
                    client_that_never_reads($model);
                }
            }
            #[test]
            fn a_flood_past_max_connections_is_refused() {
                if runs_here($model) {
                    flood_past_max_connections($model);
                }
            }
            #[test]
            fn idle_connections_are_closed() {
                if runs_here($model) {
                    idle_timeout($model);
                }
            }
            #[test]
            fn shutdown_while_busy_returns() {
                if runs_here($model) {
                    shutdown_while_busy($model);
                }
            }
        }
    )*};
}

model_tests! {
    blocking: Model::Blocking;
    thread_pool: Model::ThreadPool;
    busy_poll: Model::BusyPoll;
    selector: Model::Selector;
    selector_per_core: Model::SelectorPerCore;
    #[cfg(unix)]
    select: Model::Select;
    #[cfg(unix)]
    poll: Model::Poll;
    asyncio: Model::Asyncio;
    #[cfg(target_os = "linux")]
    sigio: Model::Sigio;
    #[cfg(target_os = "linux")]
    uring: Model::Uring;
    // The selector server on every other backend (`selector` above runs on
    // the default: epoll on Linux).
    #[cfg(unix)]
    selector_on_poll: (Model::Selector, BackendKind::Poll);
    #[cfg(unix)]
    selector_on_select: (Model::Selector, BackendKind::Select);
    selector_on_polling: (Model::Selector, BackendKind::Polling);
    selector_per_core_on_polling: (Model::SelectorPerCore, BackendKind::Polling);
}

// ------------------------------------------------- the descriptor limits

/// The descriptor limits (`RLIMIT_NOFILE`, `FD_SETSIZE`, `EMFILE`) are Unix
/// notions; the `EMFILE` tests watch threads through Linux's `/proc`.
#[cfg(unix)]
mod descriptors {
    use super::*;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::RwLockWriteGuard;

    fn exclusive() -> RwLockWriteGuard<'static, ()> {
        FD_TABLE.write().unwrap_or_else(|e| e.into_inner())
    }

    /// One round trip: the server is in its loop, with every descriptor it
    /// needs open. Keep the connection: closing it would free a descriptor of
    /// the server's later, at a moment the test does not choose.
    fn served_once(addr: SocketAddr) -> TcpStream {
        let stream = connect(addr);
        assert_eq!(echo(&stream, b"up?").unwrap(), b"UP?");
        stream
    }

    /// Soft `RLIMIT_NOFILE`, restored on drop.
    struct FdLimit {
        saved: libc::rlimit,
    }

    impl FdLimit {
        fn get() -> libc::rlimit {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // Safety: getrlimit writes one rlimit into the live local.
            assert_eq!(
                unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
                0
            );
            limit
        }

        fn set(limit: &libc::rlimit) -> bool {
            // Safety: setrlimit reads one rlimit from the live reference.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) == 0 }
        }

        /// Sets the soft limit to `soft` (at most the hard limit); `None`, with
        /// the reason printed, if the hard limit is below `soft`.
        fn soft(soft: libc::rlim_t) -> Option<FdLimit> {
            let saved = Self::get();
            if saved.rlim_max < soft {
                println!(
                    "skipped: the hard RLIMIT_NOFILE is {} (< {soft})",
                    saved.rlim_max
                );
                return None;
            }
            let new = libc::rlimit {
                rlim_cur: soft,
                rlim_max: saved.rlim_max,
            };
            assert!(Self::set(&new), "setrlimit");
            Some(FdLimit { saved })
        }
    }

    impl Drop for FdLimit {
        fn drop(&mut self) {
            Self::set(&self.saved);
        }
    }

    /// Duplicates `fd` until the duplicates take every free number below
    /// `below` (the kernel hands out the lowest free number) or the table is
    /// full.
    fn fill_descriptors(fd: &OwnedFd, below: i32) -> Vec<OwnedFd> {
        let mut taken = Vec::new();
        for _ in 0..100_000 {
            match fd.try_clone() {
                Ok(dup) => {
                    let number = dup.as_raw_fd();
                    taken.push(dup);
                    if number >= below - 1 {
                        break;
                    }
                }
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
        }
        taken
    }

    /// A connection whose descriptor would be 1024 or more: the select server
    /// refuses it cleanly (an fd_set has 1024 bits), the poll and selector
    /// servers serve it.
    fn descriptor_past_fd_setsize(subject: impl Into<Subject>) -> ServerStats {
        let subject = subject.into();
        let _fd = exclusive();
        let Some(_limit) = FdLimit::soft(FdLimit::get().rlim_cur.max(1200)) else {
            return ServerStats::default();
        };
        let server = Server::start(subject, config());
        let addr = server.addr;
        let _up = served_once(addr);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let filler = OwnedFd::from(a);
        let taken = fill_descriptors(&filler, 1030);
        assert!(
            taken.last().unwrap().as_raw_fd() >= 1029,
            "every number below 1030 is taken"
        );
        let client = connect(addr);
        let _ = (&client).write_all(b"high");
        let uses_select = matches!(
            (subject.model, subject.selector),
            (Model::Select, _) | (Model::Selector, BackendKind::Select)
        );
        let served = match uses_select {
            true => {
                assert!(
                    is_closed_by_server(&client),
                    "select cannot watch fd >= 1024: refused"
                );
                false
            }
            false => {
                let mut reply = [0u8; 4];
                (&client).read_exact(&mut reply).unwrap();
                assert_eq!(&reply, b"HIGH");
                true
            }
        };
        drop(client);
        drop(taken);
        // Low numbers are free again: served as usual.
        let low = connect(addr);
        assert_eq!(echo(&low, b"low").unwrap(), b"LOW");
        drop(low);
        let stats = server.stop();
        assert_eq!(stats.accepted, 2 + served as u64, "{stats:?}");
        stats
    }

    #[test]
    fn select_refuses_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Select);
        assert!(
            stats.refused >= 1 || stats == ServerStats::default(),
            "{stats:?}"
        );
    }

    #[test]
    fn poll_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Poll);
        assert_eq!(stats.refused, 0);
    }

    #[test]
    fn selector_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Selector);
        assert_eq!(stats.refused, 0);
    }

    #[test]
    fn selector_on_select_refuses_a_descriptor_past_fd_setsize() {
        // SelectSelector's register refuses it (OutOfRange): the server
        // closes the connection and counts it refused, not accepted.
        let stats = descriptor_past_fd_setsize((Model::Selector, BackendKind::Select));
        assert!(
            stats.refused >= 1 || stats == ServerStats::default(),
            "{stats:?}"
        );
    }

    #[test]
    fn selector_on_poll_and_polling_serve_a_descriptor_past_fd_setsize() {
        for backend in [BackendKind::Poll, BackendKind::Polling] {
            let stats = descriptor_past_fd_setsize((Model::Selector, backend));
            assert_eq!(stats.refused, 0, "{backend}");
        }
    }

    /// A `/proc` file opened once and read again from the start on demand: no
    /// descriptor is needed to read it while the table is full. `None` once the
    /// thread has exited.
    #[cfg(target_os = "linux")]
    struct ProcFile(std::fs::File);

    #[cfg(target_os = "linux")]
    impl ProcFile {
        fn open(path: String) -> Option<ProcFile> {
            std::fs::File::open(path).ok().map(ProcFile)
        }

        fn read(&mut self) -> Option<String> {
            use std::io::Seek;
            self.0.rewind().ok()?;
            let mut text = String::new();
            self.0.read_to_string(&mut text).ok()?;
            Some(text)
        }
    }

    /// A server thread watched through `/proc/self/task/TID/{stat,status}`.
    #[cfg(target_os = "linux")]
    struct Watched {
        stat: ProcFile,
        status: ProcFile,
    }

    #[cfg(target_os = "linux")]
    impl Watched {
        /// `None` if the thread is gone.
        fn new(tid: u32) -> Option<Watched> {
            Some(Watched {
                stat: ProcFile::open(format!("/proc/self/task/{tid}/stat"))?,
                status: ProcFile::open(format!("/proc/self/task/{tid}/status"))?,
            })
        }

        /// Asleep in the kernel (state S), or gone: not running or spinning.
        fn asleep(&mut self) -> bool {
            let Some(stat) = self.stat.read() else {
                return true;
            };
            stat.rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|state| state == "S")
        }

        /// Voluntary context switches: one more each time it goes to sleep.
        fn sleeps(&mut self) -> Option<u64> {
            self.status
                .read()?
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse().ok())
        }
    }

    /// Waits until every watched thread is asleep on three checks in a row.
    #[cfg(target_os = "linux")]
    fn all_stay_asleep(threads: &mut [Watched], what: &str) {
        let mut in_a_row = 0;
        eventually(DEADLINE, what, || {
            in_a_row = if threads.iter_mut().all(Watched::asleep) {
                in_a_row + 1
            } else {
                0
            };
            in_a_row >= 3
        });
    }

    /// With the descriptor table full, `accept` fails with `EMFILE` while a
    /// connection waits: the server pauses accepting (it sleeps, it does not
    /// spin on the ever-ready listener) and serves the client once descriptors
    /// are free again.
    #[cfg(target_os = "linux")]
    fn emfile_does_not_spin(model: impl Into<Subject>) {
        let _fd = exclusive();
        let server = Server::start(model, config());
        let addr = server.addr;
        let _up = served_once(addr);
        // Every other thread (the server's among them), watched through files
        // opened now: once the table is full nothing can be opened.
        let me = current_tid();
        let mut all: Vec<_> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&tid| tid != me)
            .filter_map(Watched::new)
            .collect();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let filler = OwnedFd::from(a);
        // A soft limit just above what is open, so that filling it is quick.
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::rlim_t>().ok())
            .max()
            .unwrap();
        let Some(limit) = FdLimit::soft(highest + 64) else {
            return;
        };
        let mut taken = fill_descriptors(&filler, i32::MAX);
        // One number for the client's socket; none for the server's accept.
        taken.pop();
        // Nothing runs now (the idle timeout is a minute away): the only wake-up
        // to come is the connection's.
        all_stay_asleep(&mut all, "every thread sleeps before the connection");
        let before: Vec<_> = all.iter_mut().map(Watched::sleeps).collect();
        let client = connect(addr);
        // The server woke for the connection, failed to accept it, and went back
        // to sleep (a server spinning on the ready listener never sleeps again)...
        eventually(
            DEADLINE,
            "a server thread sleeps again after EMFILE",
            || {
                all.iter_mut()
                    .zip(&before)
                    .any(|(thread, &before)| thread.sleeps() > before)
            },
        );
        // ...and stays asleep, as every other thread, until the pause ends.
        all_stay_asleep(&mut all, "no thread spins while accept fails");
        drop(taken);
        drop(limit);
        // The paused listener is watched again: the waiting client is served.
        assert_eq!(echo(&client, b"later").unwrap(), b"LATER");
        drop(client);
        let stats = server.stop();
        assert_eq!(stats.accepted, 2, "{stats:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selector_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Selector);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selector_per_core_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::SelectorPerCore);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn select_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Select);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn poll_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Poll);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selector_on_poll_and_polling_pause_accept_on_emfile() {
        emfile_does_not_spin((Model::Selector, BackendKind::Poll));
        emfile_does_not_spin((Model::Selector, BackendKind::Polling));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn asyncio_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Asyncio);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sigio_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Sigio);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sigio_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Sigio);
        assert_eq!(stats.refused, 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn uring_pauses_accept_on_emfile() {
        if runs_here(Model::Uring) {
            emfile_does_not_spin(Model::Uring);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn uring_serves_a_descriptor_past_fd_setsize() {
        if runs_here(Model::Uring) {
            let stats = descriptor_past_fd_setsize(Model::Uring);
            assert_eq!(stats.refused, 0);
        }
    }

    /// With `RLIMIT_SIGPENDING` at 0 no real-time signal can be queued: the
    /// kernel sends a plain `SIGIO` instead, which names no descriptor, and
    /// the sigio server must rescan every connection. Without that fallback
    /// the events are lost and the clients wait for replies forever.
    #[cfg(target_os = "linux")]
    #[test]
    fn sigio_survives_an_overflowing_signal_queue() {
        let _fd = exclusive();
        let mut saved = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // Safety: getrlimit/setrlimit read and write one live rlimit.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut saved) },
            0
        );
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: saved.rlim_max,
        };
        assert_eq!(
            unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &none) },
            0
        );
        struct Restore(libc::rlimit);
        impl Drop for Restore {
            fn drop(&mut self) {
                // Safety: as above.
                unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &self.0) };
            }
        }
        let _restore = Restore(saved);
        let server = Server::start(Model::Sigio, config());
        let addr = server.addr;
        within(
            DEADLINE,
            "8 clients served through SIGIO rescans",
            move || {
                let clients: Vec<_> = (0..8u64)
                    .map(|i| {
                        thread::spawn(move || {
                            let stream = connect(addr);
                            for request in 0..20 {
                                let payload = Rng(i * 100 + request + 1).payload(3000);
                                let reply = round_trip(&stream, &payload, i + request);
                                assert!(reply == payload.to_ascii_uppercase(), "client {i}");
                            }
                        })
                    })
                    .collect();
                for client in clients {
                    client.join().unwrap();
                }
            },
        );
        let stats = server.stop();
        assert_eq!(stats.accepted, 8, "{stats:?}");
        assert_eq!(stats.bytes_out, 8 * 20 * 3000, "{stats:?}");
    }

    #[test]
    fn asyncio_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Asyncio);
        assert_eq!(stats.refused, 0);
    }
}
