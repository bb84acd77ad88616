//! Loom models of the queue engine: every interleaving of small races, with
//! timeouts modelled as "may fire at any point" by the sync facade.
#![cfg(loom)]

use synclings::sync::atomic::{AtomicBool, Ordering::Relaxed};
use synclings::sync::{thread, Arc, Duration};
use synclings::{GetError, PutError, Queue};

const TIMEOUT: Duration = Duration::from_secs(1);

/// Everything still in `q`, via non-blocking gets.
fn drain(q: &Queue<u32>) -> Vec<u32> {
    std::iter::from_fn(|| q.try_get().ok()).collect()
}

/// Race: with capacity 1 the producer's second put must sleep until the
/// consumer's get, and the consumer may sleep before either put. A lost
/// wake-up on either side leaves a thread asleep forever, which loom reports
/// as a deadlock.
#[test]
fn put_get_capacity_one_has_no_lost_wake_up() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
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
        assert_eq!(q.unfinished_tasks(), 2);
    });
}

/// Race: a shutdown against a put blocked on a full queue and a consumer
/// that may be blocked on it. Property: nobody sleeps forever, the putter's
/// item is delivered exactly once if its put succeeded and never otherwise,
/// and the item already queued is delivered exactly once (a non-immediate
/// shutdown lets gets drain).
#[test]
fn shutdown_wakes_a_blocked_put_and_a_blocked_get() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        q.put(0).unwrap();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(1))
        };
        let getter = {
            let q = q.clone();
            thread::spawn(move || {
                let first = q.get();
                let second = q.get();
                (first, second)
            })
        };
        q.shutdown(false);
        let put = putter.join().unwrap();
        let (first, second) = getter.join().unwrap();
        let mut delivered: Vec<u32> = [first, second].into_iter().flatten().collect();
        delivered.extend(drain(&q));
        delivered.sort_unstable();
        match put {
            Ok(()) => assert_eq!(delivered, [0, 1]),
            Err(e) => {
                assert_eq!(e, PutError::ShutDown(1));
                assert_eq!(delivered, [0]);
            }
        }
        assert_eq!(q.try_get(), Err(GetError::ShutDown));
    });
}

/// Race: a shutdown against a putter blocked on a full queue and a getter
/// blocked on an empty one, where only the shutdown can wake them (nobody
/// gets or puts). Property: both wake (a missed shutdown wake-up is a loom
/// deadlock) with ShutDown, the putter getting its item back. The getter is
/// the main thread and the shutdown runs on its own thread, so that few
/// preemptions suffice to put both callers to sleep before the shutdown.
#[test]
fn only_the_shutdown_wakes_a_blocked_put_and_a_blocked_get() {
    loom::model(|| {
        let full = Arc::new(Queue::new(1));
        full.put(0).unwrap();
        let empty: Arc<Queue<u32>> = Arc::new(Queue::new(1));
        let putter = {
            let full = full.clone();
            thread::spawn(move || full.put(1))
        };
        let shutter = {
            let (full, empty) = (full.clone(), empty.clone());
            thread::spawn(move || {
                full.shutdown(false);
                empty.shutdown(false);
            })
        };
        assert_eq!(empty.get(), Err(GetError::ShutDown));
        assert_eq!(putter.join().unwrap(), Err(PutError::ShutDown(1)));
        shutter.join().unwrap();
        assert_eq!(drain(&full), [0]);
    });
}

/// Race: an immediate shutdown against a getter blocked on an empty queue
/// and a putter. Property: the getter wakes; it gets the item only if the
/// put succeeded; a put item not taken was dropped by the shutdown and
/// counted as done (`join` cannot hang).
#[test]
fn immediate_shutdown_races_put_and_blocked_get() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get())
        };
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(7))
        };
        q.shutdown(true);
        let got = getter.join().unwrap();
        let put = putter.join().unwrap();
        match got {
            Ok(item) => {
                assert_eq!(item, 7);
                assert_eq!(put, Ok(()));
                assert_eq!(q.unfinished_tasks(), 1);
            }
            Err(e) => {
                assert_eq!(e, GetError::ShutDown);
                // Put or not, nothing is left and nothing is unfinished.
                assert_eq!(q.unfinished_tasks(), 0);
            }
        }
        assert!(q.is_empty());
        assert_eq!(q.try_get(), Err(GetError::ShutDown));
    });
}

