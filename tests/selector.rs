//! Every selector backend against the semantics of CPython's
//! `Lib/test/test_selectors.py` (`BaseSelectorTestCase` and
//! `ScalableSelectorMixIn`): one generic suite, run unchanged over `Epoll`,
//! `Poll`, `Select` and `Polling` (a module per backend, made by
//! `suite!`), then what differs between them by design: which descriptors
//! they accept (epoll refuses regular files, select refuses numbers from
//! `FD_SETSIZE` on) and what they watch under a reused number.
//!
//! Sockets are TCP loopback pairs, so the suite builds on every platform;
//! the tests that need Unix (`dup2`, `RLIMIT_NOFILE`) are gated here.
#![cfg(not(loom))]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use synclings::selector::{
    AsRawSource, Backend, BackendKind, BaseSelector, DefaultSelector, Interest, PollingSelector,
    RawSource, Selector, SelectorError, SelectorKey,
};
use synclings::testing::{within, DEADLINE};

// ---------------------------------------------------------------- helpers

/// Tests that close descriptors and then rely on their numbers not being
/// reused, or that fill the descriptor table, run alone: the others take
/// this lock shared, those exclusively (a number freed by one test is the
/// next socket of another).
static FD_TABLE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FD_TABLE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    FD_TABLE.write().unwrap_or_else(|e| e.into_inner())
}

/// `n` connected loopback pairs (reader, writer), Nagle off.
fn pairs(n: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    (0..n)
        .map(|_| {
            let rd = TcpStream::connect(addr).expect("connect");
            let (wr, _) = listener.accept().expect("accept");
            rd.set_nodelay(true).unwrap();
            wr.set_nodelay(true).unwrap();
            (rd, wr)
        })
        .collect()
}

fn pair() -> (TcpStream, TcpStream) {
    pairs(1).pop().unwrap()
}

fn fd(stream: &TcpStream) -> RawSource {
    stream.as_raw_source()
}

/// The CPU time of the calling thread (zero where it cannot be read).
#[cfg(unix)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the live local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    Duration::ZERO
}

fn new<D, B: Backend>() -> BaseSelector<D, B> {
    BaseSelector::new().expect("a new selector")
}

/// The ready list as (fd, events), sorted by fd; each fd at most once.
fn ready<D, B: Backend>(
    sel: &mut BaseSelector<D, B>,
    timeout: Option<Duration>,
) -> Vec<(RawSource, Interest)> {
    let mut ready = sel.select_ready(timeout).expect("select");
    ready.sort_by_key(|&(fd, _)| fd);
    let before = ready.len();
    ready.dedup_by_key(|&mut (fd, _)| fd);
    assert_eq!(ready.len(), before, "a source reported twice in one select");
    ready
}

// ------------------------------------------------------ the shared suite

fn register_returns_the_key_and_refuses_bad_calls<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<&str, B>();
    let (rd, wr) = pair();
    let key = sel.register(&rd, Interest::READ, "data").unwrap().clone();
    assert_eq!(
        key,
        SelectorKey {
            fd: fd(&rd),
            interest: Interest::READ,
            data: "data"
        }
    );
    // Python: ValueError for events 0.
    assert!(matches!(
        sel.register(&wr, Interest::empty(), "x"),
        Err(SelectorError::EmptyInterest(f)) if f == fd(&wr)
    ));
    // Python: KeyError for a second registration.
    assert!(matches!(
        sel.register(&rd, Interest::WRITE, "again"),
        Err(SelectorError::AlreadyRegistered(f)) if f == fd(&rd)
    ));
    assert_eq!(
        sel.get_key(&rd).unwrap().data,
        "data",
        "the refused call changed nothing"
    );
    assert_eq!(sel.len(), 1);
    sel.unregister(&rd).unwrap();
}

