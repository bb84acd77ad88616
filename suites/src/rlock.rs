//! Exercise 8, `rlock`: the suite of a `threading.RLock`, and of the
//! deadlock a plain `Lock` gives on re-entry (exam question 12).

/// Tests (and, under `--cfg loom`, loom models) of an `RLock<T>` type with
/// `new(T)`, `acquire() -> RLockGuard<'_, T>` (`Deref<Target = T>`, dropping
/// it releases one level), `try_acquire() -> Option<RLockGuard<'_, T>>`,
/// `acquire_timeout(Duration) -> Option<RLockGuard<'_, T>>`,
/// `is_owned() -> bool`, `recursion_count() -> usize` and
/// `is_locked() -> bool`. `RLock<T>` must be `Sync` for `T: Send`.
///
/// Pass the path of the generic type, without its parameter. The learner's
/// and the solution's files also pass their
/// `reenter_plain_lock(Duration) -> bool`, which adds its test:
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::rlock_suite!(crate::RLock, reenter_plain_lock = crate::reenter_plain_lock);
/// // the library's RLock: synclings_suites::rlock_suite!(synclings::RLock);
/// ```
#[macro_export]
macro_rules! rlock_suite {
    ($($rlock:ident)::+) => {
        $crate::rlock_suite!(@suite [$($rlock)::+] {});
    };
    ($($rlock:ident)::+, reenter_plain_lock = $reenter:path) => {
        $crate::rlock_suite!(@suite [$($rlock)::+] {
            /// Exam question 12: a plain `Lock` acquired again by its owner
            /// deadlocks; a timed acquire catches it.
            #[test]
            fn a_plain_lock_deadlocks_on_reentry_and_a_timeout_catches_it() {
                let timeout = Duration::from_millis(50);
                let (reentered, waited) = within(DEADLINE, "reenter_plain_lock returns", move || {
                    let t0 = Instant::now();
                    ($reenter(timeout), t0.elapsed())
                });
                assert!(!reentered, "a Lock is not re-entrant: the second acquire must fail (false)");
                assert!(
                    waited >= timeout,
                    "gave up after {waited:?}, before the timeout {timeout:?}: use Lock::acquire_timeout"
                );
            }
        });
    };
    (@suite [$($rlock:ident)::+] { $($extra:item)* }) => {
        #[cfg(not(loom))]
        mod rlock_suite {
            use std::cell::Cell;
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::{mpsc, Arc};
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::{
                current_tid, eventually, is_parked, wait_until_parked, within,
            };
            use $crate::DEADLINE;

            type Subject<T> = $($rlock)::+<T>;

            $($extra)*

            #[test]
            fn the_owner_reenters_and_counts_its_levels() {
                let lock = <Subject<()>>::new(());
                assert!(!lock.is_locked(), "a new RLock is free");
                assert!(!lock.is_owned());
                assert_eq!(lock.recursion_count(), 0);

                let first = lock.acquire();
                assert!(lock.is_locked() && lock.is_owned());
                assert_eq!(lock.recursion_count(), 1);
                let second = lock.acquire();
                assert_eq!(lock.recursion_count(), 2, "acquire() again by the owner re-enters");
                let third = lock.try_acquire().expect("try_acquire() by the owner re-enters");
                let fourth = lock
                    .acquire_timeout(Duration::from_millis(1))
                    .expect("acquire_timeout() by the owner re-enters at once");
                assert_eq!(lock.recursion_count(), 4);

                drop(fourth);
                drop(third);
                assert_eq!(lock.recursion_count(), 2, "each drop releases one level");
                drop(second);
                assert!(lock.is_locked(), "one level is still held");
                assert!(lock.is_owned());
                drop(first);
                assert!(!lock.is_locked(), "the last release frees the lock");
                assert!(!lock.is_owned());
                assert_eq!(lock.recursion_count(), 0);
            }

            #[test]
            fn guards_give_shared_access_to_the_value() {
                let lock = <Subject<Vec<u8>>>::new(vec![1, 2, 3]);
                let outer = lock.acquire();
                let inner = lock.acquire();
                assert_eq!(*outer, [1, 2, 3]);
                assert_eq!(inner.len(), 3, "both guards of the owner see the value");
                drop((inner, outer));

                // Interior mutability is how the owner changes the value.
                let counter = <Subject<Cell<u32>>>::new(Cell::new(0));
                let a = counter.acquire();
                let b = counter.acquire();
                a.set(a.get() + 1);
                b.set(b.get() + 1);
                assert_eq!(b.get(), 2);
            }

            #[test]
            fn counts_are_per_thread_and_others_cannot_enter() {
                let lock = Arc::new(<Subject<()>>::new(()));
                let outer = lock.acquire();
                let inner = lock.acquire();
                let l = lock.clone();
                let (owned, count, locked, tried, timed, waited) =
                    within(DEADLINE, "the other thread's checks return", move || {
                        let (owned, count, locked) = (l.is_owned(), l.recursion_count(), l.is_locked());
                        let tried = l.try_acquire().is_some();
                        let timeout = Duration::from_millis(30);
                        let t0 = Instant::now();
                        let timed = l.acquire_timeout(timeout).is_some();
                        (owned, count, locked, tried, timed, t0.elapsed() >= timeout)
                    });
                assert!(!owned, "is_owned() is false on a thread that does not own it");
                assert_eq!(count, 0, "recursion_count() is 0 on a thread that does not own it");
                assert!(locked, "is_locked() is true on every thread while someone owns it");
                assert!(!tried, "try_acquire() fails while another thread owns the lock");
                assert!(!timed, "acquire_timeout() fails while another thread owns the lock");
                assert!(waited, "acquire_timeout() gave up before its timeout");
                assert_eq!(lock.recursion_count(), 2, "the owner's count did not change");
                drop((inner, outer));
            }

            #[test]
            fn a_second_thread_blocks_until_the_last_release() {
                let lock = Arc::new(<Subject<()>>::new(()));
                let outer = lock.acquire();
                let inner = lock.acquire();
                let acquired = Arc::new(AtomicBool::new(false));
                let (tx, rx) = mpsc::channel();
                let (l, a) = (lock.clone(), acquired.clone());
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    let guard = l.acquire();
                    a.store(true, SeqCst);
                    let seen = (l.is_owned(), l.recursion_count());
                    drop(guard);
                    seen
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the second thread starts");
                wait_until_parked(DEADLINE, "the second thread blocks in acquire()", tid);

                drop(inner);
                assert_eq!(lock.recursion_count(), 1);
                let mut settled = 0;
                eventually(DEADLINE, "the second thread stays blocked after the first release", || {
                    settled = if is_parked(tid) { settled + 1 } else { 0 };
                    settled >= 3 || acquired.load(SeqCst)
                });
                assert!(
                    !acquired.load(SeqCst),
                    "the second thread got in while the owner still held a level"
                );

                drop(outer);
                let (owned, count) =
                    within(DEADLINE, "the last release lets the second thread in", move || waiter.join().unwrap());
                assert!(owned, "the second thread owns the lock once it got it");
                assert_eq!(count, 1);
                assert!(!lock.is_locked(), "free again after the second thread released it");
            }

            #[test]
            fn a_timed_acquire_gets_the_lock_released_while_it_waits() {
                let lock = Arc::new(<Subject<()>>::new(()));
                let held = lock.acquire();
                let (tx, rx) = mpsc::channel();
                let l = lock.clone();
                let waiter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    l.acquire_timeout(DEADLINE * 2).map(|guard| drop(guard)).is_some()
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the waiter starts");
                wait_until_parked(DEADLINE, "the waiter blocks in acquire_timeout()", tid);
                drop(held);
                let got = within(DEADLINE, "the timed waiter returns", move || waiter.join().unwrap());
                assert!(got, "the owner released while it waited: acquire_timeout succeeds");
                assert!(!lock.is_locked());
            }

            #[test]
            fn reentrant_owners_exclude_each_other_and_lose_no_wake_up() {
                let lock = Arc::new(<Subject<AtomicUsize>>::new(AtomicUsize::new(0)));
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        let lock = lock.clone();
                        std::thread::spawn(move || {
                            for _ in 0..200 {
                                let outer = lock.acquire();
                                assert_eq!(outer.fetch_add(1, SeqCst), 0, "two owners inside at once");
                                let inner = lock.acquire();
                                assert_eq!(lock.recursion_count(), 2);
                                inner.fetch_sub(1, SeqCst);
                                drop(inner);
                                drop(outer);
                            }
                        })
                    })
                    .collect();
                within(DEADLINE, "4 threads take the lock 200 times each, 2 levels deep", move || {
                    handles.into_iter().for_each(|h| h.join().unwrap())
                });
                assert!(!lock.is_locked());
            }
        }

        #[cfg(loom)]
        mod rlock_loom {
            use $crate::synclings::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use $crate::synclings::sync::{thread, Arc, Duration};

            type Subject<T> = $($rlock)::+<T>;

            /// Hand-off: two threads each take the lock two levels deep and
            /// release both. One owner at a time (the `inside` count), and
            /// the LAST release must wake the other (else loom reports a
            /// deadlock).
            #[test]
            fn hand_off_between_two_reentrant_owners() {
                $crate::loom::model(|| {
                    let lock = Arc::new(<Subject<AtomicUsize>>::new(AtomicUsize::new(0)));
                    let threads: Vec<_> = (0..2)
                        .map(|_| {
                            let lock = lock.clone();
                            thread::spawn(move || {
                                let outer = lock.acquire();
                                assert_eq!(outer.fetch_add(1, SeqCst), 0, "two owners inside");
                                let inner = lock.acquire();
                                assert_eq!(lock.recursion_count(), 2);
                                inner.fetch_sub(1, SeqCst);
                                drop(inner);
                                drop(outer);
                            })
                        })
                        .collect();
                    for t in threads {
                        t.join().unwrap();
                    }
                    assert!(!lock.is_locked());
                });
            }

            /// A timed acquire (its timeout may fire at any point) against
            /// the owner releasing its two levels: success means both were
            /// released; either way the lock ends free.
            #[test]
            fn a_timed_acquire_racing_the_last_release() {
                $crate::loom::model(|| {
                    let lock = Arc::new(<Subject<()>>::new(()));
                    let released = Arc::new(AtomicBool::new(false));
                    let outer = lock.acquire();
                    let inner = lock.acquire();
                    let (l, r) = (lock.clone(), released.clone());
                    let waiter = thread::spawn(move || {
                        if let Some(guard) = l.acquire_timeout(Duration::from_secs(1)) {
                            assert!(r.load(SeqCst), "acquired while the owner held a level");
                            assert_eq!(l.recursion_count(), 1);
                            drop(guard);
                        }
                    });
                    drop(inner);
                    released.store(true, SeqCst);
                    drop(outer);
                    waiter.join().unwrap();
                    assert!(!lock.is_locked());
                });
            }
        }
    };
}
