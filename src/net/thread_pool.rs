//! Blocking IO on a fixed pool of threads: the article's "improved scheme".
//!
//! > "The 'thread pool' keeps a reasonable number of threads and lets idle
//! > threads take on new tasks" — but "the pool always has an upper limit:
//! > when requests greatly exceed it, a pooled system answers hardly better
//! > than one without a pool."
//!
//! How it works: the accept loop (shared with the [blocking](super::blocking)
//! model) admits a connection, up to `max_connections`, and submits "serve
//! it" to a [`ThreadPool`] of `config.workers` threads, Python's
//! `ThreadPoolExecutor`. A worker serves one connection from its first byte
//! to its close, exactly as the blocking model's thread does (same
//! back-pressure, same idle timeout).
//!
//! The upper limit, visible: with `workers` clients connected, the
//! (workers+1)-th client is admitted (its `connect` succeeds) but waits in
//! the pool's backlog, unanswered, until one of the first `workers` clients
//! disconnects. Its idle timeout starts only when a worker picks it up. A
//! client that never reads holds its worker for good (until the idle
//! timeout), so `workers` such clients stall the server.
//!
//! Shutdown: every admitted stream (served or waiting) is shut down, the
//! backlog is cancelled (the waiting connections are closed) and the workers
//! are joined.
//!
//! Cost: `workers` threads however many clients, so threads are bounded and
//! created once; the price is the queueing above, plus the backlog's hand-off
//! per connection.

use std::io;
use std::net::TcpListener;

use super::blocking::{accept_loop, Shared};
use super::{ServerConfig, ServerStats, Shutdown};
use crate::thread::ThreadPool;

/// Runs the thread-pool model until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    let pool = ThreadPool::new(config.workers, 0).map_err(io::Error::other)?;
    let shared = Shared::new(config);
    let result = accept_loop(&listener, shutdown, |stream, _peer| {
        if let Some(connection) = shared.admit(stream) {
            // The backlog is unbounded (0), so this never blocks; the
            // admitted-connection cap bounds it. It fails only after a
            // shutdown, and then the dropped closure closes the connection.
            let _ = pool.submit(move || connection.serve());
        }
    });
    drop(listener);
    // First wake the running workers and close the waiting connections,
    // then cancel the backlog and join.
    shared.close_all();
    pool.shutdown_now(true);
    result.map(|()| shared.stats())
}