fn unregister_returns_the_data_and_refuses_unknown_sources<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<Vec<i32>, B>();
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, vec![1, 2, 3]).unwrap();
    assert_eq!(sel.unregister(&rd).unwrap(), vec![1, 2, 3]);
    assert!(sel.get_key(&rd).is_err());
    assert!(matches!(
        sel.unregister(&rd),
        Err(SelectorError::NotRegistered(_))
    ));
    assert!(matches!(
        sel.unregister(&wr),
        Err(SelectorError::NotRegistered(_))
    ));
    // Unregistered, it is not reported even though it becomes readable.
    (&wr).write_all(b"x").unwrap();
    assert!(ready(&mut sel, Some(Duration::ZERO)).is_empty());
}

fn a_source_closed_without_unregister_can_still_be_removed<B: Backend>() {
    // CPython's test_unregister_after_fd_close: closing first is tolerated.
    // With Rust's I/O safety the closed source cannot be passed to
    // `unregister`; `unregister_closed` removes its key by number.
    let _fd = exclusive(); // the closed numbers must stay free
    let mut sel = new::<&str, B>();
    let (rd, wr) = pair();
    let (r, w) = (fd(&rd), fd(&wr));
    sel.register(&rd, Interest::READ, "r").unwrap();
    sel.register(&wr, Interest::WRITE, "w").unwrap();
    drop(rd);
    drop(wr);
    // Every backend stops watching the closed numbers: nothing is reported,
    // neither by a poll nor by a wait, which lasts its whole timeout (no
    // error, no spin on the closed descriptors).
    assert!(ready(&mut sel, Some(Duration::ZERO)).is_empty());
    let timeout = Duration::from_millis(200);
    let (start, cpu) = (Instant::now(), thread_cpu());
    assert!(ready(&mut sel, Some(timeout)).is_empty());
    assert!(
        start.elapsed() >= timeout,
        "returned after {:?}",
        start.elapsed()
    );
    // Slept, did not spin: a loop re-polling the closed descriptors would
    // burn most of the 200 ms (even sharing a loaded core).
    let spent = thread_cpu().saturating_sub(cpu);
    assert!(
        spent < Duration::from_millis(40),
        "{spent:?} of CPU in a 200 ms wait"
    );
    assert_eq!(sel.unregister_closed(r).unwrap(), "r");
    assert_eq!(sel.unregister_closed(w).unwrap(), "w");
    assert!(matches!(
        sel.unregister_closed(r),
        Err(SelectorError::NotRegistered(_))
    ));
    assert!(sel.is_empty());
    // The selector goes on working.
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, "new").unwrap();
    (&wr).write_all(b"x").unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd(&rd), Interest::READ)]
    );
    sel.unregister(&rd).unwrap();
}

/// test_unregister_after_fd_close_and_reuse: the registered file is closed
/// and its number now names another file (dup2 does both at once). Returns
/// what the backend reported under the old key before it was unregistered
/// (the backends differ there: see the tests below).
#[cfg(unix)]
fn number_reused<B: Backend>() -> Vec<(RawSource, Interest)> {
    use std::os::fd::AsRawFd;
    let _fd = exclusive();
    let mut sel = new::<&str, B>();
    let (rd, _wr) = pair();
    let (rd2, wr2) = pair();
    sel.register(&rd, Interest::READ, "old").unwrap();
    // SAFETY: both descriptors are open and owned by this test; `rd` keeps
    // owning its number, which now refers to rd2's socket.
    assert_eq!(
        unsafe { libc::dup2(rd2.as_raw_fd(), rd.as_raw_fd()) },
        rd.as_raw_fd()
    );
    (&wr2).write_all(b"x").unwrap();
    // Wait until the byte is there (rd2's own selector says so).
    let mut witness = new::<(), B>();
    witness.register(&rd2, Interest::READ, ()).unwrap();
    assert_eq!(ready(&mut witness, Some(DEADLINE)).len(), 1);
    witness.unregister(&rd2).unwrap();
    let before = ready(&mut sel, Some(Duration::ZERO));
    // The stale key is in the way of a new registration...
    assert!(matches!(
        sel.register(&rd, Interest::READ, "new"),
        Err(SelectorError::AlreadyRegistered(_))
    ));
    // ...until unregister removes it (epoll's ENOENT is ignored).
    assert_eq!(sel.unregister(&rd).unwrap(), "old");
    sel.register(&rd, Interest::READ, "new").unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd(&rd), Interest::READ)]
    );
    assert_eq!(sel.get_key(&rd).unwrap().data, "new");
    sel.unregister(&rd).unwrap();
    before
}

