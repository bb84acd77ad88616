//! Loom models of `Scheduler`: cancel racing the fire, a schedule racing the
//! scheduler thread going to sleep, and shutdown racing a schedule. Under
//! loom a timed wait "times out" at any interleaving point, so a timer fires
//! as soon as the thread waits for its deadline (even an hour away). Each
//! model also checks that loom saw every outcome of its race.
#![cfg(loom)]

use std::collections::HashSet;
use std::time::Duration;

use synclings::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use synclings::sync::{thread, Arc, Condvar, Mutex};
use synclings::Scheduler;

const HOUR: Duration = Duration::from_secs(3600);

/// Counts its drops: proves a closure holding it was dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Runs `model` under loom and asserts that it reported every one of
/// `expected` outcomes in some execution (the race really was explored).
fn model_covering(expected: &[&'static str], model: fn() -> &'static str) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
    let s = seen.clone();
    loom::model(move || {
        let outcome = model();
        s.lock().unwrap().insert(outcome);
    });
    let seen = seen.lock().unwrap();
    for outcome in expected {
        assert!(seen.contains(outcome), "loom never explored: {outcome}");
    }
}

/// Race: `cancel` against the scheduler thread taking the timer (due at
/// once) to run it. Property: exactly one of "the callback ran" and "cancel
/// returned true"; the callback runs at most once.
#[test]
fn cancel_races_the_fire() {
    model_covering(&["ran", "cancelled"], || {
        let scheduler = Scheduler::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let id = scheduler.schedule(Duration::ZERO, move || {
            r.fetch_add(1, SeqCst);
        });
        let cancelled = scheduler.cancel(id);
        // Joins the thread: a callback taken before the cancel has finished.
        scheduler.shutdown();
        let runs = runs.load(SeqCst);
        assert!(runs <= 1);
        assert!(
            (runs == 1) != cancelled,
            "ran {runs} times, cancel returned {cancelled}"
        );
        if cancelled {
            "cancelled"
        } else {
            "ran"
        }
    });
}

/// Race: `cancel` from another thread against the scheduler thread's timed
/// wait for the deadline (the modelled timeout) and the fire that follows,
/// while a later timer is scheduled. Property: once the later timer has run
/// (waited for with no timeout: a lost wake-up is a loom deadlock), the
/// earlier one ran before it XOR `cancel` returned true (deadline order).
#[test]
fn cancel_races_the_timed_wait() {
    model_covering(&["ran", "cancelled"], || {
        let scheduler = Arc::new(Scheduler::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let id = scheduler.schedule(HOUR, move || {
            r.fetch_add(1, SeqCst);
        });
        let s = scheduler.clone();
        let canceller = thread::spawn(move || s.cancel(id));
        // The later timer records how many runs of the first it saw.
        let seen = Arc::new((Mutex::new(None), Condvar::new()));
        let (sn, r) = (seen.clone(), runs.clone());
        scheduler.schedule(HOUR * 2, move || {
            *sn.0.lock() = Some(r.load(SeqCst));
            sn.1.notify_one();
        });
        let cancelled = canceller.join().unwrap();
        let mut guard = seen.0.lock();
        while guard.is_none() {
            guard = seen.1.wait(guard);
        }
        let runs_before_later = guard.take().unwrap();
        drop(guard);
        assert!(
            (runs_before_later == 1) != cancelled,
            "ran {runs_before_later} times before the later timer, cancel returned {cancelled}"
        );
        scheduler.shutdown();
        assert_eq!(
            runs.load(SeqCst),
            runs_before_later,
            "ran after the later timer"
        );
        if cancelled {
            "cancelled"
        } else {
            "ran"
        }
    });
}

/// Race: `schedule` against the scheduler thread deciding to sleep (with no
/// timer: an untimed wait). Property: the timer fires — a lost wake-up would
/// leave both threads waiting, which loom reports as a deadlock.
#[test]
fn schedule_races_the_thread_going_to_sleep() {
    model_covering(&["fired"], || {
        let scheduler = Scheduler::new();
        let fired = Arc::new((Mutex::new(false), Condvar::new()));
        let f = fired.clone();
        scheduler.schedule(HOUR, move || {
            *f.0.lock() = true;
            f.1.notify_one();
        });
        let (flag, cv) = &*fired;
        let mut guard = flag.lock();
        while !*guard {
            guard = cv.wait(guard);
        }
        drop(guard);
        assert_eq!(scheduler.pending(), 0);
        drop(scheduler);
        "fired"
    });
}

/// Race: `shutdown` against a `schedule` from another thread (and the
/// scheduler thread firing it). Property: the closure runs at most once and
/// is dropped exactly once (run or discarded, never leaked), nothing is
/// pending afterwards, and shutdown returns (the thread exited).
#[test]
fn shutdown_races_a_schedule() {
    model_covering(&["ran", "discarded"], || {
        let scheduler = Arc::new(Scheduler::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let (s, r, guard) = (scheduler.clone(), runs.clone(), DropCounter(drops.clone()));
        let scheduling = thread::spawn(move || {
            s.schedule(Duration::ZERO, move || {
                let _guard = &guard;
                r.fetch_add(1, SeqCst);
            });
        });
        scheduler.shutdown();
        scheduling.join().unwrap();
        let runs = runs.load(SeqCst);
        assert!(runs <= 1);
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the closure was leaked or dropped twice"
        );
        assert_eq!(scheduler.pending(), 0);
        assert!(scheduler.is_shutdown());
        if runs == 1 {
            "ran"
        } else {
            "discarded"
        }
    });
}
