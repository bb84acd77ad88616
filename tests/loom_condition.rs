//! Loom models of `Condition<T>`: no lost wake-up, a notify racing a timeout,
//! FIFO order.
#![cfg(loom)]

use std::collections::BTreeSet;

use synclings::sync::{thread, Arc, Duration};
use synclings::Condition;

/// Outcomes seen across a model's executions (outside loom's world), to
/// check that the model really explored the races it is about.
type Seen<T> = std::sync::Arc<std::sync::Mutex<BTreeSet<T>>>;

/// Race: the waiter checks the flag and registers, while the notifier sets
/// the flag and calls `notify(1)`. If the notify could slip in between the
/// check and the registration, the waiter would sleep forever: loom would
/// report a deadlock. The model must terminate with the waiter seeing the flag.
#[test]
fn no_lost_wake_up() {
    loom::model(|| {
        let cond = Arc::new(Condition::new(false));
        let notifier = {
            let cond = cond.clone();
            thread::spawn(move || {
                let mut ready = cond.lock();
                *ready = true;
                ready.notify(1);
            })
        };
        let mut ready = cond.lock();
        ready.wait_for(|&ready| ready);
        assert!(*ready);
        drop(ready);
        notifier.join().unwrap();
    });
}

/// Race: a `notify(1)` against a waiter's timeout (the facade models the
/// timeout firing at any point). The waiter reports `true` exactly when the
/// notifier found it waiting: a notify that chose it is never lost to the
/// timeout, and a waiter that timed out first is not counted by the notify.
#[test]
fn notify_racing_a_timeout_is_consistent() {
    let seen: Seen<(usize, bool)> = Default::default();
    let record = seen.clone();
    loom::model(move || {
        let cond = Arc::new(Condition::new(()));
        let waiter = {
            let cond = cond.clone();
            thread::spawn(move || cond.lock().wait_timeout(Duration::from_secs(1)))
        };
        let found = {
            let guard = cond.lock();
            let found = guard.waiters();
            guard.notify(1);
            found
        };
        let notified = waiter.join().unwrap();
        assert_eq!(
            notified,
            found == 1,
            "found {found} waiter(s), notified = {notified}"
        );
        assert_eq!(cond.waiters(), 0, "the waiter left the queue");
        record.lock().unwrap().insert((found, notified));
    });
    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&(1, true)),
        "never explored the notify winning: {seen:?}"
    );
    assert!(
        seen.contains(&(0, false)),
        "never explored the timeout winning: {seen:?}"
    );
}

/// Race: two timed waiters and one `notify(1)`; either waiter may time out
/// before the notify. Exactly one wakes if the notifier found anyone live: a
/// waiter that timed out does not swallow the notify meant for the other.
/// If both were live, the first to register (ticket 0) is the one woken.
#[test]
fn a_notify_skips_a_timed_out_waiter() {
    let seen: Seen<usize> = Default::default();
    let record = seen.clone();
    loom::model(move || {
        // The value hands out tickets in registration order.
        let cond = Arc::new(Condition::new(0_usize));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let cond = cond.clone();
                thread::spawn(move || {
                    let mut tickets = cond.lock();
                    let ticket = *tickets;
                    *tickets += 1;
                    (ticket, tickets.wait_timeout(Duration::from_secs(1)))
                })
            })
            .collect();
        let (live, registered) = {
            let guard = cond.lock();
            let seen = (guard.waiters(), *guard);
            guard.notify(1);
            seen
        };
        let results: Vec<(usize, bool)> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        let woken: Vec<usize> = results.iter().filter(|r| r.1).map(|r| r.0).collect();
        assert_eq!(woken.len(), live.min(1), "live {live}, results {results:?}");
        if live == 2 && registered == 2 {
            assert_eq!(woken, [0], "FIFO: the longest-waiting is woken");
        }
        record.lock().unwrap().insert(live);
    });
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        BTreeSet::from([0, 1, 2]),
        "live waiters found by the notify"
    );
}

/// FIFO: two untimed waiters register in some order (their tickets); the
/// first `notify(1)` must wake the first to register and only it, the second
/// `notify(1)` the other. Loom checks every interleaving of registration and
/// wake-up; an unfair pick or a lost wake-up fails an assert or deadlocks.
#[test]
fn notify_one_is_fifo() {
    loom::model(|| {
        // (next ticket, tickets of the waiters that woke, in order)
        let cond = Arc::new(Condition::new((0_usize, Vec::new())));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let cond = cond.clone();
                thread::spawn(move || {
                    let mut state = cond.lock();
                    let ticket = state.0;
                    state.0 += 1;
                    state.wait();
                    state.1.push(ticket);
                })
            })
            .collect();
        while cond.waiters() < 2 {
            thread::yield_now();
        }
        cond.lock().notify(1);
        while cond.lock().1.is_empty() {
            thread::yield_now();
        }
        {
            let state = cond.lock();
            assert_eq!(state.1, [0], "the first to wait wakes first, alone");
            state.notify(1);
        }
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!(cond.lock().1, [0, 1]);
    });
}
