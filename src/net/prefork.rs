//! **Pre-forked processes** (the article's 多进程, exam question 10's
//! `ForkingMixIn`): [`ServerConfig::workers`] worker processes, started
//! before any client comes, each running the [selector
//! loop](super::selector_server) on the one listening socket they all
//! inherited. A connection is served by whichever worker's `accept` wins.
//!
//! - **Started with [`ipc::Process`]**: a worker is a fresh run of the same
//!   binary (the "spawn" method; `fork` alone is unsafe in a threaded
//!   program), so a binary that serves this model calls
//!   `ipc::init(net::ENTRIES)` first thing in `main` (echo-server does).
//! - **One listener**: the parent keeps it bound (the port never changes,
//!   even while a worker is replaced) and passes it to each worker.
//! - **One `max_connections`** for all: the open count and the peak live in
//!   shared memory ([`ipc::Value`]), taken under its lock at each accept and
//!   close (never per request).
//! - **A worker that dies is replaced**, and counted in
//!   [`ServerStats::workers_replaced`]; its connections are lost with it
//!   (their clients see a reset), and so are its counts.
//! - **Shutdown reaches every worker**: each has a control connection to the
//!   parent; the parent sends `Stop` on each, every worker closes its
//!   connections and answers with its counts, and the parent waits for all
//!   of them. A worker whose parent dies sees its control connection close
//!   and stops too.
//!
//! Cost per request: the selector model's (no shared state is touched per
//! request); a new connection wakes every worker's `epoll_wait` on the
//! shared listener (the thundering herd) and takes the shared count's lock.
//! What it buys: the loops run on every core without threads, and a crash
//! of one worker takes down its connections only.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::core::{total, Admit};
use super::{selector_server, EchoMode, ServerConfig, ServerStats, Shutdown};
use crate::ipc::{self, Connection, Entry, Process, Value};
use crate::selector::{BackendKind, BaseSelector, DefaultSelector, Interest, WithBackend};

/// The worker's entry point, for the binary's table (see [`super::ENTRIES`]).
pub(crate) const WORKER: Entry = ipc::entry!("synclings::net::prefork" => worker);

/// How long the shutdown waits for a worker's counts before killing it.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// What the parent says on a worker's control connection.
#[derive(Serialize, Deserialize, Debug)]
enum Control {
    Stop,
}

/// The settings a worker needs (the parts of [`ServerConfig`] it uses).
#[derive(Serialize, Deserialize, Debug)]
struct WorkerConfig {
    max_connections: usize,
    max_buffered: usize,
    idle_timeout: Option<Duration>,
    exact: bool,
    read_chunk: usize,
    selector: String,
}

/// A worker's arguments: its control connection, the listener (its
/// descriptor rides in a `Connection`, the handle `ipc` passes descriptors
/// in; the worker takes it back out and never uses it as a connection),
/// the shared count, the settings.
#[derive(Deserialize)]
struct WorkerArgs {
    control: Connection,
    listener: Connection,
    count: Value<[u64; 2]>,
    config: WorkerConfig,
}

/// [`WorkerArgs`] as the parent sends them (the shared count and the
/// settings borrowed: every worker gets the same).
#[derive(Serialize)]
struct WorkerArgsRef<'a> {
    control: Connection,
    listener: Connection,
    count: &'a Value<[u64; 2]>,
    config: &'a WorkerConfig,
}

/// `max_connections` across processes: `[open, peak]` in shared memory.
struct SharedCount<'a> {
    shared: &'a Value<[u64; 2]>,
    max: usize,
}

impl Admit for SharedCount<'_> {
    fn try_admit(&self) -> bool {
        let mut counts = self.shared.lock();
        if counts[0] >= self.max as u64 {
            return false;
        }
        counts[0] += 1;
        counts[1] = counts[1].max(counts[0]);
        true
    }

    fn release(&self) {
        let mut counts = self.shared.lock();
        counts[0] = counts[0].saturating_sub(1);
    }

    fn peak(&self) -> usize {
        self.shared.get()[1] as usize
    }
}

/// A running worker and the parent's end of its control connection.
struct Worker {
    process: Process,
    control: Connection,
}