#[cfg(unix)]
fn unregister_after_the_number_was_reused<B: Backend>() {
    number_reused::<B>();
}

fn modify_changes_the_events_and_the_data<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<i32, B>();
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, 1).unwrap();
    // Different events: the kernel is told.
    let key = sel.modify(&rd, Interest::WRITE, 2).unwrap().clone();
    assert_eq!((key.interest, key.data), (Interest::WRITE, 2));
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd(&rd), Interest::WRITE)]
    );
    // Same events, other data (test_modify: "modify data").
    let key = sel.modify(&rd, Interest::WRITE, 3).unwrap().clone();
    assert_eq!((key.interest, key.data), (Interest::WRITE, 3));
    assert_eq!(sel.get_key(&rd).unwrap().data, 3);
    // Back to READ: nothing to read yet, then a byte arrives.
    sel.modify(&rd, Interest::READ, 4).unwrap();
    assert!(ready(&mut sel, Some(Duration::ZERO)).is_empty());
    (&wr).write_all(b"x").unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd(&rd), Interest::READ)]
    );
    // Errors: unknown source (KeyError), empty interest (ValueError).
    assert!(matches!(
        sel.modify(&wr, Interest::READ, 0),
        Err(SelectorError::NotRegistered(_))
    ));
    assert!(matches!(
        sel.modify(&rd, Interest::empty(), 0),
        Err(SelectorError::EmptyInterest(_))
    ));
    assert_eq!(
        sel.get_key(&rd).unwrap().data,
        4,
        "a refused modify changes nothing"
    );
    sel.unregister(&rd).unwrap();
}

fn get_key_and_get_map<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<char, B>();
    let (rd, wr) = pair();
    assert!(matches!(
        sel.get_key(&rd),
        Err(SelectorError::NotRegistered(_))
    ));
    sel.register(&rd, Interest::READ, 'r').unwrap();
    sel.register(&wr, Interest::BOTH, 'w').unwrap();
    assert_eq!(sel.len(), 2);
    let map = sel.get_map();
    assert_eq!(map.len(), 2);
    assert_eq!(map[&fd(&rd)].data, 'r');
    assert_eq!(map[&fd(&wr)].interest, Interest::BOTH);
    // A raw descriptor works as the source, like Python's integer fileobj.
    assert_eq!(sel.get_key(&fd(&wr)).unwrap().data, 'w');
    sel.unregister(&rd).unwrap();
    assert_eq!(sel.get_map().len(), 1);
    sel.unregister(&wr).unwrap();
    assert!(sel.is_empty());
}

fn close_returns_the_remaining_keys<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<i32, B>();
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, 1).unwrap();
    sel.register(&wr, Interest::WRITE, 2).unwrap();
    let notifier = sel.notifier();
    let mut keys: Vec<_> = sel.close().into_iter().map(|k| k.data).collect();
    keys.sort();
    assert_eq!(keys, vec![1, 2]);
    // Using a closed selector is impossible (close takes it by value); a
    // notifier outliving it does nothing.
    notifier.notify().unwrap();
    assert!(format!("{notifier:?}").contains("selector_open: false"));
}

