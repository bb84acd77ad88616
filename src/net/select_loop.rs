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
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::conn::{earliest, timeout_until, Next, Slab, WakePipe};
use super::{ServerConfig, ServerStats, Shutdown};
use crate::selector::Interest;

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let wake = WakePipe::new(shutdown)?;
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
    let mut conns = Slab::default();
    let mut stats = ServerStats::default();
    let mut scratch = vec![0; config.read_chunk.max(1)];
    let mut accept_paused_until: Option<Instant> = None;
    let mut warned = false;
    let result = loop {
        if shutdown.is_requested() {
            break Ok(());
        }
        // (1) Build the sets from scratch: select overwrote the last ones.
        let mut read = FdSet::new();
        let mut write = FdSet::new();
        read.insert(wake.fd());
        if accept_paused_until.is_none() {
            read.insert(listener_fd);
        }
        let mut next_idle = None;
        for (_, conn) in conns.iter() {
            let fd = conn.stream().as_raw_fd();
            let interest = conn.interest(config);
            if interest.is_readable() {
                read.insert(fd);
            }
            if interest.is_writable() {
                write.insert(fd);
            }
            let deadline = config.idle_timeout.map(|t| conn.idle_deadline(t));
            next_idle = earliest(next_idle, deadline);
        }
        let timeout = timeout_until(Instant::now(), [next_idle, accept_paused_until]);
        if let Err(e) = select(&mut read, &mut write, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break Err(e);
        }
        let now = Instant::now();
        if read.contains(wake.fd()) {
            wake.drain();
        }
        if accept_paused_until.is_some_and(|until| now >= until) {
            accept_paused_until = None;
        } else if accept_paused_until.is_none() && read.contains(listener_fd) {
            let admit = |stream: &std::net::TcpStream| {
                let fd = stream.as_raw_fd();
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
            accept_paused_until = conns.accept_batch(&listener, config, &mut stats, now, admit);
        }
        // (2) The O(n) scan: ask every connection whether its bit is set.
        for id in 0..conns.slots() {
            let Some(conn) = conns.get_mut(id) else {
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
            let mut next = Next::Keep;
            if !events.is_empty() {
                next = conn.on_ready(events, &mut scratch, config, &mut stats, now);
            }
            conns.end_turn(id, next, config, &mut stats, now);
        }
    };
    conns.close_all(&mut stats);
    result.map(|()| stats)
}

/// (3) True if `fd` has a bit in an `fd_set`.
fn fits(fd: RawFd) -> bool {
    usize::try_from(fd).is_ok_and(|fd| fd < libc::FD_SETSIZE)
}

/// An `fd_set` and the largest descriptor in it.
struct FdSet {
    set: libc::fd_set,
    max: Option<RawFd>,
}

impl FdSet {
    fn new() -> Self {
        // Safety: fd_set is a plain bit array: all zeroes is a valid, empty
        // set, which FD_ZERO then makes explicit.
        let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
        // Safety: `set` is a live, initialised fd_set.
        unsafe { libc::FD_ZERO(&mut set) };
        FdSet { set, max: None }
    }

    /// Adds `fd`; every caller passes descriptors that [`fits`] (checked at
    /// accept and at start), and one that does not is left out.
    fn insert(&mut self, fd: RawFd) {
        if !fits(fd) {
            return;
        }
        // Safety: 0 <= fd < FD_SETSIZE, so the bit lies inside the set.
        unsafe { libc::FD_SET(fd, &mut self.set) };
        self.max = self.max.max(Some(fd));
    }

    fn contains(&self, fd: RawFd) -> bool {
        // Safety: 0 <= fd < FD_SETSIZE (checked first), `set` is initialised.
        fits(fd) && unsafe { libc::FD_ISSET(fd, &self.set) }
    }
}

/// `select(2)` on the read and write sets, which it overwrites with the
/// ready descriptors. `None` waits without limit.
fn select(read: &mut FdSet, write: &mut FdSet, timeout: Option<Duration>) -> io::Result<usize> {
    let nfds = read.max.max(write.max).map_or(0, |fd| fd + 1);
    let mut tv = timeout.map(|t| {
        // Round up: an early wake-up would find nothing due.
        let micros = t.as_nanos().div_ceil(1_000).min(86_400_000_000);
        libc::timeval {
            tv_sec: (micros / 1_000_000) as libc::time_t,
            tv_usec: (micros % 1_000_000) as libc::suseconds_t,
        }
    });
    let tv_ptr = tv
        .as_mut()
        .map_or(std::ptr::null_mut(), |tv| tv as *mut libc::timeval);
    // Safety: the sets and the timeval are live locals (or null for no
    // timeout), nfds is one more than the largest descriptor set and at most
    // FD_SETSIZE, and no exception set is passed.
    let n = unsafe {
        libc::select(
            nfds,
            &mut read.set,
            &mut write.set,
            std::ptr::null_mut(),
            tv_ptr,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}
