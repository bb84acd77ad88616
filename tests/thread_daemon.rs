//! Daemon threads and Python's exit: `join_non_daemon` waits for every
//! non-daemon thread started through `synclings::thread` and for no daemon;
//! the flag is inherited from the spawning thread; `exit_guard` waits when
//! dropped. The count is process-wide: this binary holds one test.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use synclings::testing::{current_tid, wait_until_parked, within, DEADLINE};
use synclings::thread;

#[test]
fn non_daemon_threads_are_waited_for_daemons_are_not() {
    assert!(!thread::is_daemon(), "the main thread is not a daemon");
    assert_eq!(thread::non_daemon_count(), 0);

    // A daemon blocked forever, and a daemon's child (a daemon too).
    let (inherited_tx, inherited) = mpsc::channel();
    thread::Builder::new()
        .daemon(true)
        .spawn(move || {
            assert!(thread::is_daemon());
            let child = thread::spawn(thread::is_daemon).unwrap();
            inherited_tx.send(child.join().unwrap()).unwrap();
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    assert!(
        inherited.recv_timeout(DEADLINE).unwrap(),
        "a daemon's child is a daemon"
    );

    // A non-daemon thread blocked until told.
    let (go, wait) = mpsc::channel::<()>();
    let done = Arc::new(AtomicBool::new(false));
    let d = Arc::clone(&done);
    thread::spawn(move || {
        assert!(!thread::is_daemon(), "inherited from main");
        wait.recv().unwrap();
        d.store(true, SeqCst);
    })
    .unwrap();
    assert_eq!(thread::non_daemon_count(), 1, "the daemons are not counted");
    assert!(
        !thread::join_non_daemon_timeout(Duration::ZERO),
        "a blocked non-daemon thread is waited for"
    );

    // The exit guard blocks until the non-daemon thread ends: a daemon
    // releases it only once this thread sleeps inside the guard's drop.
    let main_tid = current_tid();
    thread::Builder::new()
        .daemon(true)
        .spawn(move || {
            wait_until_parked(DEADLINE, "main waits in the exit guard", main_tid);
            go.send(()).unwrap();
        })
        .unwrap();
    let guard = thread::exit_guard();
    drop(guard);
    assert!(
        done.load(SeqCst),
        "the guard returned only after the thread ended"
    );
    assert_eq!(thread::non_daemon_count(), 0);
    within(
        DEADLINE,
        "join_non_daemon with only daemons left",
        thread::join_non_daemon,
    );
}
