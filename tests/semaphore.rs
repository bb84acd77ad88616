//! `Semaphore` and `BoundedSemaphore` against the semantics of CPython's
//! `test_threading` semaphore tests (`lock_tests.BaseSemaphoreTests`).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::{BoundedSemaphore, Permit, ReleaseError, Semaphore};

/// A one-shot gate for the test harness (std only, not the code under test).
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

#[test]
fn release_n_wakes_n_waiters() {
    let sem = Arc::new(Semaphore::new(0));
    let acquired = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let (sem, acquired) = (Arc::clone(&sem), Arc::clone(&acquired));
            thread::spawn(move || {
                sem.acquire().forget();
                acquired.fetch_add(1, SeqCst);
            })
        })
        .collect();
    eventually(DEADLINE, "5 acquirers are blocked", || sem.waiters() == 5);
    assert_eq!(acquired.load(SeqCst), 0);

    sem.release(3);
    eventually(DEADLINE, "3 acquirers proceed", || {
        acquired.load(SeqCst) == 3
    });
    eventually(DEADLINE, "2 acquirers are still blocked", || {
        sem.waiters() == 2
    });
    // No permit is left, so the 2 registered waiters cannot proceed.
    assert_eq!(sem.available(), 0);
    assert_eq!(acquired.load(SeqCst), 3, "exactly 3 proceeded");

    sem.release(2);
    within(DEADLINE, "the last 2 acquirers proceed", move || {
        handles.into_iter().for_each(|h| h.join().unwrap())
    });
    assert_eq!(acquired.load(SeqCst), 5);
    assert_eq!(sem.available(), 0);
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn seven_permits_let_exactly_seven_of_ten_threads_in() {
    let sem = Arc::new(Semaphore::new(7));
    let holding = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Gate::default());
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let (sem, holding, peak, gate) = (
                Arc::clone(&sem),
                Arc::clone(&holding),
                Arc::clone(&peak),
                Arc::clone(&gate),
            );
            thread::spawn(move || {
                let permit = sem.acquire();
                let now = holding.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                gate.wait();
                holding.fetch_sub(1, SeqCst);
                drop(permit);
            })
        })
        .collect();
    eventually(DEADLINE, "7 threads hold a permit", || {
        holding.load(SeqCst) == 7
    });
    eventually(DEADLINE, "the 3 others are blocked", || sem.waiters() == 3);
    assert_eq!(holding.load(SeqCst), 7, "exactly 7 proceed");
    assert_eq!(sem.available(), 0);
    assert!(sem.try_acquire().is_none());

    gate.open();
    within(DEADLINE, "all 10 threads finish", move || {
        handles.into_iter().for_each(|h| h.join().unwrap())
    });
    assert_eq!(peak.load(SeqCst), 7);
    assert_eq!(sem.available(), 7, "every permit came back");
}

