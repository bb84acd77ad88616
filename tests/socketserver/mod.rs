//! `synclings::net::socketserver`: `TcpServer`, `ThreadingTcpServer` and
//! (Unix) `ForkingTcpServer` with question 10's caps. A handler's panic is
//! contained; `max_children` holds under a flood (the handlers are counted
//! by the test, apart from the server's own counts) and the rest is refused;
//! the per-client cap holds; `shutdown` returns while handlers block; a
//! killed worker process is replaced.
//!
//! Every handler here greets its client with a line (its process id) before
//! anything else, so a client knows whether it got a handler (a line) or
//! was refused (EOF) without any timing.
//!
//! `harness = false`: `main` calls `ipc::init` first (the forking server's
//! workers are re-runs of this binary); `tests/net_socketserver.rs` is the
//! binary's root.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use synclings::net::socketserver::{
    BaseRequestHandler, Limits, Request, Stats, TcpServer, ThreadingTcpServer,
};
use synclings::testing::{eventually, run_tests, within, Test, DEADLINE};

#[cfg(unix)]
use synclings::ipc::{self, entry, Entry};
#[cfg(unix)]
use synclings::net::socketserver::{handler, ForkingTcpServer};

#[cfg(unix)]
const UPPER: Entry = handler!(upper);
#[cfg(unix)]
static ENTRIES: &[Entry] = &[UPPER, entry!(not_a_handler)];

const TESTS: &[Test] = &[
    (
        "tcp_server_serves_one_request_at_a_time",
        tcp_server_serves_one_request_at_a_time,
    ),
    (
        "tcp_server_shutdown_returns_while_its_handler_blocks",
        tcp_server_shutdown_returns_while_its_handler_blocks,
    ),
    (
        "threading_handler_panics_and_errors_are_contained",
        threading_handler_panics_and_errors_are_contained,
    ),
    (
        "threading_max_children_holds_under_a_flood",
        threading_max_children_holds_under_a_flood,
    ),
    (
        "threading_max_per_client_holds",
        threading_max_per_client_holds,
    ),
    (
        "threading_shutdown_returns_while_handlers_block",
        threading_shutdown_returns_while_handlers_block,
    ),
    (
        "threading_shutdown_leaves_a_stuck_handler_after_the_grace",
        threading_shutdown_leaves_a_stuck_handler_after_the_grace,
    ),
    ("invalid_limits_are_errors", invalid_limits_are_errors),
    #[cfg(unix)]
    (
        "forking_serves_from_worker_processes_and_contains_a_panic",
        forking_serves_from_worker_processes_and_contains_a_panic,
    ),
    #[cfg(unix)]
    (
        "forking_max_children_holds_across_processes_under_a_flood",
        forking_max_children_holds_across_processes_under_a_flood,
    ),
    #[cfg(unix)]
    (
        "forking_max_per_client_holds_across_processes",
        forking_max_per_client_holds_across_processes,
    ),
    #[cfg(unix)]
    (
        "forking_a_killed_worker_is_replaced",
        forking_a_killed_worker_is_replaced,
    ),
    #[cfg(unix)]
    (
        "forking_shutdown_returns_while_handlers_block",
        forking_shutdown_returns_while_handlers_block,
    ),
    #[cfg(unix)]
    (
        "forking_needs_a_registered_handler_entry",
        forking_needs_a_registered_handler_entry,
    ),
];

pub fn main() -> ExitCode {
    #[cfg(unix)]
    ipc::init(ENTRIES);
    run_tests(TESTS)
}

// ---------------------------------------------------------------- handlers

/// The seed's handler: greets with this process's id, then replies to each
/// read with its bytes uppercased until EOF; `panic` panics, `fail` fails.
fn upper(req: &mut Request<'_>) -> io::Result<()> {
    writeln!(req.request, "{}", std::process::id())?;
    let mut data = [0; 1024];
    loop {
        let n = req.request.read(&mut data)?;
        match &data[..n] {
            [] => return Ok(()),
            b"panic" => panic!("the client asked for a panic"),
            b"fail" => return Err(io::Error::other("the client asked for an error")),
            bytes => req.request.write_all(&bytes.to_ascii_uppercase())?,
        }
    }
}