fn select_reports_ready_sources_masked_by_their_interest<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<&str, B>();
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, "rd").unwrap();
    sel.register(&wr, Interest::WRITE, "wr").unwrap();
    // test_select: the writer is writable, the reader has nothing.
    let got = ready(&mut sel, Some(DEADLINE));
    assert_eq!(got, vec![(fd(&wr), Interest::WRITE)]);
    let result = sel.select(Some(Duration::ZERO)).unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!((result[0].0.data, result[0].1), ("wr", Interest::WRITE));
    // A socket both readable and writable, registered for READ only, is
    // reported READ only.
    (&wr).write_all(b"hello").unwrap();
    let got = ready(&mut sel, Some(DEADLINE));
    assert!(got.contains(&(fd(&rd), Interest::READ)), "{got:?}");
    // Registered for both: reported as both, once.
    sel.modify(&rd, Interest::BOTH, "rd").unwrap();
    let got = ready(&mut sel, Some(DEADLINE));
    assert!(got.contains(&(fd(&rd), Interest::BOTH)), "{got:?}");
    sel.unregister(&rd).unwrap();
    sel.unregister(&wr).unwrap();
}

fn select_is_level_triggered<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<(), B>();
    let (mut rd, wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    (&wr).write_all(b"ab").unwrap();
    let expected = vec![(fd(&rd), Interest::READ)];
    assert_eq!(ready(&mut sel, Some(DEADLINE)), expected);
    // Not read yet: reported again (level-triggered, as CPython's).
    assert_eq!(ready(&mut sel, Some(DEADLINE)), expected);
    let mut one = [0u8; 1];
    // Both bytes arrived (one segment): reading one leaves the other.
    rd.set_read_timeout(Some(DEADLINE)).unwrap();
    rd.read_exact(&mut one).unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        expected,
        "one byte is still there"
    );
    rd.read_exact(&mut one).unwrap();
    assert!(ready(&mut sel, Some(Duration::ZERO)).is_empty(), "drained");
    sel.unregister(&rd).unwrap();
}

fn a_hang_up_is_reported_as_the_registered_interest<B: Backend>() {
    // CPython maps EPOLLHUP/EPOLLERR to both events, then masks them with
    // the key's events: a reader sees READ (and reads EOF), never WRITE.
    let _fd = shared();
    let mut sel = new::<(), B>();
    let (mut rd, wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    drop(wr);
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd(&rd), Interest::READ)]
    );
    assert_eq!(
        rd.read(&mut [0u8; 8]).unwrap(),
        0,
        "the read that follows sees EOF"
    );
    sel.unregister(&rd).unwrap();
}

fn empty_select_with_zero_timeout_returns_at_once<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<(), B>();
    assert!(sel.select(Some(Duration::ZERO)).unwrap().is_empty());
    let (rd, _wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    assert!(sel.select(Some(Duration::ZERO)).unwrap().is_empty());
    sel.unregister(&rd).unwrap();
}

fn select_timeout_returns_empty_no_earlier_than_the_timeout<B: Backend>() {
    // test_timeout: nothing ready, select(t) waits t (an upper bound is not
    // checked: a slow machine may wake us late).
    let _fd = shared();
    let mut sel = new::<(), B>();
    let (rd, _wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    for timeout in [
        Duration::from_micros(300),
        Duration::from_millis(1),
        Duration::from_millis(50),
        Duration::from_millis(120),
    ] {
        let start = Instant::now();
        assert!(ready(&mut sel, Some(timeout)).is_empty());
        assert!(
            start.elapsed() >= timeout,
            "returned after {:?} < {timeout:?}",
            start.elapsed()
        );
    }
    sel.unregister(&rd).unwrap();
}

fn select_with_a_ready_source_does_not_wait_for_the_timeout<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<(), B>();
    let (_rd, wr) = pair();
    sel.register(&wr, Interest::WRITE, ()).unwrap();
    // A deadline of an hour: if the ready source did not end the wait, the
    // test would hang and `within` would fail it.
    let got = within(DEADLINE, "select with a writable source", move || {
        let got = ready(&mut sel, Some(Duration::from_secs(3600)));
        sel.unregister(&wr).unwrap();
        got
    });
    assert_eq!(got.len(), 1);
}

