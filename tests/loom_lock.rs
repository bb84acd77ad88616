//! Loom models of `Lock` and `RLock`: mutual exclusion, hand-off without a
//! lost wake-up, and timed acquires consistent with the releases.
#![cfg(loom)]

use std::sync::atomic::Ordering::SeqCst;

use synclings::sync::atomic::{AtomicBool, AtomicUsize};
use synclings::sync::{thread, Arc, Duration};
use synclings::{Lock, RLock};

/// Race: two threads each take the RLock two levels deep and release both.
/// Only one may be inside at a time (checked with the `inside` counter), and
/// the last release must wake the other (else loom reports a deadlock).
#[test]
fn rlock_hand_off_between_two_reentrant_owners() {
    loom::model(|| {
        let lock = Arc::new(RLock::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
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

/// Race: a timed RLock acquire (its timeout may fire at any point) against
/// the owner releasing its two levels. Success means both levels were
/// released; either way the lock ends free.
#[test]
fn rlock_acquire_timeout_racing_the_last_release() {
    loom::model(|| {
        let lock = Arc::new(RLock::new(()));
        let released = Arc::new(AtomicBool::new(false));
        let outer = lock.acquire();
        let inner = lock.acquire();
        let (l, r) = (Arc::clone(&lock), Arc::clone(&released));
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

/// Race: `Lock::acquire_timeout` against the holder's release. Success means
/// the release happened; the value written under the lock is seen; the lock
/// ends free.
#[test]
fn lock_acquire_timeout_racing_release() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0));
        let mut guard = lock.acquire();
        let l = Arc::clone(&lock);
        let waiter = thread::spawn(move || l.acquire_timeout(Duration::from_secs(1)).map(|g| *g));
        *guard = 7;
        drop(guard);
        let seen = waiter.join().unwrap();
        assert!(seen.is_none() || seen == Some(7), "saw {seen:?}");
        assert!(!lock.is_locked());
    });
}
