//! **A selector per core**: `config.workers` threads, each running the
//! single-thread [`selector_server`](super::selector_server) loop with its
//! own selector, all watching the same listener.
//!
//! The article: "with select the advantage is handling many connections,
//! not a single one faster" (select的优势在于可以处理多个连接,不适用于单个连接),
//! and a single-threaded event loop uses one core. Run one loop per core and
//! the machine's cores all serve, while each connection still lives on one
//! thread and never needs a lock.
//!
//! The listener is shared: each loop registers it in its own selector, so a new
//! connection wakes every loop and one of them wins the `accept` (the others
//! find nothing: the "thundering herd", harmless at a few threads; servers
//! that care give each thread its own `SO_REUSEPORT` listener). The
//! `max_connections` limit is one atomic count across the loops.
//!
//! Cost: the selector model's, plus a wake-up of every loop per new
//! connection; the load of a connection stays on the loop that accepted it,
//! so a few busy clients on one loop are not spread out.

use std::io;
use std::net::TcpListener;
use std::thread;

use super::core::{total, ConnCount};
use super::{selector_server, ServerConfig, ServerStats, Shutdown};
use crate::selector::{Backend, BaseSelector};

/// Serves with `config.workers` event loops on the backend `config.selector`
/// names.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    selector_server::on_backend(listener, config, shutdown, true)
}

/// Serves with `config.workers` event loops (the calling thread is one of
/// them), each on a selector of backend `B`, until `shutdown` is requested,
/// or until one loop fails.
pub(crate) fn serve_on<B: Backend>(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let count = ConnCount::new(config.max_connections);
    // The loops stop on the caller's request, or when one of them fails.
    let stop = Shutdown::new();
    let relay = stop.clone();
    shutdown.on_request(move || relay.request());
    // Every loop's selector exists before the first loop accepts: one made
    // later could find the descriptors all taken (EMFILE) by the clients.
    let selectors = (0..config.workers.max(1))
        .map(|_| BaseSelector::<_, B>::new())
        .collect::<io::Result<Vec<_>>>()?;
    let run = |sel| {
        let result = selector_server::run(sel, &listener, config, &stop, &count);
        if result.is_err() {
            stop.request();
        }
        result
    };
    let results: Vec<io::Result<ServerStats>> = thread::scope(|scope| {
        let mut selectors = selectors.into_iter();
        let first = selectors.next().expect("at least one selector");
        let others: Vec<_> = selectors
            .enumerate()
            .map(|(i, sel)| {
                thread::Builder::new()
                    .name(format!("selector-core-{}", i + 1))
                    .spawn_scoped(scope, move || run(sel))
            })
            .collect();
        if others.iter().any(|spawned| spawned.is_err()) {
            stop.request(); // the loops that did start stop at once
        }
        let mut results = vec![run(first)];
        for handle in others {
            results.push(match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a selector thread panicked"))),
                Err(e) => Err(e),
            });
        }
        results
    });
    Ok(total(results.into_iter().collect::<io::Result<Vec<_>>>()?))
}
