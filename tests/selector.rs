//! `Selector` against the semantics of CPython's `Lib/test/test_selectors.py`
//! (`BaseSelectorTestCase` and `ScalableSelectorMixIn`, as run for
//! `EpollSelector`).
#![cfg(not(loom))]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use synclings::selector::{Interest, Selector, SelectorError, SelectorKey};
use synclings::testing::{within, DEADLINE};

fn pair() -> (UnixStream, UnixStream) {
    UnixStream::pair().expect("socketpair")
}

/// The ready list as (fd, events), sorted by fd.
fn ready<D>(sel: &mut Selector<D>, timeout: Option<Duration>) -> Vec<(RawFd, Interest)> {
    let mut ready = sel.select_ready(timeout).expect("select");
    ready.sort_by_key(|&(fd, _)| fd);
    ready
}

#[test]
fn register_returns_the_key_and_refuses_bad_calls() {
    let mut sel = Selector::new().unwrap();
    let (rd, wr) = pair();
    let key = sel.register(&rd, Interest::READ, "data").unwrap().clone();
    assert_eq!(
        key,
        SelectorKey {
            fd: rd.as_raw_fd(),
            interest: Interest::READ,
            data: "data"
        }
    );
    // Python: ValueError for events 0.
    assert!(matches!(
        sel.register(&wr, Interest::empty(), "x"),
        Err(SelectorError::EmptyInterest(fd)) if fd == wr.as_raw_fd()
    ));
    // Python: KeyError for a second registration.
    assert!(matches!(
        sel.register(&rd, Interest::WRITE, "again"),
        Err(SelectorError::AlreadyRegistered(fd)) if fd == rd.as_raw_fd()
    ));
    assert_eq!(
        sel.get_key(&rd).unwrap().data,
        "data",
        "the refused call changed nothing"
    );
    assert_eq!(sel.len(), 1);
    sel.unregister(&rd).unwrap();
}

#[test]
fn interest_has_pythons_bits() {
    assert_eq!(Interest::READ.bits(), 1, "EVENT_READ");
    assert_eq!(Interest::WRITE.bits(), 2, "EVENT_WRITE");
    assert_eq!(Interest::READ | Interest::WRITE, Interest::BOTH);
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
fn registering_a_regular_file_is_an_io_error_and_leaves_no_key() {
    // EpollSelector: PermissionError (EPERM) for a regular file.
    let file = std::fs::File::open("Cargo.toml").unwrap();
    let err = sel_register_err(&file);
    assert!(
        matches!(err, SelectorError::Io(ref e) if e.raw_os_error() == Some(libc::EPERM)),
        "{err}"
    );
}

fn sel_register_err(file: &std::fs::File) -> SelectorError {
    let mut sel = Selector::new().unwrap();
    let err = sel.register(file, Interest::READ, ()).unwrap_err();
    assert!(
        sel.get_key(file).is_err(),
        "a failed register leaves no key"
    );
    assert!(sel.is_empty());
    err
}

#[test]
fn unregister_returns_the_data_and_refuses_unknown_sources() {
    let mut sel = Selector::new().unwrap();
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

#[test]
fn a_source_closed_without_unregister_can_still_be_removed() {
    // CPython's test_unregister_after_fd_close: closing first is tolerated.
    // With Rust's I/O safety the closed source cannot be passed to
    // `unregister`; `unregister_closed` removes its key by number.
    let mut sel = Selector::new().unwrap();
    let (rd, wr) = pair();
    let (r, w) = (rd.as_raw_fd(), wr.as_raw_fd());
    sel.register(&rd, Interest::READ, "r").unwrap();
    sel.register(&wr, Interest::WRITE, "w").unwrap();
    drop(rd);
    drop(wr);
    // The kernel dropped the registrations: nothing is reported.
    assert!(ready(&mut sel, Some(Duration::ZERO)).is_empty());
    assert_eq!(sel.unregister_closed(r).unwrap(), "r");
    assert_eq!(sel.unregister_closed(w).unwrap(), "w");
    assert!(matches!(
        sel.unregister_closed(r),
        Err(SelectorError::NotRegistered(_))
    ));
    assert!(sel.is_empty());
}

#[test]
fn unregister_after_the_number_was_reused() {
    // test_unregister_after_fd_close_and_reuse: the registered file is closed
    // and its number now names another file (dup2 does both at once).
    let mut sel = Selector::new().unwrap();
    let (rd, _wr) = pair();
    let (rd2, wr2) = pair();
    sel.register(&rd, Interest::READ, "old").unwrap();
    // Safety: both descriptors are open and owned by this test; `rd` keeps
    // owning its number, which now refers to rd2's socket.
    assert_eq!(
        unsafe { libc::dup2(rd2.as_raw_fd(), rd.as_raw_fd()) },
        rd.as_raw_fd()
    );
    (&wr2).write_all(b"x").unwrap();
    // epoll forgot the old file with its last descriptor: the new file, not
    // registered with the kernel, is not reported...
    assert!(ready(&mut sel, Some(Duration::ZERO)).is_empty());
    // ...and the stale key is in the way of a new registration...
    assert!(matches!(
        sel.register(&rd, Interest::READ, "new"),
        Err(SelectorError::AlreadyRegistered(_))
    ));
    // ...until unregister removes it (the kernel's ENOENT is ignored).
    assert_eq!(sel.unregister(&rd).unwrap(), "old");
    sel.register(&rd, Interest::READ, "new").unwrap();
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(rd.as_raw_fd(), Interest::READ)]
    );
    sel.unregister(&rd).unwrap();
}

