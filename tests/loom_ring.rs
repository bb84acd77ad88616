//! Loom models of the bounded `Queue`'s lock-free ring: the stamp protocol
//! (loom's `UnsafeCell` panics on any unordered access to a slot), the
//! sleeper handshake around it, and the shutdown marks. Plus one model of
//! the mutex storage (`LifoQueue`) for the same handshake.
#![cfg(loom)]

use synclings::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use synclings::sync::{thread, Arc};
use synclings::{GetError, LifoQueue, PutError, Queue};

/// Everything still in `q`, via non-blocking gets.
fn drain<T>(q: &Queue<T>) -> Vec<T> {
    std::iter::from_fn(|| q.try_get().ok()).collect()
}

/// Race: SPSC through a ring of capacity 1, where every push starts a new
/// lap and each side may sleep (the producer on full, the consumer on
/// empty). Property: the items arrive in order and nobody sleeps forever (a
/// lost wake-up is a loom deadlock); loom checks the slot hand-over.
#[test]
fn spsc_capacity_one_in_order_without_lost_wake_up() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                for n in 1..=3 {
                    q.put(n).unwrap();
                }
            })
        };
        let got: Vec<u32> = (0..3).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, [1, 2, 3]);
        producer.join().unwrap();
        assert!(q.is_empty());
        assert_eq!(q.unfinished_tasks(), 3);
    });
}

/// Race: SPSC through a ring of capacity 2: the third push wraps around to
/// slot 0 while the consumer may still be reading it. Property: in order,
/// no lost wake-up, no unordered slot access.
#[test]
fn spsc_capacity_two_wraps_around_in_order() {
    loom::model(|| {
        let q = Arc::new(Queue::new(2));
        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                for n in 1..=3 {
                    q.put(n).unwrap();
                }
            })
        };
        let got: Vec<u32> = (0..3).map(|_| q.get().unwrap()).collect();
        assert_eq!(got, [1, 2, 3]);
        producer.join().unwrap();
        assert_eq!(q.len(), 0);
    });
}

/// Race: two producers' non-blocking puts for the last free slot. Property:
/// exactly one wins, the loser gets `Full` with its own item back, and the
/// queue holds the old item then the winner's.
#[test]
fn two_producers_race_for_the_last_slot() {
    loom::model(|| {
        let q = Arc::new(Queue::new(2));
        q.put(0).unwrap();
        let racers: Vec<_> = [1, 2]
            .into_iter()
            .map(|n| {
                let q = q.clone();
                thread::spawn(move || (n, q.try_put(n)))
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let winners: Vec<u32> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(winners.len(), 1, "exactly one put wins the last slot");
        for (n, result) in results {
            if let Err(e) = result {
                assert_eq!(e, PutError::Full(n));
            }
        }
        assert_eq!(drain(&q), [0, winners[0]]);
    });
}

/// Race: two producers on a ring of capacity 1, so that one of them (or
/// both, while the consumer is slow) sleeps on the full ring. Property: each
/// get wakes a putter (a `notify_one` lost to the wrong sleeper would leave
/// one asleep: a loom deadlock), and both items are delivered once.
#[test]
fn two_blocked_producers_both_get_through() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        let producers: Vec<_> = [1, 2]
            .into_iter()
            .map(|n| {
                let q = q.clone();
                thread::spawn(move || q.put(n).unwrap())
            })
            .collect();
        let mut got: Vec<u32> = (0..2).map(|_| q.get().unwrap()).collect();
        for p in producers {
            p.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// An item that counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Race: an immediate shutdown against a put that may be in flight or
/// blocked on the full ring. Property: if the put was acknowledged (`Ok`),
/// the shutdown dropped its item (nothing survives, counted as done); if
/// not, the item came back in `ShutDown` undropped. Either way the queue is
/// empty for good and nothing is unfinished.
#[test]
fn immediate_shutdown_racing_a_put_leaves_no_item_behind() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Arc::new(Queue::new(1));
        let putter = {
            let (q, drops) = (q.clone(), drops.clone());
            thread::spawn(move || q.put(Tracked(drops)))
        };
        q.shutdown(true);
        let put = putter.join().unwrap();
        match put {
            Ok(()) => assert_eq!(drops.load(SeqCst), 1, "the shutdown left the item"),
            Err(PutError::ShutDown(item)) => {
                assert_eq!(drops.load(SeqCst), 0, "a refused item was dropped");
                drop(item);
            }
            Err(PutError::Full(_)) => panic!("a blocking put reported Full"),
        }
        assert_eq!(q.len(), 0);
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(matches!(q.try_get(), Err(GetError::ShutDown)));
    });
}

/// Race: an immediate shutdown against a thread that checks `is_shutdown`,
/// gets, then puts, on a ring holding one item. Property: the item is either
/// got or dropped by the shutdown, exactly once (an acknowledged item is
/// never lost), and the shutdown is one step as the callers see it, although
/// the ring closes its two ends in turn: once `is_shutdown` said true, no get
/// succeeds, and once a get reported ShutDown, no put succeeds.
#[test]
fn immediate_shutdown_against_get_then_put_is_one_step() {
    loom::model(|| {
        let (queued, late) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let q = Arc::new(Queue::new(2));
        q.put(Tracked(queued.clone())).unwrap();
        let user = {
            let (q, late) = (q.clone(), late.clone());
            thread::spawn(move || {
                let seen_shut = q.is_shutdown();
                let got = q.try_get();
                let put = q.try_put(Tracked(late));
                (seen_shut, got, put)
            })
        };
        q.shutdown(true);
        let (seen_shut, got, put) = user.join().unwrap();
        if seen_shut {
            assert!(got.is_err(), "a get succeeded after is_shutdown said true");
        }
        match &got {
            Ok(_) => assert_eq!(queued.load(SeqCst), 0, "a delivered item was dropped"),
            Err(e) => {
                assert_eq!(*e, GetError::ShutDown);
                assert_eq!(queued.load(SeqCst), 1, "the queued item was not dropped");
                assert!(
                    matches!(put, Err(PutError::ShutDown(_))),
                    "a put succeeded after a get saw the shutdown"
                );
            }
        }
        match &put {
            Ok(()) => assert_eq!(late.load(SeqCst), 1, "the shutdown left the item"),
            Err(e) => {
                assert!(
                    e.is_shutdown(),
                    "the ring had room: only ShutDown may refuse"
                );
                assert_eq!(late.load(SeqCst), 0, "a refused item was dropped");
            }
        }
        assert_eq!(q.unfinished_tasks(), usize::from(got.is_ok()));
        assert_eq!(q.len(), 0);
        drop((got, put));
    });
}

/// Race: the mutex storage (`LifoQueue`) with capacity 1, producer and
/// consumer each possibly asleep. Property: no lost wake-up (the storage's
/// lock orders the handshake), and a stack of depth one keeps the order.
#[test]
fn lifo_capacity_one_has_no_lost_wake_up() {
    loom::model(|| {
        let q = Arc::new(LifoQueue::new(1));
        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                q.put(1).unwrap();
                q.put(2).unwrap();
            })
        };
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Ok(2));
        producer.join().unwrap();
        assert!(q.is_empty());
    });
}