/// An entry that is not a handler's (its arguments are not a worker's).
#[cfg(unix)]
fn not_a_handler(_: ()) {}

/// [`upper`], counting the handlers running at once (the test's own count,
/// apart from the server's).
#[derive(Default)]
struct Counted {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// The handler side of a shared [`Counted`].
struct CountedHandler(Arc<Counted>);

impl BaseRequestHandler for CountedHandler {
    fn setup(&self, _: &mut Request<'_>) -> io::Result<()> {
        let now = self.0.now.fetch_add(1, SeqCst) + 1;
        self.0.peak.fetch_max(now, SeqCst);
        Ok(())
    }

    fn handle(&self, req: &mut Request<'_>) -> io::Result<()> {
        upper(req)
    }

    fn finish(&self, _: &mut Request<'_>) -> io::Result<()> {
        self.0.now.fetch_sub(1, SeqCst);
        Ok(())
    }
}

// ----------------------------------------------------------------- helpers

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// The greeting line's process id, or `None` if the server closed the
/// connection first (refused). A read timeout fails the test.
fn greeting(stream: &mut TcpStream) -> Option<u32> {
    let mut line = Vec::new();
    let mut byte = [0; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("neither a greeting nor a close within {DEADLINE:?}: {e}"),
        }
    }
    let text = String::from_utf8(line).expect("a text greeting");
    Some(text.parse().expect("a process id"))
}

/// One request and its reply.
fn echo(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("send");
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply).expect("the reply");
    reply
}

/// True once the server has closed `stream` (EOF or a reset).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    match stream.read(&mut [0; 16]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

/// `n` clients, each greeted or refused: (the greeted, still open; the
/// number refused).
fn flood(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, usize) {
    let mut greeted = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        let mut c = connect(addr);
        match greeting(&mut c) {
            Some(_) => greeted.push(c),
            None => refused += 1,
        }
    }
    (greeted, refused)
}

/// `server.serve_forever()` on a thread of its own.
fn serve<S: Send + Sync + 'static>(
    server: &Arc<S>,
    run: fn(&S) -> io::Result<()>,
) -> JoinHandle<io::Result<()>> {
    let server = server.clone();
    thread::spawn(move || run(&server))
}

fn threading(limits: Limits) -> (Arc<ThreadingTcpServer>, Arc<Counted>) {
    let counted = Arc::new(Counted::default());
    let server =
        ThreadingTcpServer::bind_with("127.0.0.1:0", CountedHandler(counted.clone()), limits)
            .expect("the server binds");
    (Arc::new(server), counted)
}

/// Shuts `server` down within the deadline, and its loop returns `Ok`.
fn stop<S: Send + Sync + 'static>(
    server: Arc<S>,
    loop_thread: JoinHandle<io::Result<()>>,
    shutdown: fn(&S) -> Stats,
) -> Stats {
    within(DEADLINE, "the shutdown returns", move || {
        let stats = shutdown(&server);
        loop_thread
            .join()
            .expect("serve_forever does not panic")
            .expect("serve_forever returns Ok");
        stats
    })
}

// --------------------------------------------------------------- TcpServer

