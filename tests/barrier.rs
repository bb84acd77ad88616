//! `Barrier` against CPython's `BarrierTests` (Lib/test/lock_tests.py).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::{Barrier, BrokenBarrier, ZeroParties};

type Outcome = Result<usize, BrokenBarrier>;

/// Starts a thread doing one `wait()`.
fn spawn_wait(barrier: &Arc<Barrier>) -> JoinHandle<Outcome> {
    let barrier = Arc::clone(barrier);
    thread::spawn(move || barrier.wait())
}

fn join_all(what: &str, threads: Vec<JoinHandle<Outcome>>) -> Vec<Outcome> {
    within(DEADLINE, what, move || {
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// `parties` threads pass the barrier `rounds` times; returns each round's
/// indices, sorted.
fn run_rounds(barrier: &Arc<Barrier>, rounds: usize) -> Vec<Vec<usize>> {
    let parties = barrier.parties();
    // arrived[r]: how many threads reached round r's wait.
    let arrived: Arc<Vec<AtomicUsize>> =
        Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
    let indices = Arc::new(Mutex::new(vec![Vec::new(); rounds]));
    let threads: Vec<_> = (0..parties)
        .map(|_| {
            let (barrier, arrived, indices) = (barrier.clone(), arrived.clone(), indices.clone());
            thread::spawn(move || {
                for round in 0..rounds {
                    arrived[round].fetch_add(1, SeqCst);
                    let index = barrier.wait().expect("nobody breaks the barrier");
                    // Nobody passes before everyone arrived.
                    assert_eq!(
                        arrived[round].load(SeqCst),
                        parties,
                        "passed round {round} early"
                    );
                    indices.lock().unwrap()[round].push(index);
                }
            })
        })
        .collect();
    within(DEADLINE, "every round completes", move || {
        for t in threads {
            t.join().unwrap();
        }
    });
    let mut indices = std::mem::take(&mut *indices.lock().unwrap());
    for round in &mut indices {
        round.sort();
    }
    indices
}

#[test]
fn indices_are_a_permutation_in_every_round() {
    let barrier = Arc::new(Barrier::new(5));
    let rounds = run_rounds(&barrier, 4);
    for round in rounds {
        assert_eq!(round, [0, 1, 2, 3, 4]);
    }
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
}

#[test]
fn the_action_runs_once_per_round_before_anyone_is_released() {
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = {
        let runs = runs.clone();
        Arc::new(Barrier::with_action(3, move || {
            runs.fetch_add(1, SeqCst);
        }))
    };
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (barrier, runs) = (barrier.clone(), runs.clone());
            thread::spawn(move || {
                for round in 0..5 {
                    barrier.wait().expect("nobody breaks the barrier");
                    // Not yet round + 2: the next round's action needs us.
                    assert_eq!(
                        runs.load(SeqCst),
                        round + 1,
                        "the action ran before the release"
                    );
                }
            })
        })
        .collect();
    within(DEADLINE, "five rounds complete", move || {
        for t in threads {
            t.join().unwrap();
        }
    });
    assert_eq!(runs.load(SeqCst), 5);
}

#[test]
fn a_single_party_never_waits() {
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = {
        let runs = runs.clone();
        Barrier::with_action(1, move || {
            runs.fetch_add(1, SeqCst);
        })
    };
    for _ in 0..3 {
        assert_eq!(barrier.wait(), Ok(0));
    }
    assert_eq!(runs.load(SeqCst), 3);
}

#[test]
fn n_waiting_counts_the_arrived() {
    let barrier = Arc::new(Barrier::new(3));
    assert_eq!(barrier.n_waiting(), 0);
    let first = spawn_wait(&barrier);
    eventually(DEADLINE, "one waits", || barrier.n_waiting() == 1);
    let second = spawn_wait(&barrier);
    eventually(DEADLINE, "two wait", || barrier.n_waiting() == 2);
    let last = barrier.wait();
    assert_eq!(last, Ok(2), "the last to arrive gets parties - 1");
    let mut results = join_all("the round is released", vec![first, second]);
    results.sort();
    assert_eq!(results, [Ok(0), Ok(1)]);
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn abort_wakes_the_waiters_with_an_error() {
    let barrier = Arc::new(Barrier::new(3));
    let waiters = vec![spawn_wait(&barrier), spawn_wait(&barrier)];
    eventually(DEADLINE, "both wait", || barrier.n_waiting() == 2);
    barrier.abort();
    assert!(barrier.is_broken());
    assert_eq!(
        join_all("abort wakes them", waiters),
        [Err(BrokenBarrier); 2]
    );
    // Broken until reset: a wait fails at once.
    assert_eq!(barrier.wait(), Err(BrokenBarrier));
    assert_eq!(barrier.wait_timeout(DEADLINE), Err(BrokenBarrier));
    assert!(barrier.is_broken());

    barrier.reset();
    assert!(!barrier.is_broken());
    assert_eq!(run_rounds(&barrier, 2), [[0, 1, 2], [0, 1, 2]]);
}

#[test]
fn reset_wakes_the_waiters_and_the_barrier_is_usable_again() {
    let barrier = Arc::new(Barrier::new(3));
    let waiters = vec![spawn_wait(&barrier), spawn_wait(&barrier)];
    eventually(DEADLINE, "both wait", || barrier.n_waiting() == 2);
    barrier.reset();
    assert_eq!(
        join_all("reset wakes them", waiters),
        [Err(BrokenBarrier); 2]
    );
    assert!(!barrier.is_broken(), "reset does not break the barrier");
    assert_eq!(barrier.n_waiting(), 0);
    assert_eq!(run_rounds(&barrier, 2), [[0, 1, 2], [0, 1, 2]]);
}

#[test]
fn a_timeout_breaks_the_barrier_for_everyone() {
    let barrier = Arc::new(Barrier::new(3));
    let waiter = spawn_wait(&barrier);
    eventually(DEADLINE, "one waits", || barrier.n_waiting() == 1);
    let start = Instant::now();
    assert_eq!(
        barrier.wait_timeout(Duration::from_millis(100)),
        Err(BrokenBarrier)
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(100),
        "timed out after {elapsed:?}"
    );
    assert!(barrier.is_broken());
    assert_eq!(
        join_all("the other waiter fails too", vec![waiter]),
        [Err(BrokenBarrier)]
    );
    assert_eq!(barrier.wait(), Err(BrokenBarrier));
}

#[test]
fn timed_waits_that_are_released_succeed() {
    let barrier = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_timeout(DEADLINE * 2))
        })
        .collect();
    let mut results = join_all("the round is released", threads);
    results.sort();
    assert_eq!(results, [Ok(0), Ok(1), Ok(2)]);
    assert!(!barrier.is_broken());
    // A huge timeout means no deadline.
    assert_eq!(Barrier::new(1).wait_timeout(Duration::MAX), Ok(0));
}

