//! The cost of one readiness wait with 1 active and N idle descriptors, on
//! the real selectors: `EpollSelector`, `PollSelector`, `SelectSelector` and
//! `PollingSelector`, each `BaseSelector::select_into` as a server's loop
//! calls it. The scan the seed article describes: select and poll hand the
//! kernel every descriptor on every call and the kernel asks each one
//! whether it is ready (O(N)); epoll (and polling, over epoll on Linux)
//! keeps the set in the kernel and a wait only looks at the ready list
//! (O(ready)).
//!
//! The descriptors are UDP sockets: the idle ones are never bound (nothing
//! can arrive: never readable), the active one received a datagram that is
//! never read (level-triggered: readable at every wait), and it is the last
//! one (highest number, registered last), so every scan crosses all the
//! idle ones first. Every descriptor is registered for `READ` once; each
//! wait has a timeout of one second, which the ready socket ends at once,
//! and must report exactly the active one. The timeout makes each wait pay
//! what a server's wait pays: with a timeout that is not zero, `poll` and
//! `select` hook a wait-queue entry on every descriptor the kernel passes
//! before it finds a ready one (it might have to sleep), and `polling` arms
//! its timer. What one iteration counts is what a server's loop pays per
//! wake-up, user space included:
//!
//! - select: copy the two `fd_set`s, the call, the scan of every bit up to
//!   the highest descriptor. Only for descriptors below `FD_SETSIZE`
//!   (1024): N = 10 000 cannot be measured at all.
//! - poll: the call on the `pollfd` array kept in the selector, then the
//!   scan of `revents`.
//! - epoll: one `epoll_wait`; the answer lists the ready one only.
//! - polling: `Poller::wait` (on Linux its epoll backend: timerfd, epoll,
//!   eventfd bookkeeping around `epoll_wait`).
//!
//! Groups `wait/idle_N`, functions `epoll`, `poll`, `select`, `polling`;
//! `report.py` renders them in BENCHMARKS.md. Needs N + a few descriptors:
//! the soft `RLIMIT_NOFILE` is raised to the hard one. Linux only (it
//! compares epoll with the others).

use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{black_box, criterion_group, BenchmarkGroup, Criterion};
use synclings::selector::{
    Backend, BackendKind, BaseSelector, Epoll, Interest, Poll, Polling, Select,
};

/// Idle descriptors per group.
const IDLE: [usize; 4] = [10, 100, 1_000, 10_000];

/// The wait's timeout: never reached (a source is always ready).
const TIMEOUT: Duration = Duration::from_secs(1);

/// An unbound UDP socket: never readable.
fn udp_socket() -> OwnedFd {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A UDP socket with one unread datagram: readable at every wait.
fn active_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
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
    // SAFETY: `l` is a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Registers `idle` and `active` in a new selector of backend `B` and
/// benchmarks one `select_into`, which must report the active socket only.
fn bench_backend<B: Backend>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    idle: &[OwnedFd],
    active: &UdpSocket,
) {
    let mut sel = BaseSelector::<(), B>::new().expect("a selector");
    for socket in idle {
        sel.register(socket, Interest::READ, ())
            .expect("register an idle socket");
    }
    sel.register(active, Interest::READ, ())
        .expect("register the active socket");
    let mut ready = Vec::with_capacity(idle.len() + 1);
    g.bench_function(B::KIND.name(), |b| {
        b.iter(|| {
            let n = sel.select_into(Some(TIMEOUT), &mut ready).expect("select");
            assert_eq!(n, 1, "exactly one ready");
            black_box(ready[0])
        })
    });
    for socket in idle {
        sel.unregister(socket).expect("unregister");
    }
    sel.unregister(active).expect("unregister");
}

fn wait(c: &mut Criterion) {
    raise_descriptor_limit();
    for idle in IDLE {
        // The active one last (the highest number, registered last): every
        // scan crosses all the idle ones before it.
        let sockets: Vec<OwnedFd> = (0..idle).map(|_| udp_socket()).collect();
        let active = active_socket();
        let highest = sockets
            .iter()
            .map(|s| s.as_raw_fd())
            .chain([active.as_raw_fd()])
            .max()
            .expect("not empty");

        let mut g = c.benchmark_group(format!("wait/idle_{idle}"));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(1));
        bench_backend::<Epoll>(&mut g, &sockets, &active);
        bench_backend::<Poll>(&mut g, &sockets, &active);
        // The selector's own wake-up socket takes two more numbers.
        if (highest as usize) + 2 < libc::FD_SETSIZE {
            bench_backend::<Select>(&mut g, &sockets, &active);
        } else {
            println!(
                "wait/idle_{idle}/{}: skipped: descriptors reach {highest}, past FD_SETSIZE ({})",
                BackendKind::Select,
                libc::FD_SETSIZE
            );
        }
        bench_backend::<Polling>(&mut g, &sockets, &active);
        g.finish();
    }
}

criterion_group!(benches, wait);

pub fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