/// Race: a timed put on a full queue against a timed get, either timeout
/// firing before or after the other side acts. Property: every item ends up
/// in exactly one place (taken, handed back, or still queued): none is lost
/// or duplicated, and a timed-out call reports Full/Empty, never a success.
#[test]
fn put_timeout_and_get_timeout_neither_lose_nor_duplicate() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        q.put(0).unwrap();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_timeout(1, TIMEOUT))
        };
        let got = q.get_timeout(TIMEOUT);
        let put = putter.join().unwrap();
        let mut places: Vec<u32> = drain(&q);
        match got {
            Ok(item) => places.push(item),
            Err(e) => assert_eq!(e, GetError::Empty),
        }
        match put {
            Ok(()) => {}
            Err(PutError::Full(item)) => places.push(item),
            Err(e) => panic!("unexpected {e:?}"),
        }
        places.sort_unstable();
        assert_eq!(places, [0, 1]);
    });
}

/// Race: a timed get on an empty queue against a timed put. Property: the
/// item is taken, or still queued; exactly once.
#[test]
fn get_timeout_on_empty_against_put_timeout() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get_timeout(TIMEOUT))
        };
        assert_eq!(q.put_timeout(5, TIMEOUT), Ok(()));
        let got = getter.join().unwrap();
        let left = drain(&q);
        match got {
            Ok(item) => {
                assert_eq!(item, 5);
                assert!(left.is_empty());
            }
            Err(e) => {
                assert_eq!(e, GetError::Empty);
                assert_eq!(left, [5]);
            }
        }
    });
}

/// Race: `join` against the consumer's `task_done`, and a `join_timeout`
/// whose timeout may fire at any point. Property: `join` returns (no lost
/// wake-up) and sees the consumer's work; `join_timeout` returns true only
/// after the task was done, and then sees the work too (the queue's lock
/// orders it, so even a Relaxed flag must be visible).
#[test]
fn task_done_releases_join() {
    loom::model(|| {
        let q = Arc::new(Queue::new(0));
        let processed = Arc::new(AtomicBool::new(false));
        q.put(1).unwrap();
        let consumer = {
            let (q, processed) = (q.clone(), processed.clone());
            thread::spawn(move || {
                assert_eq!(q.get(), Ok(1));
                processed.store(true, Relaxed);
                q.task_done().unwrap();
            })
        };
        let timed = {
            let (q, processed) = (q.clone(), processed.clone());
            thread::spawn(move || {
                if q.join_timeout(TIMEOUT) {
                    assert!(processed.load(Relaxed), "join_timeout returned early");
                }
            })
        };
        q.join();
        assert!(processed.load(Relaxed), "join returned before task_done");
        assert_eq!(q.unfinished_tasks(), 0);
        consumer.join().unwrap();
        timed.join().unwrap();
    });
}

/// Race: a put's notification against a timed getter whose timeout fires at
/// any point and an untimed getter, both asleep on an empty queue. A waker
/// takes the getter it notifies off the sleeper count, and a woken getter
/// accounts for one notification or for itself: whichever getter ends up
/// accounting for which notification, the untimed getter must not sleep
/// through its item (loom would report the deadlock). Property: each item is
/// taken once or still queued.
#[test]
fn notified_and_timed_out_getters_account_for_each_wake_up() {
    loom::model(|| {
        let q = Arc::new(Queue::new(1));
        let timed = {
            let q = q.clone();
            thread::spawn(move || q.get_timeout(TIMEOUT).ok())
        };
        let untimed = {
            let q = q.clone();
            thread::spawn(move || q.get().unwrap())
        };
        q.put(1).unwrap();
        q.put(2).unwrap();
        let mut places = vec![untimed.join().unwrap()];
        places.extend(timed.join().unwrap());
        places.extend(drain(&q));
        places.sort_unstable();
        assert_eq!(places, [1, 2]);
    });
}
