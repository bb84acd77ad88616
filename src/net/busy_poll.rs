//! **Non-blocking IO, busy-polling**: the seed's `s.setblocking(False)`
//! server. One thread tries `accept` on the listener and `recv` on every
//! connection, round after round, and never waits for the kernel to say
//! that anything is ready.
//!
//! The article's verdict: "the non-blocking IO model is by no means
//! recommended ... calling recv() in a loop drives CPU usage way up"
//! (但是非阻塞IO模型绝不被推荐 ... 循环调用recv()将大幅度推高CPU占用率), and
//! "recv() here mostly serves to check whether the operation is done; the
//! operating system offers far more efficient interfaces for that, such as
//! select()".
//!
//! Cost: a whole core, always, even with no client at all: every round
//! makes one `accept` and one `read` per connection, nearly all of them
//! answered `EWOULDBLOCK`. The seed slept between rounds, trading latency for
//! CPU; this loop only calls `yield_now` after a round in which nothing
//! happened, so that it shares the core with other runnable threads (the
//! tests), but it stays a busy poll: that is the lesson. The work per round
//! grows with the number of open connections, ready or not.

use std::io;
use std::net::TcpListener;
use std::time::Instant;

use super::conn::{Conn, Next};
use super::core::{ConnCount, Conns};
use super::{ServerConfig, ServerStats, Shutdown};

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let count = ConnCount::new(config.max_connections);
    let mut conns = Conns::<Conn>::new(config, &count);
    let mut scratch = vec![0; config.read_chunk.max(1)];
    while !shutdown.is_requested() {
        let now = Instant::now();
        let before = (conns.stats_mut().clone(), conns.len());
        // `conn, addr = s.accept()`, answered at once, usually EWOULDBLOCK.
        conns.accept_batch(&listener, now, |_, _| true);
        // `for conn in conn_l: data = conn.recv(1024)`: try them all.
        for id in 0..conns.slots() {
            let Some((conn, stats)) = conns.get_mut(id) else {
                continue;
            };
            // Try what the connection could do; the socket says whether it can.
            let attempt = conn.interest(config);
            if conn.on_ready(attempt, &mut scratch, config, stats, now) == Next::Close {
                conns.close(id);
            }
        }
        while conns.expire_idle(now).is_some() {}
        if (conns.stats_mut().clone(), conns.len()) == before {
            // Nothing happened: let another thread have the core, then poll
            // again (the seed slept here instead).
            std::thread::yield_now();
        }
    }
    Ok(conns.finish())
}
