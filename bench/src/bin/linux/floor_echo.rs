//! `floor-echo`: the system-call floor of the echo protocol: the least work
//! a readiness-based server can do per request, against which the lab
//! measures the synclings servers' CPU time per request.
//!
//! ```text
//! floor-echo [PORT]        # default 0: the system picks one
//! ```
//!
//! Prints `listening on ADDR` as its first line and serves until killed
//! (SIGTERM ends it: there is nothing to flush).
//!
//! # What it counts
//!
//! One thread, one level-triggered epoll instance, every socket registered
//! once for `EPOLLIN` and never modified. The loop is:
//!
//! 1. one `epoll_wait` (no timeout, room for 1024 events) — shared by every
//!    socket it reports, as in any readiness server;
//! 2. for each ready connection: one `read` of up to 16 KiB into one buffer
//!    on the stack, the bytes uppercased in place, one `write` of them.
//!
//! So a request costs `read` + `write` + its share of one `epoll_wait`: the
//! same system calls as the synclings selector server's best case, with
//! nothing else. What it leaves out is everything a real server owes: no
//! idle timeout (no clock read, no timer), no connection table (the
//! descriptor is the epoll key), no limit on connections or buffered bytes,
//! no pending-output buffer (a reply the socket does not take at once is
//! finished with a blocking `poll` on that socket: never the case for the
//! lab's 64-byte requests), no statistics, no graceful shutdown. Accepting
//! (`accept4`, `TCP_NODELAY`, `epoll_ctl`) happens once per connection and is
//! outside the measured window. A connection is closed on EOF or any error.
//!
//! The lab (`bench/lab.py`) runs it pinned to one CPU and reads its
//! utime + stime per request; the synclings selector server's target is
//! within 1.3× of it.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};

/// Bytes asked for per read call, as the synclings servers' default.
const READ_CHUNK: usize = 16 * 1024;
/// Events per `epoll_wait`.
const MAX_EVENTS: usize = 1024;
/// The epoll key of the listener (a connection's key is its descriptor).
const LISTENER: u64 = u64::MAX;

pub fn main() -> io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        None => 0,
        Some(p) => p
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "usage: floor-echo [PORT]"))?,
    };
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    listener.set_nonblocking(true)?;
    // Backlog 4096 (capped by somaxconn), as echo-server: the lab opens
    // 10 000 connections at once.
    // Safety: `listen` on a socket we own.
    unsafe { libc::listen(listener.as_raw_fd(), 4096) };
    println!("listening on {}", listener.local_addr()?);
    // Safety: plain system calls on descriptors this function owns; every
    // buffer passed is valid for the length given.
    unsafe { serve(listener.into_raw_fd()) }
}

/// Turns -1 into the last OS error.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The loop. Safety: `listener` is an open, non-blocking listening socket
/// that this function now owns.
unsafe fn serve(listener: RawFd) -> io::Result<()> {
    // Safety (for every block below): the descriptors are ours and open,
    // the pointers point to live buffers of the lengths given.
    let epoll = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: LISTENER,
    };
    check(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, listener, &mut ev) })?;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
    let mut buf = [0u8; READ_CHUNK];
    loop {
        let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), MAX_EVENTS as i32, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let key = ev.u64;
            if key == LISTENER {
                accept_all(epoll, listener);
                continue;
            }
            let fd = key as RawFd;
            let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), READ_CHUNK) };
            if got <= 0 {
                if got < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
                    continue;
                }
                // EOF or an error: closing also removes it from the epoll set.
                unsafe { libc::close(fd) };
                continue;
            }
            let reply = &mut buf[..got as usize];
            reply.make_ascii_uppercase();
            if !write_all(fd, reply) {
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Accepts every waiting connection and registers it for `EPOLLIN`.
fn accept_all(epoll: RawFd, listener: RawFd) {
    loop {
        // Safety: null address pointers are allowed by accept4.
        let fd = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            // WouldBlock: all accepted. EMFILE and the like: the listener
            // stays readable and we try again at the next wake-up.
            return;
        }
        let one: libc::c_int = 1;
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // Safety: `fd` is the socket just accepted; `one` and `ev` live.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            if libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) < 0 {
                libc::close(fd);
            }
        }
    }
}

/// Writes all of `bytes`; false if the connection failed. A full socket
/// (never the case for the lab's small requests) is waited for with `poll`.
fn write_all(fd: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // Safety: `bytes` is a live buffer of that length.
        let sent = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if sent >= 0 {
            bytes = &bytes[sent as usize..];
            continue;
        }
        match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // Safety: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, -1) };
            }
            _ => return false,
        }
    }
    true
}
