//! `Lock` and `RLock` against the semantics of CPython's `lock_tests`
//! (`LockTests`, `RLockTests`).
#![cfg(not(loom))]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::{Lock, LockGuard, RLock};

#[test]
fn lock_guards_its_value() {
    let lock = Lock::new(vec![1]);
    lock.acquire().push(2);
    assert!(!lock.is_locked());
    {
        let guard = lock.try_acquire().expect("free");
        assert!(lock.is_locked());
        assert!(lock.try_acquire().is_none(), "held");
        assert_eq!(*guard, [1, 2]);
    }
    assert!(!lock.is_locked());
    let mut lock = lock;
    lock.get_mut().push(3);
    assert_eq!(lock.into_inner(), [1, 2, 3]);
    assert_eq!(*Lock::<u8>::default().acquire(), 0);
}

#[test]
fn lock_reacquired_on_the_same_thread_times_out() {
    // Python's Lock deadlocks on re-entry; the timeout catches it.
    let lock = Arc::new(Lock::new(()));
    let l = Arc::clone(&lock);
    let (second, elapsed) = within(DEADLINE, "a second acquire with a timeout", move || {
        let _first = l.acquire();
        let start = Instant::now();
        let second = l.acquire_timeout(Duration::from_millis(50)).is_some();
        (second, start.elapsed())
    });
    assert!(!second, "Lock is not re-entrant");
    assert!(
        elapsed >= Duration::from_millis(50),
        "gave up after {elapsed:?}"
    );
    assert!(!lock.is_locked(), "the first guard was dropped");
}

#[test]
fn lock_acquire_timeout_gets_the_lock_released_meanwhile() {
    let lock = Arc::new(Lock::new(0));
    let mut guard = lock.acquire();
    let l = Arc::clone(&lock);
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        tx.send(()).unwrap();
        l.acquire_timeout(Duration::from_secs(3600)).map(|g| *g)
    });
    within(DEADLINE, "the waiter starts", move || rx.recv().unwrap());
    *guard = 7;
    drop(guard);
    let seen = within(DEADLINE, "the waiter gets the lock", move || {
        waiter.join().unwrap()
    });
    assert_eq!(seen, Some(7));
}

#[test]
fn lock_excludes_other_threads() {
    let lock = Arc::new(Lock::new(0u64));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    let mut guard = lock.acquire();
                    let seen = *guard;
                    thread::yield_now();
                    *guard = seen + 1;
                }
            })
        })
        .collect();
    within(DEADLINE, "4 threads x 10 000 increments", move || {
        handles.into_iter().for_each(|h| h.join().unwrap())
    });
    assert_eq!(*lock.acquire(), 40_000);
}

#[test]
fn rlock_owner_reenters_three_levels() {
    let lock = RLock::new(5);
    assert!(!lock.is_locked());
    assert!(!lock.is_owned());
    assert_eq!(lock.recursion_count(), 0);
    let a = lock.acquire();
    let b = lock.try_acquire().expect("the owner re-enters");
    let c = lock
        .acquire_timeout(Duration::from_millis(1))
        .expect("the owner re-enters");
    assert_eq!(lock.recursion_count(), 3);
    assert!(lock.is_owned());
    assert_eq!(*a + *b + *c, 15);
    drop(c);
    assert_eq!(lock.recursion_count(), 2);
    drop(a); // levels are counted, not matched to guards
    assert_eq!(lock.recursion_count(), 1);
    assert!(lock.is_locked());
    drop(b);
    assert_eq!(lock.recursion_count(), 0);
    assert!(!lock.is_locked());
    assert!(!lock.is_owned());
}

#[test]
fn rlock_ownership_is_per_thread() {
    let lock = Arc::new(RLock::new(()));
    let _a = lock.acquire();
    let _b = lock.acquire();
    let l = Arc::clone(&lock);
    let seen = within(DEADLINE, "another thread looks", move || {
        (
            l.is_locked(),
            l.is_owned(),
            l.recursion_count(),
            l.try_acquire().is_some(),
        )
    });
    assert_eq!(
        seen,
        (true, false, 0, false),
        "another thread sees it locked, not owned, and cannot take it"
    );
    assert_eq!(lock.recursion_count(), 2);
}