/// Serves with `config.workers` processes until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    let count = Value::new([0u64; 2])?;
    let worker_config = WorkerConfig {
        max_connections: config.max_connections,
        max_buffered: config.max_buffered,
        idle_timeout: config.idle_timeout,
        exact: config.mode == EchoMode::Exact,
        read_chunk: config.read_chunk,
        selector: config.selector.to_string(),
    };
    let start = |count: &Value<[u64; 2]>| -> io::Result<Worker> {
        let (control, theirs) = ipc::pipe(true)?;
        let carrier = Connection::from(UnixStream::from(listener.as_fd().try_clone_to_owned()?));
        let args = WorkerArgsRef {
            control: theirs,
            listener: carrier,
            count,
            config: &worker_config,
        };
        let process = Process::spawn(WORKER.name(), &args)?;
        Ok(Worker { process, control })
    };
    let mut workers = (0..config.workers)
        .map(|_| start(&count))
        .collect::<io::Result<Vec<_>>>()?;
    let mut replaced = 0;
    // Sleep until a worker dies (its control connection reaches EOF) or the
    // shutdown is requested.
    let mut sel = DefaultSelector::<usize>::new()?;
    shutdown.notify_on_request(sel.notifier());
    for (i, w) in workers.iter().enumerate() {
        sel.register(&w.control, Interest::READ, i)?;
    }
    let mut ready = Vec::new();
    while !shutdown.is_requested() {
        sel.select_into(None, &mut ready)?;
        for &(fd, _) in &ready {
            let Ok(key) = sel.get_key(&fd) else { continue };
            let i = key.data;
            if shutdown.is_requested() {
                break;
            }
            // Before the shutdown a worker says nothing: readable means dead.
            let _ = sel.unregister(&workers[i].control);
            let _ = workers[i].process.kill();
            let _ = workers[i].process.join();
            workers[i] = start(&count)?;
            replaced += 1;
            sel.register(&workers[i].control, Interest::READ, i)?;
        }
    }
    for w in &workers {
        let _ = sel.unregister(&w.control);
    }
    let mut all = Vec::new();
    for w in &mut workers {
        let _ = w.control.send(&Control::Stop);
    }
    for w in &mut workers {
        all.push(collect(w));
    }
    let mut stats = total(all);
    stats.peak_connections = SharedCount {
        shared: &count,
        max: config.max_connections,
    }
    .peak();
    stats.workers_replaced = replaced;
    Ok(stats)
}

/// A stopping worker's counts (none if it died first), and its exit.
fn collect(w: &mut Worker) -> ServerStats {
    let stats = match w.control.poll(Some(STOP_LIMIT)) {
        Ok(true) => w.control.recv::<ServerStats>().unwrap_or_default(),
        _ => ServerStats::default(),
    };
    let deadline = Instant::now() + STOP_LIMIT;
    if !matches!(
        w.process
            .join_timeout(deadline.saturating_duration_since(Instant::now())),
        Ok(Some(_))
    ) {
        let _ = w.process.kill();
        let _ = w.process.join();
    }
    stats
}

/// The worker process: the selector loop on the inherited listener until
/// the parent says stop (or goes away), then its counts to the parent.
fn worker(args: WorkerArgs) {
    let WorkerArgs {
        mut control,
        listener,
        count,
        config,
    } = args;
    let listener = match listener.as_fd().try_clone_to_owned() {
        Ok(fd) => TcpListener::from(fd),
        Err(e) => panic!("prefork worker: the listener did not arrive: {e}"),
    };
    let server_config = ServerConfig {
        max_connections: config.max_connections,
        max_buffered: config.max_buffered,
        idle_timeout: config.idle_timeout,
        mode: if config.exact {
            EchoMode::Exact
        } else {
            EchoMode::Upper
        },
        read_chunk: config.read_chunk,
        selector: config.selector.parse().unwrap_or(BackendKind::DEFAULT),
        ..ServerConfig::default()
    };
    let shutdown = Shutdown::new();
    let listen = control.try_clone().expect("prefork worker: clone the control connection");
    let stop = shutdown.clone();
    std::thread::spawn(move || {
        let mut listen = listen;
        // Stop, or the parent's end closed (the parent died): stop.
        let _ = listen.recv::<Control>();
        stop.request();
    });
    let admission = SharedCount {
        shared: &count,
        max: server_config.max_connections,
    };
    let stats = run_worker(listener, &server_config, &shutdown, &admission)
        .unwrap_or_else(|e| panic!("prefork worker: the server failed: {e}"));
    let _ = control.send(&stats);
}

/// The selector loop on `config.selector`'s backend.
fn run_worker(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
    admission: &dyn Admit,
) -> io::Result<ServerStats> {
    struct Job<'a> {
        listener: TcpListener,
        config: &'a ServerConfig,
        shutdown: &'a Shutdown,
        admission: &'a dyn Admit,
    }
    impl WithBackend for Job<'_> {
        type Output = io::Result<ServerStats>;
        fn run<B: crate::selector::Backend>(self) -> Self::Output {
            self.listener.set_nonblocking(true)?;
            let sel = BaseSelector::<_, B>::new()?;
            selector_server::run(sel, &self.listener, self.config, self.shutdown, self.admission)
        }
    }
    config.selector.with(Job {
        listener,
        config,
        shutdown,
        admission,
    })?
}
