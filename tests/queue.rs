//! Integration tests of `Queue`, `LifoQueue` and `PriorityQueue`, after
//! CPython's `Lib/test/test_queue.py` (3.13, shutdown included).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use synclings::testing::{eventually, spawn_blocked, within, DEADLINE};
use synclings::{GetError, LifoQueue, PriorityQueue, PutError, Queue, TaskDoneError};

/// A short timeout for "this must time out" checks.
const SHORT: Duration = Duration::from_millis(100);

#[test]
fn types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Queue<String>>();
    assert_send_sync::<LifoQueue<Box<dyn Send>>>();
    assert_send_sync::<PriorityQueue<u32>>();
    assert_send_sync::<PutError<String>>();
    assert_send_sync::<GetError>();
    assert_send_sync::<TaskDoneError>();
}

#[test]
fn fifo_lifo_and_priority_orders() {
    let fifo = Queue::new(0);
    let lifo = LifoQueue::new(0);
    let prio = PriorityQueue::new(0);
    for n in [5, 1, 4, 1, 3] {
        fifo.put(n).unwrap();
        lifo.put(n).unwrap();
        prio.put(n).unwrap();
    }
    let drain = |get: &dyn Fn() -> Result<i32, GetError>| -> Vec<i32> {
        std::iter::from_fn(|| get().ok()).collect()
    };
    assert_eq!(drain(&|| fifo.try_get()), [5, 1, 4, 1, 3]);
    assert_eq!(drain(&|| lifo.try_get()), [3, 1, 4, 1, 5]);
    assert_eq!(drain(&|| prio.try_get()), [1, 1, 3, 4, 5]);
}

#[test]
fn size_queries_follow_python() {
    let q = Queue::new(2);
    assert_eq!(q.maxsize(), 2);
    assert!(q.is_empty() && !q.is_full());
    q.put('a').unwrap();
    assert_eq!(q.len(), 1);
    assert!(!q.is_empty() && !q.is_full());
    q.put('b').unwrap();
    assert!(q.is_full());
    assert_eq!(q.unfinished_tasks(), 2);

    // maxsize 0: unbounded, never full.
    let unbounded = LifoQueue::default();
    for n in 0..10_000 {
        unbounded.try_put(n).unwrap();
    }
    assert_eq!(unbounded.len(), 10_000);
    assert!(!unbounded.is_full());
    assert_eq!(unbounded.maxsize(), 0);
}

#[test]
fn full_empty_and_shutdown_are_distinct_and_shutdown_wins() {
    let q = Queue::new(1);
    assert_eq!(q.try_get(), Err(GetError::Empty));
    assert_eq!(q.get_timeout(Duration::ZERO), Err(GetError::Empty));
    q.put(1).unwrap();
    assert_eq!(q.try_put(2), Err(PutError::Full(2)));
    assert_eq!(q.put_timeout(3, Duration::ZERO), Err(PutError::Full(3)));

    // Full and shut down: ShutDown wins, and the item comes back.
    q.shutdown(false);
    assert!(q.is_shutdown());
    let err = q.try_put(4).unwrap_err();
    assert!(err.is_shutdown() && !err.is_full());
    assert_eq!(err.into_inner(), 4);
    assert_eq!(q.put(5), Err(PutError::ShutDown(5)));
    assert_eq!(q.put_timeout(6, SHORT), Err(PutError::ShutDown(6)));

    // Empty and shut down: ShutDown wins over Empty.
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Err(GetError::ShutDown));
    assert_eq!(q.get_timeout(SHORT), Err(GetError::ShutDown));
    assert_eq!(q.get(), Err(GetError::ShutDown));
}

#[test]
fn errors_display_and_debug_without_item_debug() {
    struct Opaque; // deliberately not Debug
    let full: PutError<Opaque> = PutError::Full(Opaque);
    let shut: PutError<Opaque> = PutError::ShutDown(Opaque);
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(format!("{shut:?}"), "ShutDown(..)");
    assert!(full.to_string().contains("full"));
    assert!(shut.to_string().contains("shut down"));
    assert!(GetError::Empty.to_string().contains("empty"));
    assert!(GetError::ShutDown.to_string().contains("shut down"));
    assert!(TaskDoneError.to_string().contains("too many times"));
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(full);
    assert!(!boxed.to_string().is_empty());

    let q = PriorityQueue::new(3);
    q.put(1).unwrap();
    let debug = format!("{q:?}");
    assert!(debug.starts_with("PriorityQueue"), "{debug}");
    assert!(
        debug.contains("len: 1") && debug.contains("maxsize: 3"),
        "{debug}"
    );
}

