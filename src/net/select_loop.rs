//! **IO multiplexing with raw `select(2)`**: the seed's
//! `select.select(read_l, [], [])` loop, without the selectors module.
//!
//! The article lists select's three weaknesses: "(1) every call copies the
//! whole fd set from user space to the kernel; (2) every call makes the
//! kernel walk every fd passed in; (3) the number of descriptors supported is
//! too small, 1024 by default" (每次调用select,都需要把fd集合从用户态拷贝到内核态
//! ... 同时每次调用select都需要在内核遍历传递进来的所有fd ... select支持的文件描述符数量太小了,默认是1024).
//! All three are visible here:
//!
//! - the `fd_set`s are rebuilt from every connection before each call
//!   (select overwrites them with its answer);
//! - after each wake-up the loop asks `FD_ISSET` of every connection: an
//!   O(n) scan, however few are ready;
//! - an `fd_set` is a bit array of `FD_SETSIZE` (1024) bits: a descriptor
//!   numbered 1024 or more cannot be watched at all. Setting its bit would
//!   write past the array (undefined behaviour in C; libc's Rust
//!   `FD_SET` panics). This server refuses such a connection instead:
//!   accepted and closed at once, counted in `refused`, with one warning on
//!   stderr. It also refuses to start on a listener numbered 1024 or more.
//!
//! Cost: O(n) per wake-up in user space and in the kernel, for n open
//! connections, plus the copy of three 128-byte sets each way.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Instant;

use super::conn::{Conn, Next};
use super::core::{ConnCount, Conns};
use super::{ServerConfig, ServerStats, Shutdown};
// (3) `fits`: does a descriptor have a bit in an `fd_set`? The sets and the
// call are the ones `SelectSelector` uses.
use crate::selector::select::{fits, select, FdSet};
use crate::selector::unix::SelfPipe;
use crate::selector::Interest;

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let wake = SelfPipe::new()?;
    shutdown.notify_on_request(wake.notifier());
    let listener_fd = listener.as_raw_fd();
    for fd in [listener_fd, wake.fd()] {
        if !fits(fd) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "select(2) cannot watch fd {fd}: descriptors must be below FD_SETSIZE ({}); use the poll model",
                    libc::FD_SETSIZE
                ),
            ));
        }
    }
    let count = ConnCount::new(config.max_connections);
    let mut conns = Conns::<Conn>::new(config, &count);
    let mut scratch = vec![0; config.read_chunk.max(1)];
    let mut warned = false;
    let result = loop {
        if shutdown.is_requested() {
            break Ok(());
        }
        let now = Instant::now();
        // (1) Build the sets from scratch: select overwrote the last ones.
        let mut read = FdSet::new();
        let mut write = FdSet::new();
        read.insert(wake.fd());
        if conns.accepting(now) {
            read.insert(listener_fd);
        }
        for (_, conn) in conns.iter() {
            let fd = conn.stream().as_raw_fd();
            let interest = conn.interest(config);
            if interest.is_readable() {
                read.insert(fd);
            }
            if interest.is_writable() {
                write.insert(fd);
            }
        }
        if let Err(e) = select(&mut read, &mut write, conns.timeout(now)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break Err(e);
        }
        let now = Instant::now();
        if read.contains(wake.fd()) {
            wake.drain();
        }
        if read.contains(listener_fd) {
            let admit = |_: usize, conn: &mut Conn| {
                let fd = conn.stream().as_raw_fd();
                if !fits(fd) {
                    if !warned {
                        warned = true;
                        eprintln!(
                            "echo-server (select): refusing a connection on fd {fd}: select(2) can only watch fds below FD_SETSIZE ({}); the poll and selector models have no such limit",
                            libc::FD_SETSIZE
                        );
                    }
                    return false;
                }
                true
            };
            conns.accept_batch(&listener, now, admit);
        }
        // (2) The O(n) scan: ask every connection whether its bit is set.
        for id in 0..conns.slots() {
            let Some((conn, stats)) = conns.get_mut(id) else {
                continue;
            };
            let fd = conn.stream().as_raw_fd();
            let mut events = Interest::empty();
            if read.contains(fd) {
                events |= Interest::READ;
            }
            if write.contains(fd) {
                events |= Interest::WRITE;
            }
            if !events.is_empty()
                && conn.on_ready(events, &mut scratch, config, stats, now) == Next::Close
            {
                conns.close(id);
            }
        }
        while conns.expire_idle(now).is_some() {}
    };
    result.map(|()| conns.finish())
}