fn tcp_server_serves_one_request_at_a_time() {
    let server = Arc::new(TcpServer::bind("127.0.0.1:0", upper).unwrap());
    let addr = server.server_address();
    assert!(addr.ip().is_loopback() && addr.port() > 0);
    let looping = serve(&server, TcpServer::serve_forever);
    let mut first = connect(addr);
    assert_eq!(greeting(&mut first), Some(std::process::id()));
    // The second waits in the backlog while the first is served.
    let mut second = connect(addr);
    second.write_all(b"early").unwrap();
    assert_eq!(echo(&mut first, b"one"), b"ONE");
    assert_eq!(server.stats().accepted, 1);
    drop(first);
    assert_eq!(greeting(&mut second), Some(std::process::id()));
    let mut reply = [0; 5];
    second.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"EARLY");
    drop(second);
    let stats = stop(server, looping, TcpServer::shutdown);
    assert_eq!(
        (stats.accepted, stats.refused, stats.peak_children),
        (2, 0, 1)
    );
}

fn tcp_server_shutdown_returns_while_its_handler_blocks() {
    let server = Arc::new(TcpServer::bind("127.0.0.1:0", upper).unwrap());
    let looping = serve(&server, TcpServer::serve_forever);
    let mut client = connect(server.server_address());
    // The handler runs on the loop's thread, blocked reading `client`.
    assert!(greeting(&mut client).is_some());
    let stats = stop(server, looping, TcpServer::shutdown);
    assert_eq!(stats.accepted, 1);
    assert!(closed_by_server(&mut client));
}

// ------------------------------------------------------ ThreadingTcpServer

fn threading_handler_panics_and_errors_are_contained() {
    let (server, counted) = threading(Limits::default());
    let looping = serve(&server, ThreadingTcpServer::serve_forever);
    let addr = server.server_address();
    let mut panicking = connect(addr);
    assert!(greeting(&mut panicking).is_some());
    panicking.write_all(b"panic").unwrap();
    assert!(
        closed_by_server(&mut panicking),
        "the panicking handler's connection closes"
    );
    let mut failing = connect(addr);
    assert!(greeting(&mut failing).is_some());
    failing.write_all(b"fail").unwrap();
    assert!(closed_by_server(&mut failing));
    // The server goes on; `finish` ran after the panic (the count is back).
    let mut after = connect(addr);
    assert!(greeting(&mut after).is_some());
    assert_eq!(echo(&mut after, b"still here"), b"STILL HERE");
    drop(after);
    eventually(DEADLINE, "every handler finished", || {
        counted.now.load(SeqCst) == 0
    });
    let stats = stop(server, looping, ThreadingTcpServer::shutdown);
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.handler_panics, 1);
    assert_eq!(stats.handler_errors, 1);
}

fn threading_max_children_holds_under_a_flood() {
    const CAP: usize = 4;
    const CLIENTS: usize = 24;
    let (server, counted) = threading(Limits {
        max_children: CAP,
        ..Limits::default()
    });
    let looping = serve(&server, ThreadingTcpServer::serve_forever);
    // Every greeted client keeps its handler busy (blocked reading).
    let (mut greeted, refused) = flood(server.server_address(), CLIENTS);
    assert_eq!(
        greeted.len(),
        CAP,
        "exactly the cap is served while all stay open"
    );
    assert_eq!(refused, CLIENTS - CAP);
    assert!(counted.peak.load(SeqCst) <= CAP, "the test's own count");
    let stats = server.stats();
    assert_eq!(stats.refused, (CLIENTS - CAP) as u64);
    assert_eq!(stats.peak_children, CAP as u64);
    // Those served are served well, and a freed slot is taken again.
    for c in &mut greeted {
        assert_eq!(echo(c, b"ok"), b"OK");
    }
    greeted.pop();
    eventually(DEADLINE, "a slot frees", || counted.now.load(SeqCst) < CAP);
    let (again, _) = flood(server.server_address(), 1);
    assert_eq!(again.len(), 1);
    drop((greeted, again));
    let stats = stop(server, looping, ThreadingTcpServer::shutdown);
    assert_eq!(stats.accepted, CAP as u64 + 1);
    assert!(counted.peak.load(SeqCst) <= CAP);
}

