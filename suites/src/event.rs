//! Exercise 4, `event`: the suite of a `threading.Event`.

/// Tests (and, under `--cfg loom`, loom models) of an `Event` type with
/// `new`, `set`, `clear`, `is_set`, `wait` and `wait_timeout(Duration) -> bool`.
///
/// Pass an absolute path to the type (the suite expands inside its own
/// module):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::event_suite!(crate::Event);
/// ```
#[macro_export]
macro_rules! event_suite {
    ($event:ty) => {
        #[cfg(not(loom))]
        mod event_suite {
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::Arc;
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::{
                current_tid, eventually, wait_until_parked, within,
            };
            use $crate::DEADLINE;

            type Subject = $event;

            #[test]
            fn starts_clear_then_set_then_clear() {
                let e = <Subject>::new();
                assert!(!e.is_set(), "a new Event is not set");
                e.set();
                assert!(e.is_set(), "is_set after set");
                e.set();
                assert!(e.is_set(), "set twice is still set");
                e.clear();
                assert!(!e.is_set(), "clear resets the flag");
            }

            #[test]
            fn wait_on_a_set_event_returns_at_once() {
                let e = Arc::new(<Subject>::new());
                e.set();
                let e2 = e.clone();
                within(DEADLINE, "wait() on a set event", move || e2.wait());
                assert!(e.wait_timeout(Duration::from_millis(1)), "wait_timeout on a set event is true");
            }

            #[test]
            fn a_timed_wait_returns_false_no_earlier_than_its_timeout() {
                let e = <Subject>::new();
                let timeout = Duration::from_millis(50);
                let t0 = Instant::now();
                assert!(!e.wait_timeout(timeout), "nobody set the event: the wait times out");
                assert!(t0.elapsed() >= timeout, "returned after {:?}, before its timeout {timeout:?}", t0.elapsed());
            }

            #[test]
            fn set_wakes_every_waiter_and_only_set_does() {
                const WAITERS: usize = 5;
                let e = Arc::new(<Subject>::new());
                let set_called = Arc::new(AtomicBool::new(false));
                let (tx, rx) = std::sync::mpsc::channel();
                let mut handles = Vec::new();
                for _ in 0..WAITERS {
                    let (e, set_called, tx) = (e.clone(), set_called.clone(), tx.clone());
                    handles.push(std::thread::spawn(move || {
                        tx.send(current_tid()).unwrap();
                        e.wait();
                        // An untimed wait must not return before `set`.
                        set_called.load(SeqCst)
                    }));
                }
                for _ in 0..WAITERS {
                    let tid = rx.recv_timeout(DEADLINE).expect("every waiter starts");
                    wait_until_parked(DEADLINE, "a waiter blocks in wait()", tid);
                }
                set_called.store(true, SeqCst);
                e.set();
                let woke = within(DEADLINE, "every waiter wakes after set", move || {
                    handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
                });
                assert_eq!(woke, vec![true; WAITERS], "each waiter returned only after set was called");
            }

            #[test]
            fn a_waiter_returns_true_even_if_clear_follows_set_at_once() {
                let e = Arc::new(<Subject>::new());
                let (tx, rx) = std::sync::mpsc::channel();
                let e2 = e.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    e2.wait_timeout(DEADLINE)
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                wait_until_parked(DEADLINE, "the waiter blocks in wait_timeout()", tid);
                e.set();
                e.clear();
                let result = within(DEADLINE, "the waiter returns", move || waiter.join().unwrap());
                assert!(result, "a set happened while it waited: wait_timeout must return true (CPython semantics)");
                assert!(!e.is_set());
            }

            #[test]
            fn many_rounds_of_set_and_clear_lose_no_waiter() {
                let e = Arc::new(<Subject>::new());
                let done = Arc::new(AtomicUsize::new(0));
                let mut handles = Vec::new();
                for _ in 0..4 {
                    let (e, done) = (e.clone(), done.clone());
                    handles.push(std::thread::spawn(move || {
                        for _ in 0..200 {
                            e.wait();
                        }
                        done.fetch_add(1, SeqCst);
                    }));
                }
                // Keep the event set until every waiter has finished its rounds:
                // a lost wake-up would leave a waiter blocked and trip the deadline.
                e.set();
                eventually(DEADLINE, "all waiters finish 200 waits on a set event", || done.load(SeqCst) == 4);
                e.clear();
                within(DEADLINE, "waiters exit", move || handles.into_iter().for_each(|h| h.join().unwrap()));
            }
        }

        #[cfg(loom)]
        mod event_loom {
            use $crate::synclings::sync::atomic::{AtomicBool, Ordering::SeqCst};
            use $crate::synclings::sync::{thread, Arc, Duration};

            type Subject = $event;

            /// Lost wake-up: the waiter checks the flag, then sleeps; `set`
            /// must not slip between the two. Loom reports a deadlock if it does.
            #[test]
            fn set_wakes_a_waiter_no_lost_wake_up() {
                $crate::loom::model(|| {
                    let e = Arc::new(<Subject>::new());
                    let e2 = e.clone();
                    let t = thread::spawn(move || e2.wait());
                    e.set();
                    t.join().unwrap();
                    assert!(e.is_set());
                });
            }

            /// set then clear racing a timed waiter: if the waiter says true,
            /// a set really happened before it returned.
            #[test]
            fn a_true_wait_means_a_set_happened() {
                $crate::loom::model(|| {
                    let e = Arc::new(<Subject>::new());
                    let set_started = Arc::new(AtomicBool::new(false));
                    let (e2, s2) = (e.clone(), set_started.clone());
                    let t = thread::spawn(move || {
                        let r = e2.wait_timeout(Duration::from_secs(1));
                        assert!(!r || s2.load(SeqCst), "true without any set");
                    });
                    set_started.store(true, SeqCst);
                    e.set();
                    e.clear();
                    t.join().unwrap();
                });
            }
        }
    };
}
