//! **Pre-forked processes** (the article's 多进程, exam question 10's
//! `ForkingMixIn`): [`ServerConfig::workers`] worker processes, started
//! before any client comes, each running the [selector
//! loop](super::selector_server) on the one listening socket they all
//! inherited. A connection is served by whichever worker's `accept` wins.
//!
//! - **The workers' life** (started with [`ipc::Process`], the one
//!   listener passed to each, ready before the first client, a dead worker
//!   replaced and counted in [`ServerStats::workers_replaced`], `Stop` on
//!   the shutdown and each worker's counts back) is
//!   [`workers`](super::workers)', shared with
//!   [`ForkingTcpServer`](super::socketserver::ForkingTcpServer). A binary
//!   that serves this model calls `ipc::init(net::ENTRIES)` first thing in
//!   `main` (echo-server does).
//! - **One `max_connections`** for all: the open count and the peak live in
//!   shared memory ([`ipc::Value`]), taken under its lock at each accept and
//!   close (never per request).
//! - A dead worker's connections are lost with it (their clients see a
//!   reset), and so are its counts.
//!
//! Cost per request: the selector model's (no shared state is touched per
//! request); a new connection wakes every worker's `epoll_wait` on the
//! shared listener (the thundering herd) and takes the shared count's lock.
//! What it buys: the loops run on every core without threads, and a crash
//! of one worker takes down its connections only.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::core::{total, Admit};
use super::workers::{Handles, Supervisor, WorkerSide};
use super::{selector_server, EchoMode, ServerConfig, ServerStats, Shutdown};
use crate::ipc::{self, Entry, Process, Value};
use crate::selector::{BackendKind, BaseSelector, WithBackend};

/// The worker's entry point, for the binary's table (see [`super::ENTRIES`]).
pub(crate) const WORKER: Entry = ipc::entry!("synclings::net::prefork" => worker);

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

/// A worker's arguments: its handles (control connection and listener),
/// the shared count, the settings.
#[derive(Deserialize)]
struct WorkerArgs {
    handles: Handles,
    count: Value<[u64; 2]>,
    config: WorkerConfig,
}

/// [`WorkerArgs`] as the parent sends them (the shared count and the
/// settings borrowed: every worker gets the same).
#[derive(Serialize)]
struct WorkerArgsRef<'a> {
    handles: Handles,
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
    let spawn = |handles: Handles| -> io::Result<Process> {
        let args = WorkerArgsRef {
            handles,
            count: &count,
            config: &worker_config,
        };
        Process::spawn(WORKER.name(), &args)
    };
    let replaced = Arc::new(AtomicU64::new(0));
    let supervisor = Supervisor::start(listener, config.workers, Box::new(spawn), replaced.clone())?;
    let mut stats = total(supervisor.run::<ServerStats>(shutdown)?);
    stats.peak_connections = SharedCount {
        shared: &count,
        max: config.max_connections,
    }
    .peak();
    stats.workers_replaced = replaced.load(Relaxed);
    Ok(stats)
}

/// The worker process: the selector loop on the inherited listener until
/// the parent says stop (or goes away), then its counts to the parent.
fn worker(args: WorkerArgs) {
    let WorkerArgs {
        handles,
        count,
        config,
    } = args;
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
    let (side, listener) = WorkerSide::start(handles, &shutdown)
        .unwrap_or_else(|e| panic!("prefork worker: cannot start: {e}"));
    let admission = SharedCount {
        shared: &count,
        max: server_config.max_connections,
    };
    let stats = run_worker(listener, &server_config, &shutdown, &admission)
        .unwrap_or_else(|e| panic!("prefork worker: the server failed: {e}"));
    side.finish(&stats);
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