#[test]
fn rlock_other_thread_blocks_until_the_last_release() {
    let lock = Arc::new(RLock::new(()));
    let acquired = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let outer = lock.acquire();
    let inner = lock.acquire();
    let (l, a, s) = (
        Arc::clone(&lock),
        Arc::clone(&acquired),
        Arc::clone(&started),
    );
    let other = thread::spawn(move || {
        s.store(true, SeqCst);
        let guard = l.acquire();
        a.store(true, SeqCst);
        let count = l.recursion_count();
        drop(guard);
        count
    });
    eventually(DEADLINE, "the other thread starts", || started.load(SeqCst));
    drop(inner);
    // One level is still held: the other thread must not have the lock.
    assert_eq!(lock.recursion_count(), 1);
    assert!(
        !acquired.load(SeqCst),
        "acquired after the first of two releases"
    );
    assert!(lock.is_owned());
    drop(outer);
    let count = within(DEADLINE, "the other thread acquires and exits", move || {
        other.join().unwrap()
    });
    assert!(acquired.load(SeqCst));
    assert_eq!(count, 1);
    assert!(!lock.is_locked());
}

#[test]
fn rlock_try_acquire_from_another_thread_fails_while_held() {
    let lock = Arc::new(RLock::new(()));
    let guard = lock.acquire();
    let l = Arc::clone(&lock);
    let got = within(DEADLINE, "try_acquire on another thread", move || {
        l.try_acquire().is_some()
    });
    assert!(!got);
    drop(guard);
    let l = Arc::clone(&lock);
    let got = within(DEADLINE, "try_acquire once free", move || {
        l.try_acquire().is_some()
    });
    assert!(got);
}

#[test]
fn rlock_acquire_timeout_returns_none_no_earlier_than_its_timeout() {
    let lock = Arc::new(RLock::new(()));
    let _guard = lock.acquire();
    let l = Arc::clone(&lock);
    let timeout = Duration::from_millis(100);
    let (got, elapsed) = within(DEADLINE, "a timed acquire on another thread", move || {
        let start = Instant::now();
        let got = l.acquire_timeout(timeout).is_some();
        (got, start.elapsed())
    });
    assert!(!got, "the lock was held by the main thread");
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before {timeout:?}"
    );
}

#[test]
fn rlock_excludes_other_threads() {
    let lock = Arc::new(RLock::new(AtomicUsize::new(0)));
    let inside = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || {
                for round in 0..2_000 {
                    let outer = if (i + round) % 2 == 0 {
                        lock.acquire()
                    } else {
                        lock.acquire_timeout(Duration::from_secs(3600))
                            .expect("within an hour")
                    };
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners at once");
                    let inner = lock.acquire();
                    inner.fetch_add(1, SeqCst);
                    thread::yield_now();
                    inside.fetch_sub(1, SeqCst);
                    drop(inner);
                    drop(outer);
                }
            })
        })
        .collect();
    within(DEADLINE, "4 threads x 2 000 rounds", move || {
        handles.into_iter().for_each(|h| h.join().unwrap())
    });
    assert_eq!(lock.acquire().load(SeqCst), 8_000);
}

#[test]
fn rlock_value_accessors_and_debug() {
    let mut lock = RLock::new(vec![1]);
    lock.get_mut().push(2);
    {
        let guard = lock.acquire();
        let debug = format!("{lock:?}");
        assert!(debug.contains("recursion_count: 1"), "{debug}");
        assert!(debug.contains("value: [1, 2]"), "{debug}");
        assert_eq!(format!("{guard:?}"), "RLockGuard { value: [1, 2] }");
    }
    assert!(format!("{lock:?}").contains("owner: None"));
    assert_eq!(lock.into_inner(), [1, 2]);

    let lock = Lock::new(1);
    assert_eq!(format!("{lock:?}"), "Lock { locked: false, value: 1, .. }");
    let guard = lock.acquire();
    assert_eq!(format!("{lock:?}"), "Lock { locked: true, .. }");
    assert_eq!(format!("{guard:?}"), "LockGuard { value: 1 }");
}

#[test]
fn locks_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Lock>();
    assert_send_sync::<RLock>();
    // Send but not Sync contents: the locks make them shareable.
    assert_send_sync::<Lock<Cell<u8>>>();
    assert_send_sync::<RLock<Cell<u8>>>();
    fn assert_sync<T: Sync>() {}
    assert_sync::<LockGuard<'static, u8>>();
}