fn a_notifier_wakes_a_select_without_timeout<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<(), B>();
    let notifier = sel.notifier();
    let (rd, _wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    let waiter = synclings::testing::spawn_blocked(move || {
        let got = ready(&mut sel, None);
        sel.unregister(&rd).unwrap();
        got
    });
    assert!(
        !waiter.is_finished(),
        "select(None) blocks while nothing is ready"
    );
    notifier.notify().unwrap();
    let got = within(DEADLINE, "the notified select returns", move || {
        waiter.join().unwrap()
    });
    assert!(got.is_empty());
}

fn a_notification_before_select_wakes_the_next_select<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<(), B>();
    let notifier = sel.notifier();
    notifier.notify().unwrap();
    notifier.notify().unwrap(); // two notifications, one wake-up
    let mut sel = within(DEADLINE, "select after a notify", move || {
        assert!(ready(&mut sel, None).is_empty());
        sel
    });
    // Consumed: the next select waits its timeout.
    let timeout = Duration::from_millis(20);
    let start = Instant::now();
    assert!(ready(&mut sel, Some(timeout)).is_empty());
    assert!(
        start.elapsed() >= timeout,
        "returned after {:?}",
        start.elapsed()
    );
}

fn many_sockets_echo_through_one_selector<B: Backend>() {
    // test_selector: write on every writable writer, read every readable
    // reader, until each reader got its writer's message.
    const PAIRS: usize = 12;
    let _fd = shared();
    let mut sel = new::<(&str, usize), B>();
    let pairs = pairs(PAIRS);
    for (i, (rd, wr)) in pairs.iter().enumerate() {
        sel.register(rd, Interest::READ, ("reader", i)).unwrap();
        sel.register(wr, Interest::WRITE, ("writer", i)).unwrap();
    }
    let mut received = vec![Vec::new(); PAIRS];
    let mut rounds = 0;
    while received.iter().any(|r| r.is_empty()) {
        rounds += 1;
        assert!(rounds < 1000, "bounded: {received:?}");
        for (fd, events) in ready(&mut sel, Some(DEADLINE)) {
            let (role, i) = sel.get_key(&fd).unwrap().data;
            let (rd, wr) = &pairs[i];
            if role == "writer" {
                assert_eq!(events, Interest::WRITE);
                (&*wr).write_all(format!("msg {i}").as_bytes()).unwrap();
                sel.unregister(wr).unwrap();
            } else {
                assert_eq!(events, Interest::READ);
                let mut buf = [0u8; 64];
                let n = (&*rd).read(&mut buf).unwrap();
                received[i].extend_from_slice(&buf[..n]);
                sel.unregister(rd).unwrap();
            }
        }
    }
    for (i, got) in received.iter().enumerate() {
        assert_eq!(got, format!("msg {i}").as_bytes());
    }
    assert!(sel.is_empty());
}