#[test]
fn a_panicking_action_breaks_the_barrier() {
    let fail = Arc::new(AtomicUsize::new(1));
    let barrier = {
        let fail = fail.clone();
        Arc::new(Barrier::with_action(3, move || {
            if fail.load(SeqCst) > 0 {
                panic!("the action fails (this panic is expected by the test)");
            }
        }))
    };
    let threads: Vec<_> = (0..3).map(|_| spawn_wait(&barrier)).collect();
    assert_eq!(
        join_all("every party returns", threads),
        [Err(BrokenBarrier); 3]
    );
    assert!(barrier.is_broken());

    fail.store(0, SeqCst);
    barrier.reset();
    assert_eq!(run_rounds(&barrier, 1), [[0, 1, 2]]);
}

#[test]
fn reset_during_draining_keeps_the_round() {
    // A reset right after a release must not turn the released round into
    // errors: its waiters were released before the reset.
    let barrier = Arc::new(Barrier::new(2));
    let waiter = spawn_wait(&barrier);
    eventually(DEADLINE, "one waits", || barrier.n_waiting() == 1);
    assert_eq!(barrier.wait(), Ok(1));
    barrier.reset();
    // Either the waiter left already (reset found an empty barrier) or it is
    // draining (reset leaves a released round alone): it succeeds both ways.
    assert_eq!(join_all("the waiter returns", vec![waiter]), [Ok(0)]);
    assert!(!barrier.is_broken());
    assert_eq!(run_rounds(&barrier, 1), [[0, 1]]);
}

#[test]
fn zero_parties_is_rejected() {
    assert_eq!(Barrier::try_new(0).err(), Some(ZeroParties));
    assert!(Barrier::try_with_action(0, || {}).is_err());
    assert_eq!(Barrier::try_new(2).map(|b| b.parties()).ok(), Some(2));
    let message = ZeroParties.to_string();
    assert!(message.contains("at least 1 party"), "{message}");
}

#[test]
#[should_panic(expected = "Barrier::new: a barrier needs at least 1 party")]
fn new_with_zero_parties_panics() {
    let _ = Barrier::new(0);
}

#[test]
fn errors_and_debug_say_what_happened() {
    let message = BrokenBarrier.to_string();
    assert!(message.contains("reset()"), "{message}");
    let error: Box<dyn std::error::Error> = Box::new(BrokenBarrier);
    assert!(error.source().is_none());

    let barrier = Barrier::with_action(2, || {});
    assert_eq!(
        format!("{barrier:?}"),
        "Barrier { parties: 2, phase: Filling, count: 0, has_action: true }"
    );
}

#[test]
fn barrier_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Barrier>();
    assert_send_sync::<BrokenBarrier>();
}
