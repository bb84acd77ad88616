//! Loom models of `Timer`: a cancel racing the fire, and joiners racing the
//! finish. Under loom the timer's timed wait "times out" at any interleaving
//! point, so the orders of {timeout, cancel, join} are explored; each model
//! also checks that loom saw every outcome of its race.
#![cfg(loom)]

use std::collections::HashSet;
use std::time::Duration;

use synclings::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use synclings::sync::{thread, Arc};
use synclings::Timer;

/// What a model's callback saw.
#[derive(Default)]
struct Record {
    /// How many times the callback ran.
    runs: AtomicUsize,
}

fn recording_timer(record: &Arc<Record>) -> Arc<Timer> {
    let record = record.clone();
    Arc::new(Timer::new(Duration::from_secs(3600), move || {
        record.runs.fetch_add(1, SeqCst);
    }))
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

/// Race: `cancel` on another thread against the timer thread's timeout
/// marking `Running`, while the main thread joins. Property: join returns
/// (no lost wake-up: loom reports no deadlock); the callback ran exactly once
/// XOR the cancel came in time (`is_cancelled`), never both, never neither.
/// (A cancel that returns while the callback is committed but has not begun
/// its first instruction is "late": the commit point is the state change.)
#[test]
fn cancel_races_the_fire() {
    model_covering(&["ran", "cancelled"], || {
        let record = Arc::new(Record::default());
        let timer = recording_timer(&record);
        timer.start().unwrap();
        let t = timer.clone();
        let canceller = thread::spawn(move || t.cancel());
        timer.join().unwrap();
        canceller.join().unwrap();
        let runs = record.runs.load(SeqCst);
        assert!(runs <= 1, "the callback ran {runs} times");
        assert_eq!(
            runs == 1,
            !timer.is_cancelled(),
            "ran XOR cancelled in time"
        );
        assert!(timer.is_finished());
        if runs == 1 {
            "ran"
        } else {
            "cancelled"
        }
    });
}

/// Race: two joiners going to sleep against the timer thread marking
/// `Finished` and notifying. Property: both joins return (no lost wake-up),
/// and after either, the callback has run once.
#[test]
fn joiners_race_the_finish() {
    model_covering(&["joined"], || {
        let record = Arc::new(Record::default());
        let timer = recording_timer(&record);
        timer.start().unwrap();
        let (t, r) = (timer.clone(), record.clone());
        let joiner = thread::spawn(move || {
            t.join().unwrap();
            assert_eq!(r.runs.load(SeqCst), 1);
        });
        timer.join().unwrap();
        assert_eq!(record.runs.load(SeqCst), 1);
        joiner.join().unwrap();
        "joined"
    });
}

/// Race: a timed join against the finish. Property: the result is
/// consistent with the state: `Some(Ok)` means the callback ran; `None`
/// means the timer was not finished then, and a join then finishes.
#[test]
fn timed_join_races_the_finish() {
    model_covering(&["finished in time", "timed out"], || {
        let record = Arc::new(Record::default());
        let timer = recording_timer(&record);
        timer.start().unwrap();
        let outcome = match timer.join_timeout(Duration::from_secs(3600)) {
            Some(result) => {
                result.unwrap();
                assert_eq!(record.runs.load(SeqCst), 1);
                "finished in time"
            }
            None => {
                timer.join().unwrap();
                "timed out"
            }
        };
        assert_eq!(record.runs.load(SeqCst), 1);
        assert!(timer.is_finished());
        outcome
    });
}