fn threading_max_per_client_holds() {
    let (server, counted) = threading(Limits {
        max_children: 16,
        max_per_client: Some(2),
        ..Limits::default()
    });
    let looping = serve(&server, ThreadingTcpServer::serve_forever);
    let (greeted, refused) = flood(server.server_address(), 6);
    assert_eq!((greeted.len(), refused), (2, 4), "one client IP: two slots");
    assert_eq!(counted.now.load(SeqCst), 2);
    drop(greeted);
    eventually(DEADLINE, "the client's slots free", || {
        counted.now.load(SeqCst) == 0
    });
    let (greeted, refused) = flood(server.server_address(), 3);
    assert_eq!((greeted.len(), refused), (2, 1));
    drop(greeted);
    let stats = stop(server, looping, ThreadingTcpServer::shutdown);
    assert_eq!((stats.refused, stats.refused_per_client), (5, 5));
    assert_eq!(stats.accepted, 4);
}

fn threading_shutdown_returns_while_handlers_block() {
    let (server, counted) = threading(Limits::default());
    let looping = serve(&server, ThreadingTcpServer::serve_forever);
    let (mut greeted, _) = flood(server.server_address(), 5);
    assert_eq!(greeted.len(), 5);
    let stats = stop(server, looping, ThreadingTcpServer::shutdown);
    assert_eq!(stats.accepted, 5);
    // The handlers were unblocked (their sockets shut down) and finished.
    assert_eq!(counted.now.load(SeqCst), 0);
    for c in &mut greeted {
        assert!(closed_by_server(c));
    }
}

fn threading_shutdown_leaves_a_stuck_handler_after_the_grace() {
    // A handler blocked on something that is not its socket.
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let limits = Limits {
        close_grace: Duration::from_millis(50),
        ..Limits::default()
    };
    let server = ThreadingTcpServer::bind_with(
        "127.0.0.1:0",
        move |req: &mut Request<'_>| {
            writeln!(req.request, "{}", std::process::id())?;
            let _ = gate.lock().unwrap().recv();
            Ok(())
        },
        limits,
    )
    .unwrap();
    let server = Arc::new(server);
    let looping = serve(&server, ThreadingTcpServer::serve_forever);
    let mut client = connect(server.server_address());
    assert!(greeting(&mut client).is_some());
    let stats = stop(server, looping, ThreadingTcpServer::shutdown);
    assert_eq!(stats.accepted, 1);
    release.send(()).unwrap();
}