#[test]
fn peak_concurrency_never_exceeds_the_permits_under_churn() {
    let sem = Arc::new(Semaphore::new(7));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let (sem, inside, peak) = (Arc::clone(&sem), Arc::clone(&inside), Arc::clone(&peak));
            thread::spawn(move || {
                for round in 0..300 {
                    // Mix every way of taking a permit.
                    let permit = match (i + round) % 3 {
                        0 => sem.acquire(),
                        1 => match sem.acquire_timeout(Duration::from_secs(3600)) {
                            Some(permit) => permit,
                            None => panic!("no permit within an hour"),
                        },
                        _ => loop {
                            if let Some(permit) = sem.try_acquire() {
                                break permit;
                            }
                            thread::yield_now();
                        },
                    };
                    let now = inside.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    thread::yield_now();
                    inside.fetch_sub(1, SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    within(DEADLINE, "10 threads x 300 rounds finish", move || {
        handles.into_iter().for_each(|h| h.join().unwrap())
    });
    let peak = peak.load(SeqCst);
    assert!((1..=7).contains(&peak), "peak concurrency {peak}");
    assert_eq!(sem.available(), 7);
    assert_eq!(sem.waiters(), 0);
}

#[test]
fn try_acquire_on_zero_permits_is_none() {
    let sem = Semaphore::new(0);
    assert!(sem.try_acquire().is_none());
    assert_eq!(sem.available(), 0, "a failed try_acquire changes nothing");
    sem.release(1);
    let permit = sem.try_acquire().expect("the released permit");
    assert!(sem.try_acquire().is_none());
    drop(permit);
    assert_eq!(sem.available(), 1);

    let bounded = BoundedSemaphore::new(0);
    assert!(bounded.try_acquire().is_none());
    assert!(bounded.acquire_timeout(Duration::ZERO).is_none());
    assert_eq!(bounded.available(), 0, "a failed acquire changes nothing");
}

#[test]
fn acquire_timeout_returns_none_no_earlier_than_its_timeout() {
    let sem = Arc::new(Semaphore::new(1));
    let _held = sem.try_acquire().expect("the only permit");
    let s = Arc::clone(&sem);
    let timeout = Duration::from_millis(100);
    let (got, elapsed) = within(DEADLINE, "a timed acquire on 0 permits", move || {
        let start = Instant::now();
        let got = s.acquire_timeout(timeout).is_some();
        (got, start.elapsed())
    });
    assert!(!got, "no permit was free");
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before {timeout:?}"
    );
    assert_eq!(sem.waiters(), 0, "a timed-out waiter unregisters");
    assert_eq!(sem.available(), 0);
}

#[test]
fn acquire_timeout_gets_a_permit_released_meanwhile() {
    let sem = Arc::new(Semaphore::new(0));
    let s = Arc::clone(&sem);
    let waiter = thread::spawn(move || {
        s.acquire_timeout(Duration::from_secs(3600))
            .map(Permit::forget)
            .is_some()
    });
    eventually(DEADLINE, "the timed acquirer is blocked", || {
        sem.waiters() == 1
    });
    sem.release(1);
    assert!(within(DEADLINE, "the timed acquirer returns", move || {
        waiter.join().unwrap()
    }));
    assert_eq!(sem.available(), 0);
}

#[test]
fn bounded_semaphore_refuses_an_over_release_and_changes_nothing() {
    let sem = BoundedSemaphore::new(3);
    assert_eq!(sem.bound(), 3);
    let err: ReleaseError = sem.release(1).unwrap_err();
    assert_eq!((err.released(), err.available(), err.bound()), (1, 3, 3));
    assert_eq!(sem.available(), 3, "a refused release changes nothing");

    let a = sem.acquire();
    let b = sem.acquire();
    assert_eq!(sem.available(), 1);
    assert!(sem.release(3).is_err(), "1 + 3 > 3");
    assert_eq!(sem.available(), 1);
    sem.release(2).expect("1 + 2 <= 3");
    assert_eq!(sem.available(), 3);
    // Two permits are out although the count is at its bound (Python would
    // raise when they are returned); returning them keeps it at the bound.
    drop(a);
    drop(b);
    assert_eq!(sem.available(), 3);

    let message = err.to_string();
    assert!(message.contains("released too many times"), "{message}");
    assert!(message.contains("bound of 3"), "{message}");
    let _: &dyn std::error::Error = &err;
}

#[test]
fn forget_keeps_the_permit_taken() {
    let sem = Semaphore::new(2);
    sem.acquire().forget();
    assert_eq!(sem.available(), 1);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available(), 0);
    assert!(sem.try_acquire().is_none());
    sem.release(2);
    assert_eq!(sem.available(), 2);

    let bounded = BoundedSemaphore::new(1);
    bounded.acquire().forget();
    assert_eq!(bounded.available(), 0);
    bounded.release(1).expect("back to the bound");
    assert_eq!(bounded.available(), 1);
}

#[test]
fn release_from_another_thread_and_release_zero() {
    let sem = Arc::new(Semaphore::new(0));
    sem.release(0);
    assert_eq!(sem.available(), 0);
    let s = Arc::clone(&sem);
    within(DEADLINE, "a release on another thread", move || {
        s.release(1)
    });
    assert_eq!(sem.available(), 1);
    // A permit may be dropped on another thread.
    let s = Arc::clone(&sem);
    let permit_on_thread = thread::scope(|scope| {
        let permit = s.acquire();
        scope.spawn(move || drop(permit)).join().unwrap();
        s.available()
    });
    assert_eq!(permit_on_thread, 1);
}

#[test]
#[should_panic(expected = "overflows usize")]
fn release_past_usize_max_panics() {
    Semaphore::new(usize::MAX).release(1);
}

#[test]
fn debug_shows_the_count() {
    let sem = Semaphore::new(2);
    assert_eq!(format!("{sem:?}"), "Semaphore { available: 2, waiters: 0 }");
    let bounded = BoundedSemaphore::new(1);
    let permit = bounded.acquire();
    assert_eq!(
        format!("{bounded:?}"),
        "BoundedSemaphore { available: 0, bound: 1, waiters: 0 }"
    );
    assert_eq!(format!("{permit:?}"), "Permit { available: 0, .. }");
}

#[test]
fn semaphores_and_permits_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Semaphore>();
    assert_send_sync::<BoundedSemaphore>();
    assert_send_sync::<Permit<'static>>();
    assert_send_sync::<ReleaseError>();
}
