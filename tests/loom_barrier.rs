//! Loom models of `Barrier`: abort, timeout and reset racing the arrivals.
#![cfg(loom)]

use std::collections::BTreeSet;

use synclings::sync::{thread, Arc, Duration};
use synclings::{Barrier, BrokenBarrier};

type Outcome = Result<usize, BrokenBarrier>;

/// Outcomes seen across a model's executions (outside loom's world), to
/// check that the model really explored the races it is about.
type Seen = std::sync::Arc<std::sync::Mutex<BTreeSet<Vec<Outcome>>>>;

/// Race: two parties arrive while a third thread aborts. Every wait returns
/// (no deadlock). If the round was released before the abort, both get their
/// distinct index; if the abort came first, both fail. As in CPython, an
/// abort between the release and the first waiter's wake-up fails that
/// waiter: then only the releaser (index 1) succeeded. The barrier ends broken.
#[test]
fn abort_racing_arrivals() {
    let seen: Seen = Default::default();
    let record = seen.clone();
    loom::model(move || {
        let barrier = Arc::new(Barrier::new(2));
        let parties: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                thread::spawn(move || barrier.wait())
            })
            .collect();
        barrier.abort();
        let mut results: Vec<_> = parties.into_iter().map(|p| p.join().unwrap()).collect();
        results.sort();
        assert!(expected().contains(&results), "{results:?}");
        assert!(barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
        record.lock().unwrap().insert(results);
    });
    assert_eq!(
        *seen.lock().unwrap(),
        expected(),
        "every outcome is explored"
    );

    fn expected() -> BTreeSet<Vec<Outcome>> {
        BTreeSet::from([
            vec![Ok(0), Ok(1)],
            vec![Ok(1), Err(BrokenBarrier)],
            vec![Err(BrokenBarrier), Err(BrokenBarrier)],
        ])
    }
}

/// Race: a timed wait's timeout (modelled: it may fire at any point) against
/// the last party's arrival. Either the round is released (both Ok, distinct
/// indices, barrier intact) or the timeout broke it first (both Err, broken):
/// never one of each.
#[test]
fn timeout_racing_the_last_arrival() {
    let seen: Seen = Default::default();
    let record = seen.clone();
    loom::model(move || {
        let barrier = Arc::new(Barrier::new(2));
        let timed = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_timeout(Duration::from_secs(1)))
        };
        // The last party looks at the barrier before arriving. Without this
        // extra step the timeout could never win: after the timed waiter's
        // modelled timeout yields, loom runs the other thread for one step,
        // and that step would be the arrival that releases the round.
        let _ = barrier.n_waiting();
        let untimed = barrier.wait();
        let timed = timed.join().unwrap();
        record.lock().unwrap().insert(vec![timed, untimed]);
        match (timed, untimed) {
            (Ok(a), Ok(b)) => {
                assert_ne!(a, b);
                assert!(a < 2 && b < 2);
                assert!(!barrier.is_broken());
            }
            (Err(BrokenBarrier), Err(BrokenBarrier)) => assert!(barrier.is_broken()),
            mixed => panic!("inconsistent results {mixed:?}"),
        }
        assert_eq!(barrier.n_waiting(), 0);
    });
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|r| r[0].is_ok()),
        "never explored the release winning"
    );
    assert!(
        seen.iter().any(|r| r[0].is_err()),
        "never explored the timeout winning"
    );
}

/// Race: `reset` against a waiting party. A party caught by the reset fails
/// and leaves; the barrier must not get stuck resetting: after everyone left
/// and one more `reset`, it is intact and a full round passes.
#[test]
fn reset_racing_a_waiter() {
    let seen: Seen = Default::default();
    let record = seen.clone();
    loom::model(move || {
        let barrier = Arc::new(Barrier::new(2));
        let waiter = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait())
        };
        barrier.reset();
        // Timed, so that the model ends even if the reset took the waiter away.
        let mine = barrier.wait_timeout(Duration::from_secs(1));
        let theirs = waiter.join().unwrap();
        record.lock().unwrap().insert(vec![mine, theirs]);
        match (mine, theirs) {
            (Ok(a), Ok(b)) => assert_ne!(a, b),
            (Err(_), Err(_)) => {}
            mixed => panic!("inconsistent results {mixed:?}"),
        }
        barrier.reset();
        assert!(!barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
        let other = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait())
        };
        let mine = barrier.wait();
        let theirs = other.join().unwrap();
        assert!(
            mine.is_ok() && theirs.is_ok() && mine != theirs,
            "{mine:?} {theirs:?}"
        );
    });
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|r| r[0].is_ok()),
        "never explored a full round"
    );
    assert!(
        seen.iter().any(|r| r[1].is_err()),
        "never explored the reset catching the waiter"
    );
}