#[test]
fn blocking_put_on_a_full_queue_waits_for_a_get() {
    let q = Arc::new(Queue::new(1));
    q.put(1).unwrap();
    let put_done = Arc::new(AtomicBool::new(false));
    let putter = {
        let (q, put_done) = (q.clone(), put_done.clone());
        spawn_blocked(move || {
            q.put(2).unwrap();
            put_done.store(true, SeqCst);
        })
    };
    assert!(
        !put_done.load(SeqCst),
        "put returned while the queue was full"
    );
    assert_eq!(q.len(), 1);
    let q2 = q.clone();
    assert_eq!(
        within(DEADLINE, "get from the full queue", move || q2.get()),
        Ok(1)
    );
    within(DEADLINE, "the blocked put completes", move || {
        putter.join().unwrap()
    });
    assert!(put_done.load(SeqCst));
    assert_eq!(q.try_get(), Ok(2));
}

#[test]
fn blocking_get_on_an_empty_queue_waits_for_a_put() {
    let q = Arc::new(LifoQueue::new(0));
    let getter = {
        let q = q.clone();
        spawn_blocked(move || q.get())
    };
    assert!(!getter.is_finished(), "get returned from an empty queue");
    q.put("item").unwrap();
    let got = within(DEADLINE, "the blocked get", move || getter.join().unwrap());
    assert_eq!(got, Ok("item"));
}

#[test]
fn timed_put_and_get_fail_no_earlier_than_their_timeout() {
    let q = Queue::new(1);
    let start = Instant::now();
    assert_eq!(q.get_timeout(SHORT), Err(GetError::Empty));
    assert!(start.elapsed() >= SHORT, "get_timeout gave up early");

    q.put(0).unwrap();
    let start = Instant::now();
    assert_eq!(q.put_timeout(1, SHORT), Err(PutError::Full(1)));
    assert!(start.elapsed() >= SHORT, "put_timeout gave up early");

    assert!(!q.join_timeout(Duration::ZERO));
    let start = Instant::now();
    assert!(!q.join_timeout(SHORT));
    assert!(start.elapsed() >= SHORT, "join_timeout gave up early");

    // A huge timeout overflows Instant: it means "no deadline", not a panic.
    assert_eq!(q.get_timeout(Duration::MAX), Ok(0));
    assert_eq!(q.put_timeout(2, Duration::MAX), Ok(()));
}

#[test]
fn timed_put_and_get_succeed_when_room_or_an_item_appears() {
    let q = Arc::new(Queue::new(1));
    q.put(1).unwrap();
    let putter = {
        let q = q.clone();
        spawn_blocked(move || q.put_timeout(2, DEADLINE))
    };
    assert_eq!(q.get(), Ok(1));
    assert_eq!(
        within(DEADLINE, "the timed put", move || putter.join().unwrap()),
        Ok(())
    );
    assert_eq!(q.get(), Ok(2));

    let getter = {
        let q = q.clone();
        spawn_blocked(move || q.get_timeout(DEADLINE))
    };
    q.put(3).unwrap();
    assert_eq!(
        within(DEADLINE, "the timed get", move || getter.join().unwrap()),
        Ok(3)
    );
}

#[test]
fn join_returns_once_every_item_is_done_and_not_before() {
    let q = Arc::new(Queue::new(0));
    for n in 0..3 {
        q.put(n).unwrap();
    }
    let joined = Arc::new(AtomicBool::new(false));
    let joiner = {
        let (q, joined) = (q.clone(), joined.clone());
        spawn_blocked(move || {
            q.join();
            joined.store(true, SeqCst);
        })
    };
    for _ in 0..3 {
        q.get().unwrap();
    }
    assert_eq!(q.unfinished_tasks(), 3, "get must not mark items done");
    q.task_done().unwrap();
    q.task_done().unwrap();
    assert!(!joined.load(SeqCst), "join returned with a task unfinished");
    assert!(!q.join_timeout(Duration::ZERO));
    q.task_done().unwrap();
    within(DEADLINE, "join after the last task_done", move || {
        joiner.join().unwrap()
    });
    assert!(joined.load(SeqCst));
    assert!(q.join_timeout(Duration::ZERO));
    // An idle queue joins at once (Python: join() on a fresh queue returns).
    within(DEADLINE, "join on an idle queue", move || q.join());
}

