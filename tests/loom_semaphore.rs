//! Loom models of `Semaphore` and `BoundedSemaphore`: the permits/waiters
//! handshake loses no wake-up, and no permit is lost or duplicated.
#![cfg(loom)]

use synclings::sync::{thread, Arc, Duration};
use synclings::{BoundedSemaphore, Permit, Semaphore};

/// Race: an acquirer finds no permit and registers as a waiter while the
/// releaser adds a permit and checks for waiters, lock-free. If each misses
/// the other (the store-buffering outcome) the acquirer sleeps for ever: loom
/// reports the deadlock.
#[test]
fn release_wakes_a_blocked_acquirer() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let acquirer = thread::spawn(move || s.acquire().forget());
        sem.release(1);
        acquirer.join().unwrap();
        assert_eq!(sem.available(), 0);
        assert_eq!(sem.waiters(), 0);
    });
}

/// Race: the same handshake when the permit comes back by dropping a
/// `Permit` (the lock-free path of `with sem:`).
#[test]
fn dropping_a_permit_wakes_a_blocked_acquirer() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.acquire();
        let s = Arc::clone(&sem);
        let acquirer = thread::spawn(move || drop(s.acquire()));
        drop(held);
        acquirer.join().unwrap();
        assert_eq!(sem.available(), 1);
    });
}

/// Race: `release(2)` against two acquirers in any stage (spinning,
/// registering, asleep). Both must get a permit: one notify for two permits
/// would leave one asleep for ever.
#[test]
fn release_two_wakes_two_waiters() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&sem);
                thread::spawn(move || s.acquire().forget())
            })
            .collect();
        sem.release(2);
        for a in acquirers {
            a.join().unwrap();
        }
        assert_eq!(sem.available(), 0);
    });
}

/// Race: a timed acquire (its timeout may fire at any point) against a
/// release. Whatever wins, no permit is lost or duplicated: at the end
/// `available() == released - held`.
#[test]
fn acquire_timeout_racing_release_loses_no_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let acquirer = thread::spawn(move || {
            s.acquire_timeout(Duration::from_secs(1))
                .map(Permit::forget)
                .is_some()
        });
        sem.release(1);
        let held = usize::from(acquirer.join().unwrap());
        assert_eq!(sem.available(), 1 - held);
    });
}

/// Race: a blocking and a timed acquirer, two single releases. A timed
/// waiter that is notified and then leaves must not swallow the wake-up the
/// blocking one needs: the blocking acquirer always finishes, and
/// `available() == 2 - held`.
#[test]
fn a_timed_waiter_does_not_swallow_a_wake_up() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let blocking = thread::spawn(move || s.acquire().forget());
        let s = Arc::clone(&sem);
        let timed = thread::spawn(move || {
            s.acquire_timeout(Duration::from_secs(1))
                .map(Permit::forget)
                .is_some()
        });
        sem.release(1);
        sem.release(1);
        blocking.join().unwrap();
        let held = 1 + usize::from(timed.join().unwrap());
        assert_eq!(sem.available(), 2 - held);
    });
}

/// Race: a bounded release against a permit being taken and given back.
/// The release succeeds only while the permit is out; the count never goes
/// over the bound and ends at it.
#[test]
fn bounded_release_never_passes_the_bound() {
    loom::model(|| {
        let sem = Arc::new(BoundedSemaphore::new(1));
        let s = Arc::clone(&sem);
        let user = thread::spawn(move || drop(s.acquire()));
        let released = sem.release(1).is_ok();
        assert!(sem.available() <= 1);
        user.join().unwrap();
        assert_eq!(sem.available(), 1, "released: {released}");
    });
}
