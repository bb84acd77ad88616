//! **IO multiplexing with raw `poll(2)`**: select's loop with an array of
//! `pollfd` instead of bit sets.
//!
//! The article: "poll passes the kernel an array of pollfd, so it has no
//! limit on the number of descriptors ... after poll returns, every element
//! must be checked for its revents" (poll与select不同,通过一个pollfd数组向内核传递需要关注的事件,故没有描述符个数的限制
//! ... poll返回后,需要对pollfd中的每个元素检查其revents值). So: any descriptor
//! number works (no `FD_SETSIZE`), but the rest of select's cost remains:
//!
//! - the array holds every connection and goes to the kernel on every call
//!   (rebuilt here each round, since what a connection waits for changes);
//! - the kernel polls each entry, and after each wake-up the loop scans
//!   every `revents`: O(n) per wake-up, however few are ready.
//!
//! An entry with a negative fd is ignored by the kernel: that is how the
//! listener leaves the array while `accept` is paused.
//!
//! Cost: O(n) per wake-up in user space and in the kernel, and 8 bytes of
//! `pollfd` per connection copied each way per call.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Instant;

use super::conn::{Conn, Next};
use super::core::{ConnCount, Conns};
use super::{ServerConfig, ServerStats, Shutdown};
// The `pollfd` helpers and the call are the ones `PollSelector` uses; a
// hang-up or an error is reported to whichever the connection waits for,
// so that its read or write sees it.
use crate::selector::poll::{from_revents, poll, poll_events, pollfd};
use crate::selector::unix::SelfPipe;

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let wake = SelfPipe::new()?;
    shutdown.notify_on_request(wake.notifier());
    let count = ConnCount::new(config.max_connections);
    let mut conns = Conns::<Conn>::new(config, &count);
    let mut scratch = vec![0; config.read_chunk.max(1)];
    // Reused across rounds: entry 0 is the wake pipe, 1 the listener, then
    // one per connection, whose slab id is in `owners` at the same index - 2.
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    let result = loop {
        if shutdown.is_requested() {
            break Ok(());
        }
        let now = Instant::now();
        fds.clear();
        owners.clear();
        fds.push(pollfd(wake.fd(), libc::POLLIN));
        let listener_fd = match conns.accepting(now) {
            true => listener.as_raw_fd(),
            false => -1, // ignored by the kernel
        };
        fds.push(pollfd(listener_fd, libc::POLLIN));
        for (id, conn) in conns.iter() {
            let events = poll_events(conn.interest(config));
            fds.push(pollfd(conn.stream().as_raw_fd(), events));
            owners.push(id);
        }
        if let Err(e) = poll(&mut fds, conns.timeout(now)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break Err(e);
        }
        let now = Instant::now();
        if fds[0].revents != 0 {
            wake.drain();
        }
        if from_revents(fds[1].revents).is_readable() {
            conns.accept_batch(&listener, now, |_, _| true);
        }
        // The O(n) scan: every revents, however few are set.
        for (entry, &id) in fds[2..].iter().zip(&owners) {
            let Some((conn, stats)) = conns.get_mut(id) else {
                continue;
            };
            let asked = from_revents(entry.events);
            let events = from_revents(entry.revents) & asked;
            let next = if entry.revents & libc::POLLNVAL != 0 {
                Next::Close // cannot happen: we own the socket
            } else if !events.is_empty() {
                conn.on_ready(events, &mut scratch, config, stats, now)
            } else {
                Next::Keep
            };
            if next == Next::Close {
                conns.close(id);
            }
        }
        while conns.expire_idle(now).is_some() {}
    };
    result.map(|()| conns.finish())
}
