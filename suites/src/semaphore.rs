//! Exercise 6, `semaphore`: the suite of a `threading.Semaphore`.

/// Tests (and, under `--cfg loom`, loom models) of a `Semaphore` type with
/// `new(usize)`, `acquire() -> Permit<'_>` (dropping the permit gives it
/// back), `try_acquire() -> Option<Permit<'_>>`,
/// `acquire_timeout(Duration) -> Option<Permit<'_>>`, `release(usize)` and
/// `available() -> usize`.
///
/// The suite keeps a permit taken for good with `std::mem::forget(permit)`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::semaphore_suite!(crate::Semaphore);
/// ```
#[macro_export]
macro_rules! semaphore_suite {
    ($semaphore:ty) => {
        #[cfg(not(loom))]
        mod semaphore_suite {
            use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
            use std::sync::{mpsc, Arc, Condvar, Mutex};
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::{
                current_tid, eventually, is_parked, wait_until_parked, within,
            };
            use $crate::DEADLINE;

            type Subject = $semaphore;

            /// A one-shot gate for the test harness (std, not the code under test).
            #[derive(Default)]
            struct Gate {
                open: Mutex<bool>,
                opened: Condvar,
            }

            impl Gate {
                fn open(&self) {
                    *self.open.lock().unwrap() = true;
                    self.opened.notify_all();
                }

                fn wait(&self) {
                    let mut open = self.open.lock().unwrap();
                    while !*open {
                        open = self.opened.wait(open).unwrap();
                    }
                }
            }

            /// Waits until thread `tid` sleeps in the kernel (it is blocked),
            /// unless `escaped()` turns true first: then the thread got
            /// through, and the caller's next assertion says what went wrong.
            fn parked_unless(what: &str, tid: u32, escaped: impl Fn() -> bool) {
                let mut settled = 0;
                eventually(DEADLINE, what, || {
                    settled = if is_parked(tid) { settled + 1 } else { 0 };
                    settled >= 3 || escaped()
                });
            }

            #[test]
            fn try_acquire_takes_permits_until_none_is_left() {
                let sem = <Subject>::new(2);
                assert_eq!(sem.available(), 2, "new(2) has 2 permits");
                let a = sem.try_acquire().expect("a first permit");
                let b = sem.try_acquire().expect("a second permit");
                assert_eq!(sem.available(), 0);
                assert!(
                    sem.try_acquire().is_none(),
                    "no permit left: try_acquire gives up at once"
                );
                sem.release(1);
                assert_eq!(sem.available(), 1, "release(1) adds a permit");
                let c = sem.try_acquire().expect("the released permit");
                drop((a, b, c));
                // Like Python's Semaphore (not BoundedSemaphore): releases add up.
                assert_eq!(sem.available(), 3, "the three permits came back");
                sem.release(0);
                assert_eq!(sem.available(), 3, "release(0) changes nothing");
            }

            #[test]
            fn dropping_a_permit_gives_it_back_and_wakes_a_waiter() {
                let sem = Arc::new(<Subject>::new(1));
                let permit = sem.acquire();
                assert_eq!(sem.available(), 0);
                let (tx, rx) = mpsc::channel();
                let s = sem.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    drop(s.acquire());
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                wait_until_parked(
                    DEADLINE,
                    "the waiter blocks in acquire() while the only permit is held",
                    tid,
                );
                drop(permit);
                within(
                    DEADLINE,
                    "dropping the permit lets the waiter in",
                    move || waiter.join().unwrap(),
                );
                assert_eq!(
                    sem.available(),
                    1,
                    "both permits taken were given back by drop"
                );
            }

            #[test]
            fn release_n_wakes_exactly_n_waiters() {
                const WAITERS: usize = 5;
                let sem = Arc::new(<Subject>::new(0));
                // The kernel ids of the acquirers that got a permit.
                let through = Arc::new(Mutex::new(Vec::new()));
                let count = |through: &Mutex<Vec<u32>>| through.lock().unwrap().len();
                let (tx, rx) = mpsc::channel();
                let handles: Vec<_> = (0..WAITERS)
                    .map(|_| {
                        let (sem, through, tx) = (sem.clone(), through.clone(), tx.clone());
                        std::thread::spawn(move || {
                            let tid = current_tid();
                            tx.send(tid).unwrap();
                            std::mem::forget(sem.acquire());
                            through.lock().unwrap().push(tid);
                        })
                    })
                    .collect();
                let tids: Vec<u32> = (0..WAITERS)
                    .map(|_| rx.recv_timeout(DEADLINE).expect("every acquirer starts"))
                    .collect();
                for &tid in &tids {
                    wait_until_parked(DEADLINE, "an acquirer blocks on an empty semaphore", tid);
                }
                assert_eq!(count(&through), 0, "nobody gets a permit from new(0)");

                sem.release(3);
                eventually(DEADLINE, "release(3) lets 3 acquirers through", || {
                    count(&through) >= 3
                });
                // The 2 others must stay asleep: no permit is left for them.
                let left: Vec<u32> = tids
                    .iter()
                    .copied()
                    .filter(|tid| !through.lock().unwrap().contains(tid))
                    .collect();
                for &tid in &left {
                    parked_unless("the acquirers left stay blocked", tid, || {
                        count(&through) > 3
                    });
                }
                assert_eq!(count(&through), 3, "release(3) let exactly 3 through");
                assert_eq!(sem.available(), 0, "the 3 permits were taken");

                sem.release(2);
                within(DEADLINE, "release(2) lets the last 2 through", move || {
                    handles.into_iter().for_each(|h| h.join().unwrap())
                });
                assert_eq!(count(&through), WAITERS);
                assert_eq!(sem.available(), 0);
            }

            #[test]
            fn seven_permits_let_exactly_seven_of_ten_threads_in() {
                let sem = Arc::new(<Subject>::new(7));
                let inside = Arc::new(AtomicUsize::new(0));
                let peak = Arc::new(AtomicUsize::new(0));
                let gate = Arc::new(Gate::default());
                let (tx, rx) = mpsc::channel();
                let handles: Vec<_> = (0..10)
                    .map(|_| {
                        let (sem, inside, peak, gate, tx) = (
                            sem.clone(),
                            inside.clone(),
                            peak.clone(),
                            gate.clone(),
                            tx.clone(),
                        );
                        std::thread::spawn(move || {
                            tx.send(current_tid()).unwrap();
                            let permit = sem.acquire();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            peak.fetch_max(now, SeqCst);
                            gate.wait();
                            inside.fetch_sub(1, SeqCst);
                            drop(permit);
                        })
                    })
                    .collect();
                let tids: Vec<u32> = (0..10)
                    .map(|_| rx.recv_timeout(DEADLINE).expect("every thread starts"))
                    .collect();
                eventually(DEADLINE, "7 threads hold a permit", || {
                    inside.load(SeqCst) >= 7
                });
                // Every thread is now asleep: 7 at the gate, 3 in acquire().
                for &tid in &tids {
                    parked_unless(
                        "every thread blocks (at the gate or in acquire)",
                        tid,
                        || inside.load(SeqCst) > 7,
                    );
                }
                assert_eq!(inside.load(SeqCst), 7, "exactly 7 of the 10 threads got in");
                assert_eq!(sem.available(), 0);
                gate.open();
                within(
                    DEADLINE,
                    "the 3 others get in as permits come back",
                    move || handles.into_iter().for_each(|h| h.join().unwrap()),
                );
                assert_eq!(peak.load(SeqCst), 7, "never more than 7 inside at once");
                assert_eq!(sem.available(), 7, "every permit came back");
            }

            #[test]
            fn a_timed_acquire_fails_no_earlier_than_its_timeout() {
                let sem = Arc::new(<Subject>::new(1));
                let s = sem.clone();
                within(DEADLINE, "acquire_timeout returns", move || {
                    let held = s.acquire();
                    let timeout = Duration::from_millis(50);
                    let t0 = Instant::now();
                    assert!(
                        s.acquire_timeout(timeout).is_none(),
                        "the only permit is held: the timed acquire fails"
                    );
                    let waited = t0.elapsed();
                    assert!(
                        waited >= timeout,
                        "gave up after {waited:?}, before its timeout {timeout:?}"
                    );
                    drop(held);
                    let again = s.acquire_timeout(timeout);
                    assert!(
                        again.is_some(),
                        "a permit is free: the timed acquire takes it"
                    );
                });
                assert_eq!(sem.available(), 1, "the failed acquire took nothing");
            }

            #[test]
            fn a_timed_acquire_gets_a_permit_released_while_it_waits() {
                let sem = Arc::new(<Subject>::new(0));
                let (tx, rx) = mpsc::channel();
                let s = sem.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    s.acquire_timeout(DEADLINE * 2)
                        .map(std::mem::forget)
                        .is_some()
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                wait_until_parked(DEADLINE, "the waiter blocks in acquire_timeout()", tid);
                sem.release(1);
                let got = within(DEADLINE, "the timed waiter returns", move || {
                    waiter.join().unwrap()
                });
                assert!(
                    got,
                    "a permit was released while it waited: acquire_timeout returns it"
                );
                assert_eq!(sem.available(), 0);
            }

            #[test]
            fn permits_are_never_lost_or_duplicated_under_contention() {
                const PERMITS: usize = 2;
                let sem = Arc::new(<Subject>::new(PERMITS));
                let inside = Arc::new(AtomicUsize::new(0));
                let handles: Vec<_> = (0..4)
                    .map(|t| {
                        let (sem, inside) = (sem.clone(), inside.clone());
                        std::thread::spawn(move || {
                            for i in 0..300 {
                                let permit = if (t + i) % 2 == 0 {
                                    sem.acquire()
                                } else {
                                    sem.acquire_timeout(DEADLINE * 2)
                                        .expect("a permit within the deadline")
                                };
                                let now = inside.fetch_add(1, SeqCst) + 1;
                                assert!(
                                    now <= PERMITS,
                                    "{now} threads hold one of {PERMITS} permits"
                                );
                                inside.fetch_sub(1, SeqCst);
                                drop(permit);
                            }
                        })
                    })
                    .collect();
                within(
                    DEADLINE,
                    "4 threads take and give back 1200 permits",
                    move || handles.into_iter().for_each(|h| h.join().unwrap()),
                );
                assert_eq!(sem.available(), PERMITS, "no permit lost, none made up");
            }
        }

        #[cfg(loom)]
        mod semaphore_loom {
            use $crate::synclings::sync::{thread, Arc, Duration};

            type Subject = $semaphore;

            /// Lost wake-up: the acquirer finds no permit and goes to sleep
            /// while `release` adds one and wakes sleepers. If the release
            /// slips between the check and the sleep, the acquirer sleeps
            /// for ever: loom reports a deadlock.
            #[test]
            fn release_wakes_a_blocked_acquirer() {
                $crate::loom::model(|| {
                    let sem = Arc::new(<Subject>::new(0));
                    let s = sem.clone();
                    let acquirer = thread::spawn(move || std::mem::forget(s.acquire()));
                    sem.release(1);
                    acquirer.join().unwrap();
                    assert_eq!(sem.available(), 0, "the acquirer took the permit");
                });
            }

            /// `release(2)` against two acquirers at any stage: both must
            /// get a permit (one wake-up for two permits strands one).
            #[test]
            fn release_two_wakes_two_acquirers() {
                $crate::loom::model(|| {
                    let sem = Arc::new(<Subject>::new(0));
                    let acquirers: Vec<_> = (0..2)
                        .map(|_| {
                            let s = sem.clone();
                            thread::spawn(move || std::mem::forget(s.acquire()))
                        })
                        .collect();
                    sem.release(2);
                    for a in acquirers {
                        a.join().unwrap();
                    }
                    assert_eq!(sem.available(), 0);
                });
            }

            /// A timed acquire (its timeout may fire at any point) against a
            /// release: whatever wins, no permit is lost or made up.
            #[test]
            fn a_timed_acquire_racing_a_release_loses_no_permit() {
                $crate::loom::model(|| {
                    let sem = Arc::new(<Subject>::new(0));
                    let s = sem.clone();
                    let acquirer = thread::spawn(move || {
                        s.acquire_timeout(Duration::from_secs(1))
                            .map(std::mem::forget)
                            .is_some()
                    });
                    sem.release(1);
                    let held = usize::from(acquirer.join().unwrap());
                    assert_eq!(sem.available(), 1 - held, "released 1, held {held}");
                });
            }
        }
    };
}
