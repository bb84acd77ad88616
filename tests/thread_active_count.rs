//! `active_count()` is process-wide: this binary holds one test only, so no
//! other test's threads move the count while it runs.
#![cfg(not(loom))]

use std::sync::{Arc, Barrier};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::{thread, ThreadPool};

#[test]
fn active_count_rises_and_falls() {
    let base = thread::active_count();
    assert_eq!(base, 1, "only the main thread is counted at first");

    // Three threads blocked on a gate: counted as soon as spawn returns.
    let gate = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let gate = gate.clone();
            thread::spawn(move || {
                gate.wait();
            })
            .unwrap()
        })
        .collect();
    assert_eq!(thread::active_count(), base + 3);
    let gate2 = gate.clone();
    within(DEADLINE, "open the gate", move || {
        gate2.wait();
    });
    // They exit on their own: the count falls without joining them...
    eventually(DEADLINE, "the three threads are uncounted", || {
        thread::active_count() == base
    });
    for handle in handles {
        within(DEADLINE, "join", move || handle.join().unwrap());
    }

    // ...a panicking thread is uncounted too...
    let doomed = thread::spawn_named("doomed", || panic!("on purpose")).unwrap();
    assert!(within(DEADLINE, "join the panicking thread", move || doomed.join()).is_err());
    assert_eq!(thread::active_count(), base);

    // ...and a failed spawn never counts.
    assert!(thread::spawn_named("nul\0", || ()).is_err());
    assert_eq!(thread::active_count(), base);

    // A pool's workers count while the pool lives.
    let pool = ThreadPool::new(2, 0).unwrap();
    assert_eq!(thread::active_count(), base + 2);
    within(DEADLINE, "drop the pool", move || drop(pool));
    assert_eq!(thread::active_count(), base);
}