fn debug_names_pythons_class<B: Backend>() {
    let _fd = shared();
    let mut sel = new::<(), B>();
    let (rd, _wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    let debug = format!("{sel:?}");
    let class = match B::KIND {
        BackendKind::Epoll => "EpollSelector",
        BackendKind::Poll => "PollSelector",
        BackendKind::Select => "SelectSelector",
        BackendKind::Polling => "PollingSelector",
    };
    assert!(debug.starts_with(class), "{debug}");
    assert!(debug.contains(&format!("({}, READ)", fd(&rd))), "{debug}");
    sel.unregister(&rd).unwrap();
}

/// test_above_fd_setsize: no `FD_SETSIZE` (1024) limit, for every backend
/// but select.
#[cfg(unix)]
fn more_than_fd_setsize_descriptors<B: Backend>() {
    const PAIRS: usize = 700; // 1400 descriptors, numbered past 1024
    let _fd = exclusive();
    if !raise_fd_limit(2 * PAIRS as libc::rlim_t + 200) {
        return;
    }
    let mut sel = new::<usize, B>();
    let pairs = pairs(PAIRS);
    let highest = pairs.iter().map(|(_, wr)| fd(wr)).max().unwrap();
    assert!(highest >= 1024, "descriptors go past FD_SETSIZE: {highest}");
    for (i, (rd, wr)) in pairs.iter().enumerate() {
        sel.register(rd, Interest::READ, i).unwrap();
        sel.register(wr, Interest::WRITE, i).unwrap();
    }
    // Every writer is writable, in one select.
    let writable = ready(&mut sel, Some(DEADLINE));
    assert_eq!(writable.len(), PAIRS);
    assert!(writable
        .iter()
        .all(|&(_, events)| events == Interest::WRITE));
    for (_, wr) in &pairs {
        sel.unregister(wr).unwrap();
        (&*wr).write_all(b"x").unwrap();
    }
    // Then every reader is readable (all of them, once the bytes are in).
    let mut readable = Vec::new();
    synclings::testing::eventually(DEADLINE, "every reader is readable", || {
        readable = ready(&mut sel, Some(DEADLINE));
        readable.len() == PAIRS
    });
    assert!(readable.iter().any(|&(fd, _)| fd >= 1024));
    for (rd, _) in &pairs {
        sel.unregister(rd).unwrap();
    }
}

/// Raises the soft `RLIMIT_NOFILE` to at least `needed` (up to the hard
/// limit); false, with the reason printed, if the hard limit is too low.
#[cfg(unix)]
fn raise_fd_limit(needed: libc::rlim_t) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live local.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    if limit.rlim_cur >= needed {
        return true;
    }
    if limit.rlim_max < needed.max(2100) {
        println!(
            "skipped: the hard RLIMIT_NOFILE is {} (< {}): cannot open enough descriptors",
            limit.rlim_max,
            needed.max(2100)
        );
        return false;
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit reads one rlimit from the live local.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    true
}

/// A `#[test]` per backend and test of the suite: `suite!(module: Backend;
/// extra tests)`, each test optionally with its attributes (`#[cfg(unix)]`).
macro_rules! suite {
    ($(#[$meta:meta])* $module:ident: $backend:ty; $($(#[$extra_meta:meta])* $extra:ident),* $(,)?) => {
        $(#[$meta])*
        mod $module {
            suite!(@tests $backend;
                register_returns_the_key_and_refuses_bad_calls,
                unregister_returns_the_data_and_refuses_unknown_sources,
                a_source_closed_without_unregister_can_still_be_removed,
                #[cfg(unix)] unregister_after_the_number_was_reused,
                modify_changes_the_events_and_the_data,
                get_key_and_get_map,
                close_returns_the_remaining_keys,
                select_reports_ready_sources_masked_by_their_interest,
                select_is_level_triggered,
                a_hang_up_is_reported_as_the_registered_interest,
                empty_select_with_zero_timeout_returns_at_once,
                select_timeout_returns_empty_no_earlier_than_the_timeout,
                select_with_a_ready_source_does_not_wait_for_the_timeout,
                a_notifier_wakes_a_select_without_timeout,
                a_notification_before_select_wakes_the_next_select,
                many_sockets_echo_through_one_selector,
                debug_names_pythons_class,
                $($(#[$extra_meta])* $extra),*
            );
        }
    };
    (@tests $backend:ty; $($(#[$test_meta:meta])* $test:ident),* $(,)?) => {$(
        $(#[$test_meta])*
        #[test]
        fn $test() {
            super::$test::<$backend>();
        }
    )*};
}

suite!(#[cfg(target_os = "linux")] epoll: synclings::selector::Epoll;
    #[cfg(unix)] more_than_fd_setsize_descriptors);
suite!(#[cfg(unix)] poll: synclings::selector::Poll;
    #[cfg(unix)] more_than_fd_setsize_descriptors);
suite!(#[cfg(unix)] select: synclings::selector::Select;);
suite!(polling: synclings::selector::Polling;
    #[cfg(unix)] more_than_fd_setsize_descriptors);

// ------------------------------------------- what differs, by design

/// epoll (and `polling` on Linux, which is epoll): a regular file cannot be
/// registered (`EPERM`, Python's `PermissionError`), and a failed register
/// leaves no key.
#[cfg(target_os = "linux")]
fn refuses_a_regular_file<B: Backend>() {
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let mut sel = new::<(), B>();
    let err = sel.register(&file, Interest::READ, ()).unwrap_err();
    assert!(
        matches!(err, SelectorError::Io(ref e) if e.raw_os_error() == Some(libc::EPERM)),
        "{err}"
    );
    assert!(
        sel.get_key(&file).is_err(),
        "a failed register leaves no key"
    );
    assert!(sel.is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn epoll_refuses_a_regular_file() {
    refuses_a_regular_file::<synclings::selector::Epoll>();
}

#[cfg(target_os = "linux")]
#[test]
fn polling_on_linux_refuses_a_regular_file() {
    refuses_a_regular_file::<synclings::selector::Polling>();
}

/// poll and select take a regular file, and report it ready at once (a
/// regular file never blocks), as Python's PollSelector and SelectSelector.
#[cfg(unix)]
fn reports_a_regular_file_ready<B: Backend>() {
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let mut sel = new::<(), B>();
    sel.register(&file, Interest::BOTH, ()).unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd_of_file(&file), Interest::BOTH)]
    );
    sel.unregister(&file).unwrap();
}

#[cfg(unix)]
fn fd_of_file(file: &std::fs::File) -> RawSource {
    file.as_raw_source()
}

#[cfg(unix)]
#[test]
fn poll_reports_a_regular_file_ready() {
    reports_a_regular_file_ready::<synclings::selector::Poll>();
}

#[cfg(unix)]
#[test]
fn select_reports_a_regular_file_ready() {
    reports_a_regular_file_ready::<synclings::selector::Select>();
}

/// epoll forgot the old file with its last descriptor: the new file under
/// the reused number is not registered with the kernel, so nothing is
/// reported under the old key.
#[cfg(target_os = "linux")]
#[test]
fn epoll_forgets_the_old_file_under_a_reused_number() {
    assert!(number_reused::<synclings::selector::Epoll>().is_empty());
    assert!(number_reused::<synclings::selector::Polling>().is_empty());
}

/// poll and select know numbers only: they watch the new file under the old
/// key (hence "unregister before closing").
#[cfg(unix)]
#[test]
fn poll_and_select_watch_the_new_file_under_a_reused_number() {
    for got in [
        number_reused::<synclings::selector::Poll>(),
        number_reused::<synclings::selector::Select>(),
    ] {
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, Interest::READ);
    }
}

/// select(2) cannot watch a descriptor at or above `FD_SETSIZE`: register
/// refuses it with `OutOfRange` (Python: `ValueError`), changing nothing,
/// and the selector goes on working with the others.
#[cfg(unix)]
#[test]
fn select_refuses_a_descriptor_at_or_above_fd_setsize() {
    use std::os::fd::{AsRawFd, OwnedFd};
    let _fd = exclusive();
    if !raise_fd_limit(libc::FD_SETSIZE as libc::rlim_t + 200) {
        return;
    }
    let mut sel = new::<&str, synclings::selector::Select>();
    let (rd, wr) = pair();
    // Duplicates take every number up to the first one past FD_SETSIZE.
    let filler = OwnedFd::from(rd.try_clone().unwrap());
    let mut taken = Vec::new();
    let high = loop {
        let dup = filler.try_clone().expect("a duplicate");
        if dup.as_raw_fd() >= libc::FD_SETSIZE as i32 {
            break dup;
        }
        taken.push(dup);
        assert!(taken.len() < 100_000, "bounded");
    };
    let err = sel.register(&high, Interest::READ, "high").unwrap_err();
    assert!(err.to_string().contains("FD_SETSIZE"), "{err}");
    match err {
        SelectorError::OutOfRange { fd, limit } => {
            assert_eq!(fd, high.as_raw_fd());
            assert_eq!(limit, libc::FD_SETSIZE);
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    assert!(sel.is_empty(), "a refused register leaves no key");
    drop(taken);
    // The others are watched as usual.
    sel.register(&rd, Interest::READ, "low").unwrap();
    (&wr).write_all(b"x").unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(fd(&rd), Interest::READ)]
    );
    sel.unregister(&rd).unwrap();
}

// ------------------------------------------------------------ the names

#[test]
fn interest_has_pythons_bits() {
    assert_eq!(Interest::READ.bits(), 1, "EVENT_READ");
    assert_eq!(Interest::WRITE.bits(), 2, "EVENT_WRITE");
    assert_eq!(Interest::READ | Interest::WRITE, Interest::BOTH);
    assert_eq!(Interest::new(true, true), Interest::BOTH);
    assert_eq!(Interest::new(false, false), Interest::empty());
    assert_eq!(Interest::from_bits(3), Some(Interest::BOTH));
    assert_eq!(
        Interest::from_bits(4),
        None,
        "Python: ValueError for unknown bits"
    );
    assert!(Interest::empty().is_empty());
    assert!(Interest::BOTH.contains(Interest::WRITE));
    assert_eq!(format!("{:?}", Interest::BOTH), "READ | WRITE");
}

#[test]
fn every_alias_is_a_selector_with_new() {
    fn same<D>(_: &DefaultSelector<D>) {}
    let sel: Selector<()> = Selector::new().unwrap();
    same(&sel); // Selector is DefaultSelector
    let _: PollingSelector<u8> = PollingSelector::new().unwrap();
    #[cfg(target_os = "linux")]
    {
        let _: synclings::selector::EpollSelector<u8> =
            synclings::selector::EpollSelector::new().unwrap();
        let _: synclings::selector::EpollSelector<()> = sel; // the default, on Linux
    }
    #[cfg(unix)]
    {
        let _ = synclings::selector::PollSelector::<u8>::new().unwrap();
        let _ = synclings::selector::SelectSelector::<u8>::new().unwrap();
    }
    #[cfg(any(target_os = "macos", target_os = "freebsd"))]
    {
        let _: synclings::selector::KqueueSelector<u8> = PollingSelector::new().unwrap();
    }
}

#[test]
fn selectors_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PollingSelector<String>>();
    send_sync::<DefaultSelector<String>>();
    send_sync::<synclings::selector::Notifier>();
    #[cfg(unix)]
    {
        send_sync::<synclings::selector::PollSelector<String>>();
        send_sync::<synclings::selector::SelectSelector<String>>();
    }
}

#[test]
fn backend_names_round_trip() {
    for kind in BackendKind::ALL {
        assert_eq!(kind.name().parse::<BackendKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.name());
    }
    let err = "kqueue".parse::<BackendKind>().unwrap_err();
    assert!(
        err.to_string().contains("epoll, poll, select, polling"),
        "{err}"
    );
    assert!(BackendKind::DEFAULT.is_available());
    assert!(BackendKind::Polling.is_available());
    #[cfg(target_os = "linux")]
    {
        assert_eq!(BackendKind::DEFAULT, BackendKind::Epoll);
        assert!(BackendKind::ALL.iter().all(|k| k.is_available()));
    }
}