#[test]
fn modify_changes_the_events_and_the_data() {
    let mut sel = Selector::new().unwrap();
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, 1).unwrap();
    // Different events: the kernel is told.
    let key = sel.modify(&rd, Interest::WRITE, 2).unwrap().clone();
    assert_eq!((key.interest, key.data), (Interest::WRITE, 2));
    assert_eq!(
        ready(&mut sel, Some(Duration::ZERO)),
        vec![(rd.as_raw_fd(), Interest::WRITE)]
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
        vec![(rd.as_raw_fd(), Interest::READ)]
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

#[test]
fn get_key_and_get_map() {
    let mut sel = Selector::new().unwrap();
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
    assert_eq!(map[&rd.as_raw_fd()].data, 'r');
    assert_eq!(map[&wr.as_raw_fd()].interest, Interest::BOTH);
    // A raw fd works as the source, like Python's integer fileobj.
    assert_eq!(sel.get_key(&wr.as_raw_fd()).unwrap().data, 'w');
    sel.unregister(&rd).unwrap();
    assert_eq!(sel.get_map().len(), 1);
    sel.unregister(&wr).unwrap();
    assert!(sel.is_empty());
}

#[test]
fn close_returns_the_remaining_keys() {
    let mut sel = Selector::new().unwrap();
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
}

#[test]
fn select_reports_ready_sources_masked_by_their_interest() {
    let mut sel = Selector::new().unwrap();
    let (rd, wr) = pair();
    sel.register(&rd, Interest::READ, "rd").unwrap();
    sel.register(&wr, Interest::WRITE, "wr").unwrap();
    // test_select: the writer is writable, the reader has nothing.
    let result = sel.select(Some(Duration::ZERO)).unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!((result[0].0.data, result[0].1), ("wr", Interest::WRITE));
    // A socket both readable and writable, registered for READ only, is
    // reported READ only.
    (&wr).write_all(b"hello").unwrap();
    sel.modify(&rd, Interest::READ, "rd").unwrap();
    let got = ready(&mut sel, Some(DEADLINE));
    assert!(got.contains(&(rd.as_raw_fd(), Interest::READ)), "{got:?}");
    // Registered for both: reported as both.
    sel.modify(&rd, Interest::BOTH, "rd").unwrap();
    let got = ready(&mut sel, Some(DEADLINE));
    assert!(got.contains(&(rd.as_raw_fd(), Interest::BOTH)), "{got:?}");
    sel.unregister(&rd).unwrap();
    sel.unregister(&wr).unwrap();
}

#[test]
fn select_is_level_triggered() {
    let mut sel = Selector::new().unwrap();
    let (mut rd, wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    (&wr).write_all(b"ab").unwrap();
    let expected = vec![(rd.as_raw_fd(), Interest::READ)];
    assert_eq!(ready(&mut sel, Some(DEADLINE)), expected);
    // Not read yet: reported again (epoll in level mode, as CPython uses it).
    assert_eq!(ready(&mut sel, Some(DEADLINE)), expected);
    let mut one = [0u8; 1];
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

#[test]
fn a_hang_up_is_reported_as_the_registered_interest() {
    // CPython maps EPOLLHUP/EPOLLERR to both events, then masks them with
    // the key's events: a reader sees READ (and reads EOF), never WRITE.
    let mut sel = Selector::new().unwrap();
    let (mut rd, wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    drop(wr);
    assert_eq!(
        ready(&mut sel, Some(DEADLINE)),
        vec![(rd.as_raw_fd(), Interest::READ)]
    );
    assert_eq!(
        rd.read(&mut [0u8; 8]).unwrap(),
        0,
        "the read that follows sees EOF"
    );
    sel.unregister(&rd).unwrap();
}

#[test]
fn empty_select_with_zero_timeout_returns_at_once() {
    let mut sel = Selector::<()>::new().unwrap();
    assert!(sel.select(Some(Duration::ZERO)).unwrap().is_empty());
    let (rd, _wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    assert!(sel.select(Some(Duration::ZERO)).unwrap().is_empty());
    sel.unregister(&rd).unwrap();
}

#[test]
fn select_timeout_returns_empty_no_earlier_than_the_timeout() {
    // test_timeout: nothing ready, select(t) waits t (an upper bound is not
    // checked: a slow machine may wake us late).
    let mut sel = Selector::new().unwrap();
    let (rd, _wr) = pair();
    sel.register(&rd, Interest::READ, ()).unwrap();
    for timeout in [
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

#[test]
fn select_with_a_ready_source_does_not_wait_for_the_timeout() {
    let mut sel = Selector::new().unwrap();
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

#[test]
fn a_notifier_wakes_a_select_without_timeout() {
    let mut sel = Selector::<()>::new().unwrap();
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

#[test]
fn a_notification_before_select_wakes_the_next_select() {
    let mut sel = Selector::<()>::new().unwrap();
    sel.notifier().notify().unwrap();
    let got = within(DEADLINE, "select after a notify", move || {
        ready(&mut sel, None)
    });
    assert!(got.is_empty());
}

#[test]
fn many_sockets_echo_through_one_selector() {
    // test_selector: write on every writable writer, read every readable
    // reader, until each reader got its writer's message.
    const PAIRS: usize = 12;
    let mut sel = Selector::new().unwrap();
    let pairs: Vec<_> = (0..PAIRS).map(|_| pair()).collect();
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

#[test]
fn more_than_fd_setsize_descriptors() {
    // test_above_fd_setsize: epoll has no FD_SETSIZE (1024) limit.
    const PAIRS: usize = 700; // 1400 descriptors, numbered past 1024
    if !raise_fd_limit(2 * PAIRS as u64 + 200) {
        return;
    }
    let mut sel = Selector::new().unwrap();
    let pairs: Vec<_> = (0..PAIRS).map(|_| pair()).collect();
    let highest = pairs.iter().map(|(_, wr)| wr.as_raw_fd()).max().unwrap();
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
    for (rd, wr) in &pairs {
        sel.unregister(wr).unwrap();
        (&*wr).write_all(b"x").unwrap();
        let _ = rd;
    }
    // Then every reader is readable.
    let readable = ready(&mut sel, Some(DEADLINE));
    assert_eq!(readable.len(), PAIRS);
    assert!(readable.iter().any(|&(fd, _)| fd >= 1024));
    for (rd, _) in &pairs {
        sel.unregister(rd).unwrap();
    }
}

/// Raises the soft `RLIMIT_NOFILE` to at least `needed` (up to the hard
/// limit); false, with the reason printed, if the hard limit is too low.
fn raise_fd_limit(needed: u64) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: getrlimit writes one rlimit into the live local.
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
    // Safety: setrlimit reads one rlimit from the live local.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    true
}