#[test]
fn task_done_called_too_many_times_is_an_error() {
    let q = PriorityQueue::new(0);
    assert_eq!(q.task_done(), Err(TaskDoneError));
    q.put(1).unwrap();
    q.get().unwrap();
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert_eq!(
        q.unfinished_tasks(),
        0,
        "a failed task_done changes nothing"
    );
}

#[test]
fn a_getter_blocked_on_an_empty_queue_wakes_with_shutdown() {
    for immediate in [false, true] {
        let q: Arc<Queue<u8>> = Arc::new(Queue::new(1));
        let getters: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                spawn_blocked(move || q.get())
            })
            .collect();
        q.shutdown(immediate);
        for getter in getters {
            let got = within(DEADLINE, "a blocked get after shutdown", move || {
                getter.join().unwrap()
            });
            assert_eq!(got, Err(GetError::ShutDown));
        }
    }
}

#[test]
fn a_putter_blocked_on_a_full_queue_wakes_with_shutdown_and_its_item() {
    for immediate in [false, true] {
        let q = Arc::new(Queue::new(1));
        q.put(String::from("first")).unwrap();
        let putters: Vec<_> = (0..3)
            .map(|n| {
                let q = q.clone();
                spawn_blocked(move || q.put(format!("blocked {n}")))
            })
            .collect();
        q.shutdown(immediate);
        for (n, putter) in putters.into_iter().enumerate() {
            let result = within(DEADLINE, "a blocked put after shutdown", move || {
                putter.join().unwrap()
            });
            assert_eq!(result, Err(PutError::ShutDown(format!("blocked {n}"))));
        }
        let expected = if immediate {
            Err(GetError::ShutDown)
        } else {
            Ok(String::from("first"))
        };
        assert_eq!(q.try_get(), expected);
    }
}

#[test]
fn non_immediate_shutdown_lets_getters_drain() {
    let q = Queue::new(0);
    for n in 1..=3 {
        q.put(n).unwrap();
    }
    q.shutdown(false);
    assert_eq!(q.put(4), Err(PutError::ShutDown(4)));
    assert_eq!(q.len(), 3);
    assert_eq!(q.get(), Ok(1));
    assert_eq!(q.get_timeout(SHORT), Ok(2));
    assert_eq!(q.try_get(), Ok(3));
    assert_eq!(q.get(), Err(GetError::ShutDown));
    // The drained items still need task_done for join.
    assert_eq!(q.unfinished_tasks(), 3);
    assert!(!q.join_timeout(Duration::ZERO));
    for _ in 0..3 {
        q.task_done().unwrap();
    }
    assert!(q.join_timeout(Duration::ZERO));
    q.shutdown(false); // again: harmless
    q.shutdown(true);
    assert!(q.is_shutdown());
}

/// Counts its drops.
struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn immediate_shutdown_drops_the_items_and_releases_join() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Arc::new(Queue::new(0));
    for _ in 0..3 {
        q.put(Tracked(drops.clone())).unwrap();
    }
    let joiner = {
        let q = q.clone();
        spawn_blocked(move || q.join())
    };
    assert!(
        !joiner.is_finished(),
        "join returned with 3 unfinished tasks"
    );
    q.shutdown(true);
    within(DEADLINE, "join after an immediate shutdown", move || {
        joiner.join().unwrap()
    });
    assert_eq!(drops.load(SeqCst), 3, "the items were not dropped");
    assert_eq!(q.len(), 0);
    assert_eq!(q.unfinished_tasks(), 0);
    assert!(matches!(q.try_get(), Err(GetError::ShutDown)));
}

#[test]
fn immediate_shutdown_keeps_join_waiting_for_items_already_taken() {
    // Python: only the dropped items count as done; an item a consumer holds
    // still needs its task_done.
    let q = Arc::new(Queue::new(0));
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert_eq!(q.get(), Ok(1));
    q.shutdown(true);
    assert_eq!(q.unfinished_tasks(), 1);
    assert!(!q.join_timeout(SHORT));
    q.task_done().unwrap();
    within(DEADLINE, "join once the taken item is done", move || {
        q.join()
    });
}

#[test]
fn immediate_shutdown_drops_items_outside_the_lock() {
    // An item whose Drop uses the queue: dropping it under the queue's lock
    // would deadlock.
    struct Reentrant(Arc<Queue<Reentrant>>, Arc<AtomicUsize>);
    impl Drop for Reentrant {
        fn drop(&mut self) {
            assert!(self.0.is_shutdown()); // takes the queue's lock
            assert_eq!(self.0.unfinished_tasks(), 0);
            self.1.fetch_add(1, SeqCst);
        }
    }
    let q = Arc::new(Queue::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        q.put(Reentrant(q.clone(), drops.clone())).unwrap();
    }
    let q2 = q.clone();
    within(
        DEADLINE,
        "immediate shutdown with re-entrant drops",
        move || q2.shutdown(true),
    );
    assert_eq!(drops.load(SeqCst), 2);
}

