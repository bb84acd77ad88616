//! Exercise 9, `condition`: the suite of a `threading.Condition` with FIFO
//! `notify(n)`.

/// Tests (and, under `--cfg loom`, loom models) of a `Condition<T>` type with
/// `new(T)` and `lock() -> ConditionGuard<'_, T>`, the guard being
/// `DerefMut<Target = T>` with `wait(&mut self)`,
/// `wait_timeout(&mut self, Duration) -> bool` (false = timed out),
/// `wait_for(&mut self, impl FnMut(&T) -> bool)`,
/// `wait_for_timeout(&mut self, impl FnMut(&T) -> bool, Duration) -> bool`
/// (the predicate's last value), `notify(&self, usize)` (wakes at most `n`
/// waiters, the longest-waiting first; timed-out waiters are not counted)
/// and `notify_all(&self)`. No spurious wake-ups: a `wait` returns only
/// after a notify chose it.
///
/// Pass the path of the generic type, without its parameter:
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::condition_suite!(crate::Condition);
/// ```
#[macro_export]
macro_rules! condition_suite {
    ($($condition:ident)::+) => {
        #[cfg(not(loom))]
        mod condition_suite {
            use std::sync::{mpsc, Arc};
            use std::thread::JoinHandle;
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::{
                current_tid, eventually, is_parked, wait_until_parked, within,
            };
            use $crate::DEADLINE;

            type Subject<T> = $($condition)::+<T>;

            /// The value the ordering tests share.
            #[derive(Debug, Default)]
            struct Log {
                /// Waiter ids, in the order they started waiting.
                waiting: Vec<usize>,
                /// Waiter ids, in the order their `wait` returned.
                woke: Vec<usize>,
                /// Set (under the lock) right before the first notify.
                notify_sent: bool,
            }

            /// Waits until thread `tid` sleeps in the kernel (it is blocked),
            /// unless `escaped()` turns true first: then a thread got
            /// through, and the caller's next assertion says what went wrong.
            fn parked_unless(what: &str, tid: u32, escaped: impl Fn() -> bool) {
                let mut settled = 0;
                eventually(DEADLINE, what, || {
                    settled = if is_parked(tid) { settled + 1 } else { 0 };
                    settled >= 3 || escaped()
                });
            }

            /// Starts `n` waiters (ids `0..n`), each doing one plain `wait()`,
            /// one after the other: waiter `i` is in its wait, asleep, before
            /// waiter `i + 1` starts. Returns their handles and kernel ids.
            fn start_waiters_in_order(cond: &Arc<Subject<Log>>, n: usize) -> (Vec<JoinHandle<()>>, Vec<u32>) {
                let mut handles = Vec::new();
                let mut tids = Vec::new();
                for id in 0..n {
                    let (tx, rx) = mpsc::channel();
                    let c = cond.clone();
                    handles.push(std::thread::spawn(move || {
                        tx.send(current_tid()).unwrap();
                        let mut log = c.lock();
                        log.waiting.push(id);
                        log.wait();
                        assert!(log.notify_sent, "waiter {id} woke before any notify");
                        log.woke.push(id);
                    }));
                    let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                    // It pushed its id and waits in one lock hold: once we can
                    // lock and see the id, it is inside wait().
                    eventually(DEADLINE, "the waiter registers", || cond.lock().waiting.len() == id + 1);
                    wait_until_parked(DEADLINE, "the waiter sleeps in wait()", tid);
                    tids.push(tid);
                }
                (handles, tids)
            }

            fn woke(cond: &Subject<Log>) -> Vec<usize> {
                cond.lock().woke.clone()
            }

            /// Once `woken` waiters returned: waits until every waiter that
            /// did not return is asleep again (or one more returned).
            fn others_stay_asleep(cond: &Subject<Log>, tids: &[u32], woken: usize) {
                let returned = woke(cond);
                for (id, &tid) in tids.iter().enumerate() {
                    if !returned.contains(&id) {
                        parked_unless("the waiters not notified stay asleep", tid, || woke(cond).len() > woken);
                    }
                }
            }

            fn join_all(handles: Vec<JoinHandle<()>>) {
                within(DEADLINE, "every notified waiter returns", move || {
                    handles.into_iter().for_each(|h| h.join().unwrap())
                });
            }

            #[test]
            fn notify_one_wakes_the_longest_waiting_first() {
                const WAITERS: usize = 4;
                let cond = Arc::new(<Subject<Log>>::new(Log::default()));
                let (handles, tids) = start_waiters_in_order(&cond, WAITERS);
                for round in 0..WAITERS {
                    {
                        let mut log = cond.lock();
                        log.notify_sent = true;
                        log.notify(1);
                    }
                    eventually(DEADLINE, "the notified waiter returns", || woke(&cond).len() > round);
                    others_stay_asleep(&cond, &tids, round + 1);
                    assert_eq!(
                        woke(&cond),
                        (0..=round).collect::<Vec<_>>(),
                        "notify(1) wakes exactly one waiter, the longest-waiting (FIFO)"
                    );
                }
                join_all(handles);
            }

            #[test]
            fn notify_n_wakes_at_most_n_oldest_first() {
                const WAITERS: usize = 6;
                let cond = Arc::new(<Subject<Log>>::new(Log::default()));
                let (handles, tids) = start_waiters_in_order(&cond, WAITERS);
                let mut expected = 0;
                for n in [2, 3] {
                    {
                        let mut log = cond.lock();
                        log.notify_sent = true;
                        log.notify(n);
                    }
                    expected += n;
                    eventually(DEADLINE, "the notified waiters return", || woke(&cond).len() >= expected);
                    others_stay_asleep(&cond, &tids, expected);
                    let mut woken = woke(&cond);
                    woken.sort();
                    assert_eq!(
                        woken,
                        (0..expected).collect::<Vec<_>>(),
                        "notify({n}) wakes exactly {n} waiters, the longest-waiting ones"
                    );
                }
                // More than are waiting: wakes the one left.
                cond.lock().notify(10);
                join_all(handles);
                assert_eq!(woke(&cond).len(), WAITERS);
            }

            #[test]
            fn notify_all_wakes_every_waiter() {
                let cond = Arc::new(<Subject<Log>>::new(Log::default()));
                let (handles, _) = start_waiters_in_order(&cond, 5);
                {
                    let mut log = cond.lock();
                    log.notify_sent = true;
                    log.notify_all();
                }
                join_all(handles);
                let mut woken = woke(&cond);
                woken.sort();
                assert_eq!(woken, [0, 1, 2, 3, 4]);
            }

            #[test]
            fn a_notify_with_no_waiters_is_not_remembered() {
                let cond = Arc::new(<Subject<()>>::new(()));
                let c = cond.clone();
                let notified = within(DEADLINE, "a timed wait returns", move || {
                    let mut guard = c.lock();
                    guard.notify(1);
                    guard.notify_all();
                    // A notify is not a permit: a wait after it times out.
                    guard.wait_timeout(Duration::from_millis(20))
                });
                assert!(!notified, "nobody notified after the wait began");
            }

            #[test]
            fn timed_out_waiters_are_not_counted() {
                #[derive(Default)]
                struct State {
                    a_waiting: bool,
                    b_waiting: bool,
                    b_woke: bool,
                }
                let cond = Arc::new(<Subject<State>>::new(State::default()));
                let c = cond.clone();
                let a = std::thread::spawn(move || {
                    let mut state = c.lock();
                    state.a_waiting = true;
                    state.wait_timeout(Duration::from_millis(100))
                });
                // A flags itself and waits in one lock hold: it registers first.
                eventually(DEADLINE, "A waits", || cond.lock().a_waiting);
                let (tx, rx) = mpsc::channel();
                let c = cond.clone();
                let b = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    let mut state = c.lock();
                    state.b_waiting = true;
                    state.wait();
                    state.b_woke = true;
                });
                let b_tid = rx.recv_timeout(DEADLINE).expect("B starts");
                eventually(DEADLINE, "B waits", || cond.lock().b_waiting);
                wait_until_parked(DEADLINE, "B sleeps in wait()", b_tid);
                let a_notified = within(DEADLINE, "A times out", move || a.join().unwrap());
                assert!(!a_notified, "nobody notified A: its timed wait returns false");
                cond.lock().notify(1);
                within(DEADLINE, "notify(1) wakes B, not A who left on its timeout", move || b.join().unwrap());
                assert!(cond.lock().b_woke);
            }

            #[test]
            fn a_timed_wait_returns_false_no_earlier_than_its_timeout() {
                let cond = Arc::new(<Subject<u8>>::new(7));
                let (notified, waited, value) = within(DEADLINE, "a timed wait returns", move || {
                    let mut guard = cond.lock();
                    let t0 = Instant::now();
                    let notified = guard.wait_timeout(Duration::from_millis(50));
                    (notified, t0.elapsed(), *guard)
                });
                assert!(!notified, "nobody notified: wait_timeout returns false");
                assert!(waited >= Duration::from_millis(50), "returned after {waited:?}, before its timeout");
                assert_eq!(value, 7, "the guard still gives the value after the wait");
            }

            #[test]
            fn a_timed_wait_returns_true_when_notified() {
                let cond = Arc::new(<Subject<(bool, bool)>>::new((false, false)));
                let (tx, rx) = mpsc::channel();
                let c = cond.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    let mut state = c.lock();
                    state.0 = true; // waiting
                    let notified = state.wait_timeout(DEADLINE * 2);
                    (notified, state.1)
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                eventually(DEADLINE, "the waiter waits", || cond.lock().0);
                wait_until_parked(DEADLINE, "the waiter sleeps in wait_timeout()", tid);
                {
                    let mut state = cond.lock();
                    state.1 = true; // the change
                    state.notify(1);
                }
                let (notified, changed) = within(DEADLINE, "the waiter returns", move || waiter.join().unwrap());
                assert!(notified, "notified before its timeout: wait_timeout returns true");
                assert!(changed, "the waiter sees the change made before the notify");
            }

            #[test]
            fn wait_for_returns_once_the_predicate_holds() {
                let cond = Arc::new(<Subject<u32>>::new(0));
                let c = cond.clone();
                within(DEADLINE, "wait_for on a true predicate returns at once", move || {
                    c.lock().wait_for(|_| true)
                });
                let (tx, rx) = mpsc::channel();
                let c = cond.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    let mut count = c.lock();
                    count.wait_for(|&count| count == 5);
                    *count
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                for _ in 0..5 {
                    wait_until_parked(DEADLINE, "the waiter sleeps in wait_for()", tid);
                    let mut count = cond.lock();
                    *count += 1;
                    count.notify_all();
                }
                let count = within(DEADLINE, "wait_for returns", move || waiter.join().unwrap());
                assert_eq!(count, 5, "wait_for returns with its predicate true");
            }

            #[test]
            fn wait_for_timeout_returns_the_predicates_last_value() {
                let cond = Arc::new(<Subject<bool>>::new(true));
                let c = cond.clone();
                let (already, never, waited) = within(DEADLINE, "wait_for_timeout returns", move || {
                    let mut ready = c.lock();
                    // Already true: no wait, even with a zero timeout.
                    let already = ready.wait_for_timeout(|&ready| ready, Duration::ZERO);
                    // Never true: false, and not before the timeout.
                    *ready = false;
                    let t0 = Instant::now();
                    let never = ready.wait_for_timeout(|&ready| ready, Duration::from_millis(50));
                    (already, never, t0.elapsed())
                });
                assert!(already, "the predicate held: true at once");
                assert!(!never, "the predicate never held: false");
                assert!(waited >= Duration::from_millis(50), "returned after {waited:?}, before its timeout");

                // Made true (and notified) by another thread: true.
                let (tx, rx) = mpsc::channel();
                let c = cond.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    c.lock().wait_for_timeout(|&ready| ready, DEADLINE * 2)
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                wait_until_parked(DEADLINE, "the waiter sleeps in wait_for_timeout()", tid);
                cond.lock().notify(1); // the predicate is still false: it waits again
                wait_until_parked(DEADLINE, "the waiter sleeps again", tid);
                {
                    let mut ready = cond.lock();
                    *ready = true;
                    ready.notify(1);
                }
                assert!(within(DEADLINE, "the waiter returns", move || waiter.join().unwrap()));
            }

            #[test]
            fn wait_for_timeout_checks_the_predicate_again_when_time_is_up() {
                const TIMEOUT: Duration = Duration::from_millis(50);
                let cond = Arc::new(<Subject<bool>>::new(false));
                let (tx, rx) = mpsc::channel();
                let c = cond.clone();
                let waiter = std::thread::spawn(move || {
                    let mut ready = c.lock();
                    tx.send(()).unwrap();
                    ready.wait_for_timeout(|&ready| ready, TIMEOUT)
                });
                rx.recv_timeout(DEADLINE).expect("the waiter holds the lock");
                // We get the lock once the waiter's wait released it.
                let mut ready = cond.lock();
                let locked_at = Instant::now();
                *ready = true; // and no notify
                // Hold the lock past the waiter's deadline: when it returns,
                // its time is up, and the predicate has become true.
                while locked_at.elapsed() <= TIMEOUT {
                    std::thread::sleep(Duration::from_millis(5));
                }
                drop(ready);
                let result = within(DEADLINE, "the waiter times out", move || waiter.join().unwrap());
                assert!(result, "wait_for_timeout returns the predicate's LAST value: true, although no notify came");
            }

            #[test]
            fn many_producers_and_consumers_lose_no_wake_up() {
                const ITEMS: usize = 1_000;
                #[derive(Default)]
                struct Shared {
                    items: Vec<usize>,
                    produced: usize,
                    consumed: Vec<usize>,
                }
                let cond = Arc::new(<Subject<Shared>>::new(Shared::default()));
                let consumers: Vec<_> = (0..3)
                    .map(|_| {
                        let cond = cond.clone();
                        std::thread::spawn(move || loop {
                            let mut shared = cond.lock();
                            shared.wait_for(|s| !s.items.is_empty() || s.produced == ITEMS);
                            match shared.items.pop() {
                                Some(item) => shared.consumed.push(item),
                                None => return,
                            }
                        })
                    })
                    .collect();
                let producers: Vec<_> = (0..2)
                    .map(|p| {
                        let cond = cond.clone();
                        std::thread::spawn(move || {
                            for i in (p..ITEMS).step_by(2) {
                                let mut shared = cond.lock();
                                shared.items.push(i);
                                shared.produced += 1;
                                if shared.produced == ITEMS {
                                    shared.notify_all();
                                } else {
                                    shared.notify(1);
                                }
                            }
                        })
                    })
                    .collect();
                within(DEADLINE, "every item is consumed", move || {
                    producers.into_iter().chain(consumers).for_each(|t| t.join().unwrap())
                });
                let mut consumed = std::mem::take(&mut cond.lock().consumed);
                consumed.sort();
                assert_eq!(consumed, (0..ITEMS).collect::<Vec<_>>(), "each item consumed once");
            }

            #[test]
            fn the_guard_gives_the_value() {
                let cond = <Subject<Vec<i32>>>::new(vec![1]);
                cond.lock().push(2);
                let guard = cond.lock();
                assert_eq!(*guard, [1, 2]);
            }
        }

        #[cfg(loom)]
        mod condition_loom {
            use $crate::synclings::sync::{thread, Arc, Duration};

            type Subject<T> = $($condition)::+<T>;

            /// Lost wake-up: the waiter checks the flag and goes to sleep
            /// while the notifier sets it and calls `notify(1)`. If the notify
            /// slips between the check and the sleep, the waiter sleeps for
            /// ever: loom reports a deadlock.
            #[test]
            fn notify_wakes_a_waiter_no_lost_wake_up() {
                $crate::loom::model(|| {
                    let cond = Arc::new(<Subject<bool>>::new(false));
                    let c = cond.clone();
                    let notifier = thread::spawn(move || {
                        let mut ready = c.lock();
                        *ready = true;
                        ready.notify(1);
                    });
                    let mut ready = cond.lock();
                    ready.wait_for(|&ready| ready);
                    assert!(*ready);
                    drop(ready);
                    notifier.join().unwrap();
                });
            }

            /// A `notify(1)` racing a waiter's timeout (which may fire at any
            /// point): the waiter reports `true` exactly when the notifier
            /// found it waiting. A notify that chose it is not lost to the
            /// timeout; a waiter that left is not counted. The model also
            /// checks that loom explored both outcomes.
            #[test]
            fn notify_racing_a_timeout_is_consistent() {
                let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
                let record = seen.clone();
                $crate::loom::model(move || {
                    // True while the waiter is inside wait_timeout.
                    let cond = Arc::new(<Subject<bool>>::new(false));
                    let c = cond.clone();
                    let waiter = thread::spawn(move || {
                        let mut waiting = c.lock();
                        *waiting = true;
                        let notified = waiting.wait_timeout(Duration::from_secs(1));
                        *waiting = false;
                        notified
                    });
                    let found = {
                        let waiting = cond.lock();
                        let found = *waiting;
                        waiting.notify(1);
                        found
                    };
                    let notified = waiter.join().unwrap();
                    assert_eq!(notified, found, "found the waiter waiting: {found}; it reports notified: {notified}");
                    record.lock().unwrap().insert(found);
                });
                let seen = seen.lock().unwrap();
                assert!(seen.contains(&true), "never explored the notify winning");
                assert!(seen.contains(&false), "never explored the timeout winning");
            }
        }
    };
}
