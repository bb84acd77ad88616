//! Integration tests of the bounded `Queue`'s lock-free ring: laps and
//! wrap-around, the drop of the items left, task accounting without a lock,
//! the mutex fallback for huge bounds, and immediate shutdowns racing many
//! putters and getters (Python 3.13: no acknowledged item is lost, none
//! survives the shutdown).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

use synclings::testing::{within, DEADLINE};
use synclings::{GetError, PutError, Queue};

/// Counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn many_laps_keep_fifo_order_and_the_bound() {
    // Capacities that are and are not powers of two, including 1.
    for cap in [1usize, 2, 3, 7, 8, 64] {
        let q = Queue::new(cap);
        let mut next_out = 0u64;
        let mut next_in = 0u64;
        for round in 0..50 {
            // Fill to the bound (a different amount of slack each round).
            while q.try_put(next_in).is_ok() {
                next_in += 1;
            }
            assert_eq!(q.len(), cap, "cap {cap}, round {round}");
            assert!(q.is_full());
            assert_eq!(q.try_put(u64::MAX), Err(PutError::Full(u64::MAX)));
            // Take a varying number out.
            for _ in 0..=(round % cap) {
                assert_eq!(q.try_get(), Ok(next_out), "cap {cap}");
                next_out += 1;
            }
        }
        while let Ok(n) = q.try_get() {
            assert_eq!(n, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert!(q.is_empty());
        assert_eq!(q.unfinished_tasks() as u64, next_in);
    }
}

#[test]
fn dropping_a_queue_drops_the_items_left_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Queue::new(3);
    // Wrap around a few laps first.
    for _ in 0..10 {
        q.put(Tracked(drops.clone())).unwrap();
        drop(q.get().unwrap());
    }
    assert_eq!(drops.load(SeqCst), 10);
    q.put(Tracked(drops.clone())).unwrap();
    q.put(Tracked(drops.clone())).unwrap();
    drop(q);
    assert_eq!(
        drops.load(SeqCst),
        12,
        "the 2 items left were not dropped once"
    );
}

#[test]
fn a_bound_too_large_for_a_ring_is_still_a_bound() {
    let maxsize = 100_000;
    let q = Queue::new(maxsize);
    for n in 0..maxsize {
        q.try_put(n).unwrap();
    }
    assert!(q.is_full());
    assert_eq!(q.try_put(0), Err(PutError::Full(0)));
    assert_eq!(q.try_get(), Ok(0));
    q.shutdown(true);
    assert_eq!(q.len(), 0);
    assert_eq!(q.unfinished_tasks(), 1);
}

#[test]
fn workers_with_task_done_and_join_on_a_bounded_queue() {
    // Python's worker pattern, through the ring: join returns only once every
    // item was processed, with unfinished_tasks derived from the ring.
    let q = Arc::new(Queue::new(4));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (q, done) = (q.clone(), done.clone());
            std::thread::spawn(move || {
                while let Ok(n) = q.get() {
                    done.fetch_add(n, SeqCst);
                    q.task_done().unwrap();
                }
            })
        })
        .collect();
    for round in 0..20 {
        for n in 1..=50 {
            q.put(n).unwrap();
        }
        let q2 = q.clone();
        within(DEADLINE, "join while workers process", move || q2.join());
        assert_eq!(done.load(SeqCst), 1275 * (round + 1));
        assert_eq!(q.unfinished_tasks(), 0);
    }
    assert!(
        q.task_done().is_err(),
        "task_done beyond the puts must fail"
    );
    q.shutdown(false);
    within(DEADLINE, "workers exit on shutdown", move || {
        for w in workers {
            w.join().unwrap();
        }
    });
}

#[test]
fn immediate_shutdown_racing_putters_and_getters_loses_and_leaks_nothing() {
    const PUTTERS: usize = 3;
    const GETTERS: usize = 2;
    const PER_PUTTER: usize = 20_000;
    for round in 0..5 {
        let drops = Arc::new(AtomicUsize::new(0));
        let q: Arc<Queue<Tracked>> = Arc::new(Queue::new(8));
        let start = Arc::new(Barrier::new(PUTTERS + GETTERS + 1));
        let putters: Vec<_> = (0..PUTTERS)
            .map(|_| {
                let (q, start, drops) = (q.clone(), start.clone(), drops.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut accepted = 0;
                    for _ in 0..PER_PUTTER {
                        match q.put(Tracked(drops.clone())) {
                            Ok(()) => accepted += 1,
                            Err(PutError::ShutDown(item)) => {
                                // Handed back, not dropped by the queue.
                                std::mem::forget(item);
                                break;
                            }
                            Err(PutError::Full(_)) => panic!("a blocking put reported Full"),
                        }
                    }
                    accepted
                })
            })
            .collect();
        let getters: Vec<_> = (0..GETTERS)
            .map(|_| {
                let (q, start) = (q.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut received = 0;
                    loop {
                        match q.get() {
                            Ok(item) => {
                                received += 1;
                                std::mem::forget(item);
                            }
                            Err(GetError::ShutDown) => return received,
                            Err(GetError::Empty) => panic!("a blocking get reported Empty"),
                        }
                    }
                })
            })
            .collect();
        start.wait();
        // Let some traffic through, then shut down in the middle of it.
        let q2 = q.clone();
        within(DEADLINE, "traffic before the shutdown", move || {
            while q2.unfinished_tasks() < 1_000 * (round + 1) {
                std::thread::yield_now();
            }
        });
        q.shutdown(true);
        assert_eq!(q.len(), 0, "items survived an immediate shutdown");
        let (accepted, received) = within(DEADLINE, "everyone sees the shutdown", move || {
            let accepted: usize = putters.into_iter().map(|p| p.join().unwrap()).sum();
            let received: usize = getters.into_iter().map(|g| g.join().unwrap()).sum();
            (accepted, received)
        });
        // Every acknowledged item was either received or dropped by the
        // shutdown, exactly once; a received one (forgotten above) never is.
        assert_eq!(
            received + drops.load(SeqCst),
            accepted,
            "an acknowledged item was lost or dropped twice"
        );
        assert_eq!(
            q.unfinished_tasks(),
            received,
            "the dropped ones count as done"
        );
        assert_eq!(q.try_get().err(), Some(GetError::ShutDown));
    }
}

/// The blocking calls' spin phase looks at one slot only (a getter at the
/// head's, a putter at the slot a few places past the tail, wrapping into
/// the next lap): across threads, with capacities that do and do not wrap
/// that look-ahead, every item still arrives once and in order, and a
/// putter never holds more than the bound.
#[test]
fn blocking_hand_over_across_threads_keeps_fifo_order() {
    for cap in [1usize, 2, 3, 16, 17, 100] {
        let q = Arc::new(Queue::new(cap));
        const N: u64 = 20_000;
        let consumer = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                for n in 0..N {
                    assert!(q.len() <= cap, "cap {cap}: over the bound");
                    assert_eq!(q.get(), Ok(n), "cap {cap}: out of order");
                }
                q.get()
            })
        };
        let producer = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                for n in 0..N {
                    q.put(n).unwrap();
                }
            })
        };
        let last = within(DEADLINE, "the hand-over of every item", move || {
            producer.join().unwrap();
            // Only the shutdown ends the consumer's last, blocked get.
            q.shutdown(false);
            consumer.join().unwrap()
        });
        assert_eq!(last, Err(GetError::ShutDown), "cap {cap}");
    }
}