/// `producers` threads put `per_producer` items each into `q`, `consumers`
/// threads get until ShutDown; every item must come out exactly once.
fn stress<Q: Send + Sync + 'static>(
    q: Arc<Q>,
    put: fn(&Q, u64) -> Result<(), PutError<u64>>,
    get: fn(&Q) -> Result<u64, GetError>,
    shutdown: fn(&Q),
) {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: u64 = 10_000;
    let start = Arc::new(Barrier::new(PRODUCERS as usize + CONSUMERS));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, start) = (q.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for i in 0..PER_PRODUCER {
                    put(&q, p * PER_PRODUCER + i).unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (q, start) = (q.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut got = Vec::new();
                loop {
                    match get(&q) {
                        Ok(item) => got.push(item),
                        Err(GetError::ShutDown) => return got,
                        Err(GetError::Empty) => panic!("a blocking get reported Empty"),
                    }
                }
            })
        })
        .collect();
    let received = within(DEADLINE, "4 producers x 4 consumers", move || {
        for producer in producers {
            producer.join().unwrap();
        }
        shutdown(&q);
        consumers
            .into_iter()
            .map(|c| c.join().unwrap())
            .collect::<Vec<_>>()
    });
    let mut seen = vec![false; (PRODUCERS * PER_PRODUCER) as usize];
    for items in &received {
        for &item in items {
            assert!(!seen[item as usize], "item {item} received twice");
            seen[item as usize] = true;
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(missing, 0, "{missing} items were lost");
}

#[test]
fn stress_fifo_4_producers_4_consumers_bounded_8() {
    stress(
        Arc::new(Queue::new(8)),
        |q, n| q.put(n),
        |q| q.get(),
        |q| q.shutdown(false),
    );
}

#[test]
fn stress_lifo_with_timed_operations() {
    stress(
        Arc::new(LifoQueue::new(8)),
        |q, n| q.put_timeout(n, DEADLINE),
        |q| q.get_timeout(DEADLINE),
        |q| q.shutdown(false),
    );
}

#[test]
fn stress_priority_with_non_blocking_retries() {
    fn put(q: &PriorityQueue<u64>, mut n: u64) -> Result<(), PutError<u64>> {
        loop {
            match q.try_put(n) {
                Err(PutError::Full(back)) => {
                    n = back;
                    std::thread::yield_now();
                }
                other => return other,
            }
        }
    }
    fn get(q: &PriorityQueue<u64>) -> Result<u64, GetError> {
        loop {
            match q.try_get() {
                Err(GetError::Empty) => std::thread::yield_now(),
                other => return other,
            }
        }
    }
    stress(Arc::new(PriorityQueue::new(8)), put, get, |q| {
        q.shutdown(false)
    });
}

#[test]
fn fifo_keeps_each_producers_order() {
    // Per producer, a FIFO consumer sees increasing sequence numbers.
    let q = Arc::new(Queue::new(4));
    let producers: Vec<_> = (0..3u64)
        .map(|p| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..5_000u64 {
                    q.put((p, i)).unwrap();
                }
            })
        })
        .collect();
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || {
            let mut next = [0u64; 3];
            while let Ok((p, i)) = q.get() {
                assert_eq!(i, next[p as usize], "producer {p}'s items out of order");
                next[p as usize] += 1;
            }
            next
        })
    };
    let next = within(DEADLINE, "3 producers, 1 consumer", move || {
        for producer in producers {
            producer.join().unwrap();
        }
        q.shutdown(false);
        consumer.join().unwrap()
    });
    assert_eq!(next, [5_000; 3]);
}

#[test]
fn workers_with_join_like_python_docs() {
    // The queue module's documented pattern: workers get + task_done, the
    // main thread joins, then shuts down.
    let q = Arc::new(Queue::new(0));
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
    for n in 1..=100 {
        q.put(n).unwrap();
    }
    let q2 = q.clone();
    within(DEADLINE, "join while workers process", move || q2.join());
    assert_eq!(done.load(SeqCst), 5050);
    q.shutdown(false);
    within(DEADLINE, "workers exit on shutdown", move || {
        for w in workers {
            w.join().unwrap();
        }
    });
    eventually(DEADLINE, "queue is empty", || q.is_empty());
}