fn invalid_limits_are_errors() {
    let bad = [
        Limits {
            max_children: 0,
            ..Limits::default()
        },
        Limits {
            max_per_client: Some(0),
            ..Limits::default()
        },
        Limits {
            workers: 0,
            ..Limits::default()
        },
    ];
    for limits in bad {
        let err = ThreadingTcpServer::bind_with("127.0.0.1:0", upper, limits.clone()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{limits:?}");
        let err = TcpServer::bind_with("127.0.0.1:0", upper, limits).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}

// -------------------------------------------------------- ForkingTcpServer

#[cfg(unix)]
fn forking(limits: Limits) -> (Arc<ForkingTcpServer>, JoinHandle<io::Result<()>>) {
    let server = Arc::new(ForkingTcpServer::bind_with("127.0.0.1:0", UPPER, limits).unwrap());
    let looping = serve(&server, ForkingTcpServer::serve_forever);
    (server, looping)
}

#[cfg(unix)]
fn forking_serves_from_worker_processes_and_contains_a_panic() {
    let (server, looping) = forking(Limits {
        workers: 2,
        ..Limits::default()
    });
    let addr = server.server_address();
    let mut client = connect(addr);
    let pid = greeting(&mut client).expect("served");
    assert_ne!(pid, std::process::id(), "a worker process serves");
    assert_eq!(echo(&mut client, b"from afar"), b"FROM AFAR");
    client.write_all(b"panic").unwrap();
    assert!(closed_by_server(&mut client));
    // The worker survived its handler's panic and the server goes on.
    let mut after = connect(addr);
    assert!(greeting(&mut after).is_some());
    assert_eq!(echo(&mut after, b"on"), b"ON");
    drop(after);
    let stats = stop(server, looping, ForkingTcpServer::shutdown);
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.handler_panics, 1);
    assert_eq!(
        stats.workers_replaced, 0,
        "a handler's panic kills no worker"
    );
}

#[cfg(unix)]
fn forking_max_children_holds_across_processes_under_a_flood() {
    const CAP: usize = 3;
    const CLIENTS: usize = 16;
    let (server, looping) = forking(Limits {
        workers: 2,
        max_children: CAP,
        ..Limits::default()
    });
    // Each greeted client holds a handler in some worker process.
    let (greeted, refused) = flood(server.server_address(), CLIENTS);
    assert_eq!(greeted.len(), CAP, "the cap holds across the workers");
    assert_eq!(refused, CLIENTS - CAP);
    let stats = server.stats();
    assert_eq!(stats.peak_children, CAP as u64);
    assert_eq!(stats.refused, (CLIENTS - CAP) as u64);
    drop(greeted);
    let stats = stop(server, looping, ForkingTcpServer::shutdown);
    assert_eq!(stats.accepted, CAP as u64);
}

#[cfg(unix)]
fn forking_max_per_client_holds_across_processes() {
    let (server, looping) = forking(Limits {
        workers: 2,
        max_children: 8,
        max_per_client: Some(2),
        ..Limits::default()
    });
    let (greeted, refused) = flood(server.server_address(), 5);
    assert_eq!((greeted.len(), refused), (2, 3));
    drop(greeted);
    let stats = stop(server, looping, ForkingTcpServer::shutdown);
    assert_eq!(stats.refused_per_client, 3);
}

#[cfg(unix)]
fn forking_a_killed_worker_is_replaced() {
    let (server, looping) = forking(Limits {
        workers: 1,
        ..Limits::default()
    });
    let addr = server.server_address();
    let mut client = connect(addr);
    let first = greeting(&mut client).expect("served");
    // SAFETY: `kill` with a pid we were just given by our own worker.
    assert_eq!(
        unsafe { libc::kill(first as libc::pid_t, libc::SIGKILL) },
        0
    );
    assert!(
        closed_by_server(&mut client),
        "the killed worker's client sees the close"
    );
    // The only worker died: a new one serves (same port).
    let mut next = connect(addr);
    let second = greeting(&mut next).expect("served by the replacement");
    assert_ne!(first, second);
    assert_eq!(echo(&mut next, b"new"), b"NEW");
    assert_eq!(server.stats().workers_replaced, 1);
    drop(next);
    let stats = stop(server, looping, ForkingTcpServer::shutdown);
    assert_eq!(stats.workers_replaced, 1);
}

#[cfg(unix)]
fn forking_shutdown_returns_while_handlers_block() {
    let (server, looping) = forking(Limits {
        workers: 2,
        ..Limits::default()
    });
    let (mut greeted, _) = flood(server.server_address(), 4);
    assert_eq!(greeted.len(), 4);
    let stats = stop(server, looping, ForkingTcpServer::shutdown);
    assert_eq!(stats.accepted, 4);
    for c in &mut greeted {
        assert!(closed_by_server(c));
    }
}

#[cfg(unix)]
fn forking_needs_a_registered_handler_entry() {
    let unknown: Entry = handler!("not in the table" => upper);
    let err = ForkingTcpServer::bind("127.0.0.1:0", unknown).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("ipc::init"), "{err}");
    // A process entry that is not a handler: its worker cannot start.
    let wrong = ENTRIES[1];
    let server = ForkingTcpServer::bind_with(
        "127.0.0.1:0",
        wrong,
        Limits {
            workers: 1,
            ..Limits::default()
        },
    )
    .unwrap();
    let err = within(DEADLINE, "serve_forever fails", move || {
        server.serve_forever().unwrap_err().to_string()
    });
    assert!(err.contains("did not start"), "{err}");
}
