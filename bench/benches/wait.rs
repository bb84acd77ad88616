//! The cost of one readiness wait with 1 active and N idle descriptors, for
//! `select(2)`, `poll(2)` and `epoll_wait(2)`: the scan the seed article
//! describes. select and poll hand the kernel every descriptor on every
//! call and the kernel asks each one whether it is ready (O(N)); epoll keeps
//! the set in the kernel and a wait only looks at the ready list (O(ready)).
//!
//! The descriptors are UDP sockets: the idle ones are never bound (nothing
//! can arrive: never readable), the active one received a datagram that is
//! never read (level-triggered: readable at every wait). Each wait has a
//! zero timeout and must report exactly one ready descriptor. What one
//! iteration counts is what a server's loop pays per wake-up:
//!
//! - select: rebuild the `fd_set` (select overwrites it), the call, then the
//!   `FD_ISSET` scan to find the ready one. Only for descriptors below
//!   `FD_SETSIZE` (1024): N = 10 000 cannot be measured at all.
//! - poll: the call on a `pollfd` array kept between calls, then the scan of
//!   `revents`.
//! - epoll: `epoll_wait` on an instance where all are registered once; the
//!   answer lists the ready one only.
//!
//! Groups `wait/idle_N`, functions `select`, `poll`, `epoll`; `report.py`
//! renders them in BENCHMARKS.md. Needs N + a few descriptors: the soft
//! `RLIMIT_NOFILE` is raised to the hard one.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use criterion::{black_box, criterion_group, Criterion};

/// Idle descriptors per group.
const IDLE: [usize; 4] = [10, 100, 1_000, 10_000];

/// An unbound UDP socket: never readable.
fn udp_socket() -> OwnedFd {
    // Safety: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // Safety: `fd` is a new descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A UDP socket with one unread datagram: readable at every wait.
fn active_socket() -> std::net::UdpSocket {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    s.send_to(b"x", s.local_addr().expect("local addr"))
        .expect("send a datagram to itself");
    // Wait for it to arrive (loopback delivery is synchronous, but be sure).
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut b = [0u8; 1];
    let (n, _) = s.peek_from(&mut b).expect("the datagram arrived");
    assert_eq!(n, 1);
    s
}

fn raise_descriptor_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: `l` is a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// One select wait: rebuild the set, call, scan. Returns the ready count.
fn select_once(fds: &[RawFd], max_fd: RawFd) -> usize {
    // Safety: every fd is below FD_SETSIZE (checked by the caller); the
    // set and the timeval live for the call.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut set);
        for &fd in fds {
            libc::FD_SET(fd, &mut set);
        }
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let n = libc::select(
            max_fd + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut tv,
        );
        assert_eq!(n, 1, "select: exactly one ready");
        fds.iter().filter(|&&fd| libc::FD_ISSET(fd, &set)).count()
    }
}

/// One poll wait on a kept array: call, scan. Returns the ready count.
fn poll_once(pfds: &mut [libc::pollfd]) -> usize {
    // Safety: the array is valid for its length.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0) };
    assert_eq!(n, 1, "poll: exactly one ready");
    pfds.iter().filter(|p| p.revents != 0).count()
}

/// One epoll wait. Returns the ready count.
fn epoll_once(epfd: RawFd, events: &mut [libc::epoll_event]) -> usize {
    // Safety: the array is valid for its length.
    let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, 0) };
    assert_eq!(n, 1, "epoll: exactly one ready");
    n as usize
}

fn wait(c: &mut Criterion) {
    raise_descriptor_limit();
    for idle in IDLE {
        let active = active_socket();
        let sockets: Vec<OwnedFd> = (0..idle).map(|_| udp_socket()).collect();
        let mut fds: Vec<RawFd> = sockets.iter().map(|s| s.as_raw_fd()).collect();
        // The active one last: a scan finds it at the end.
        fds.push(active.as_raw_fd());
        let max_fd = *fds.iter().max().expect("not empty");

        let mut g = c.benchmark_group(format!("wait/idle_{idle}"));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(1));
        if (max_fd as usize) < libc::FD_SETSIZE {
            g.bench_function("select", |b| {
                b.iter(|| black_box(select_once(&fds, max_fd)))
            });
        }
        let mut pfds: Vec<libc::pollfd> = fds
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        g.bench_function("poll", |b| b.iter(|| black_box(poll_once(&mut pfds))));

        // Safety: plain epoll_create1; owned at once.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epfd >= 0, "epoll_create1");
        // Safety: a new descriptor nobody else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epfd) };
        for &fd in &fds {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: fd as u64,
            };
            // Safety: both descriptors are open; `ev` lives for the call.
            let r = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) };
            assert_eq!(r, 0, "epoll_ctl");
        }
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
        g.bench_function("epoll", |b| {
            b.iter(|| black_box(epoll_once(epoll.as_raw_fd(), &mut events)))
        });
        g.finish();
    }
}

criterion_group!(benches, wait);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
