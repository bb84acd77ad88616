//! The asyncio primitives and queues: FIFO order, the hand-over to a
//! waiter cancelled before it ran (the bpo-45997 class of bug), Python's
//! semantics (Event, Condition, Barrier, BoundedSemaphore, the 3.13 queue
//! shutdown), and use from plain threads.
#![cfg(all(unix, not(loom)))]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use synclings::asyncio::{
    self, Barrier, BoundedSemaphore, Condition, Event, LifoQueue, Lock, PriorityQueue, Queue,
    Semaphore,
};
use synclings::testing::{within, DEADLINE};
use synclings::{BrokenBarrier, GetError, PutError, TaskDoneError};

fn on_a_loop<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within(DEADLINE, what, f)
}

type Log = Rc<RefCell<Vec<&'static str>>>;

#[test]
fn the_lock_goes_to_waiters_first_come_first_served() {
    let order = on_a_loop("lock FIFO", || {
        asyncio::run(async {
            let lock = Rc::new(Lock::new(Vec::new()));
            let held = lock.acquire().await;
            let tasks: Vec<_> = ["a", "b", "c"]
                .into_iter()
                .map(|name| {
                    let lock = lock.clone();
                    asyncio::create_task(async move { lock.acquire().await.push(name) })
                })
                .collect();
            asyncio::yield_now().await; // all three queue, in order
            assert!(lock.try_acquire().is_none(), "no barging past waiters");
            drop(held);
            for task in tasks {
                task.await.unwrap();
            }
            let order = lock.acquire().await.clone();
            order
        })
    });
    assert_eq!(order, ["a", "b", "c"]);
}

/// bpo-45997: the lock is handed to B, B is cancelled before it runs; the
/// lock must go on to C, not stay taken by nobody.
#[test]
fn a_lock_handed_to_a_cancelled_waiter_passes_to_the_next() {
    let got = on_a_loop("lock hand-over to a cancelled waiter", || {
        asyncio::run(async {
            let lock = Rc::new(Lock::new(()));
            let log: Log = Rc::default();
            let held = lock.acquire().await;
            let spawn = |name: &'static str| {
                let (lock, log) = (lock.clone(), log.clone());
                asyncio::create_task(async move {
                    let _guard = lock.acquire().await;
                    log.borrow_mut().push(name);
                })
            };
            let b = spawn("b");
            let c = spawn("c");
            asyncio::yield_now().await;
            drop(held); // handed to b, which has not run yet
            b.cancel();
            assert_eq!(b.await, Err(asyncio::TaskError::Cancelled));
            c.await.unwrap();
            assert!(lock.try_acquire().is_some(), "the lock is free at the end");
            let got = log.borrow().clone();
            got
        })
    });
    assert_eq!(got, ["c"]);
}

#[test]
fn a_semaphore_permit_handed_to_a_cancelled_waiter_is_not_lost() {
    let (available, served) = on_a_loop("semaphore hand-over", || {
        asyncio::run(async {
            let sem = Rc::new(Semaphore::new(1));
            let held = sem.acquire().await;
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let sem = sem.clone();
                    asyncio::create_task(async move { sem.acquire().await.forget() })
                })
                .collect();
            asyncio::yield_now().await;
            assert_eq!(sem.waiters(), 3);
            drop(held); // handed to waiter 0
            waiters[0].cancel();
            sem.release(1); // one more: for waiter 1 or 2
            let mut served = 0;
            for waiter in waiters {
                if waiter.await.is_ok() {
                    served += 1;
                }
            }
            (sem.available(), served)
        })
    });
    // Two permits went out (to waiters 1 and 2), none was lost.
    assert_eq!((available, served), (0, 2));
}

#[test]
fn bounded_semaphore_refuses_an_over_release_and_semaphore_works_from_threads() {
    let bounded = BoundedSemaphore::new(2);
    let err = bounded.release(1).unwrap_err();
    assert_eq!((err.released(), err.available(), err.bound()), (1, 2, 2));
    assert!(err.to_string().contains("released too many times"), "{err}");
    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    let got = on_a_loop("a release from a plain thread", move || {
        asyncio::run(async move {
            let releaser = std::thread::spawn({
                let s = s.clone();
                move || s.release(1)
            });
            s.acquire().await.forget();
            releaser.join().unwrap();
            s.available()
        })
    });
    assert_eq!(got, 0);
    assert_eq!(sem.available(), 0);
}

#[test]
fn event_set_wakes_every_waiter_even_if_cleared_before_they_run() {
    let woken = on_a_loop("event", || {
        asyncio::run(async {
            let event = Rc::new(Event::new());
            let waiters: Vec<_> = (0..5)
                .map(|_| {
                    let event = event.clone();
                    asyncio::create_task(async move { event.wait().await })
                })
                .collect();
            asyncio::yield_now().await;
            event.set();
            event.clear();
            let mut woken = 0;
            for waiter in waiters {
                waiter.await.unwrap();
                woken += 1;
            }
            assert!(!event.is_set());
            woken
        })
    });
    assert_eq!(woken, 5);
}

#[test]
fn condition_notify_is_fifo_and_a_cancelled_notified_waiter_passes_it_on() {
    let log = on_a_loop("condition", || {
        asyncio::run(async {
            let cond = Rc::new(Condition::new(0u32));
            let log: Log = Rc::default();
            let spawn = |name: &'static str| {
                let (cond, log) = (cond.clone(), log.clone());
                asyncio::create_task(async move {
                    let guard = cond.lock().await.wait().await;
                    log.borrow_mut().push(name);
                    drop(guard);
                })
            };
            let tasks = [spawn("a"), spawn("b"), spawn("c")];
            asyncio::sleep(Duration::from_millis(1)).await;
            assert_eq!(cond.waiters(), 3);
            let guard = cond.lock().await;
            guard.notify(1); // a
            drop(guard);
            let [a, b, c] = tasks;
            a.await.unwrap();
            let guard = cond.lock().await;
            guard.notify(1); // b, cancelled before it runs: c gets it
            b.cancel();
            drop(guard);
            c.await.unwrap();
            assert_eq!(b.await, Err(asyncio::TaskError::Cancelled));
            let log = log.borrow().clone();
            log
        })
    });
    assert_eq!(log, ["a", "c"]);
}

#[test]
fn condition_wait_for_checks_the_predicate_under_the_lock() {
    let value = on_a_loop("wait_for", || {
        asyncio::run(async {
            let cond = Rc::new(Condition::new(0u32));
            let waiter = asyncio::create_task({
                let cond = cond.clone();
                async move { *cond.lock().await.wait_for(|n| *n >= 3).await }
            });
            for _ in 0..3 {
                asyncio::yield_now().await;
                let mut n = cond.lock().await;
                *n += 1;
                n.notify_all();
            }
            waiter.await.unwrap()
        })
    });
    assert_eq!(value, 3);
}

#[test]
fn barrier_gives_distinct_indexes_and_abort_breaks_it() {
    let (mut indexes, broken) = on_a_loop("barrier", || {
        asyncio::run(async {
            let barrier = Rc::new(Barrier::new(3));
            let mut indexes = Vec::new();
            for _round in 0..2 {
                let tasks: Vec<_> = (0..3)
                    .map(|_| {
                        let barrier = barrier.clone();
                        asyncio::create_task(async move { barrier.wait().await })
                    })
                    .collect();
                for task in tasks {
                    indexes.push(task.await.unwrap().unwrap());
                }
            }
            let waiter = asyncio::create_task({
                let barrier = barrier.clone();
                async move { barrier.wait().await }
            });
            asyncio::yield_now().await;
            barrier.abort();
            let broken = (
                waiter.await.unwrap(),
                barrier.wait().await,
                barrier.is_broken(),
            );
            barrier.reset();
            assert!(!barrier.is_broken());
            (indexes, broken)
        })
    });
    indexes.sort();
    assert_eq!(indexes, [0, 0, 1, 1, 2, 2]);
    assert_eq!(broken, (Err(BrokenBarrier), Err(BrokenBarrier), true));
    assert!(Barrier::try_new(0).is_err());
}

#[test]
fn a_cancelled_barrier_waiter_leaves_the_round() {
    let index = on_a_loop("barrier leave", || {
        asyncio::run(async {
            let barrier = Rc::new(Barrier::new(2));
            let quitter = asyncio::create_task({
                let barrier = barrier.clone();
                async move { barrier.wait().await }
            });
            asyncio::yield_now().await;
            assert_eq!(barrier.n_waiting(), 1);
            quitter.cancel();
            let _ = quitter.await;
            assert_eq!(barrier.n_waiting(), 0);
            // Two fresh parties are needed again: one alone must wait.
            let alone = asyncio::wait_for(barrier.wait(), Duration::from_millis(10)).await;
            assert!(alone.is_err(), "one party passed a barrier of two");
            let other = asyncio::create_task({
                let barrier = barrier.clone();
                async move { barrier.wait().await }
            });
            let mine = barrier.wait().await.unwrap();
            mine + other.await.unwrap().unwrap()
        })
    });
    assert_eq!(index, 1, "indexes 0 and 1");
}

#[test]
fn the_three_queues_order_their_items() {
    let (fifo, lifo, prio) = on_a_loop("queue orders", || {
        asyncio::run(async {
            let (f, l, p) = (Queue::new(0), LifoQueue::new(0), PriorityQueue::new(0));
            for x in [3, 1, 2] {
                f.put(x).await.unwrap();
                l.put(x).await.unwrap();
                p.put(x).await.unwrap();
            }
            let mut out = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..3 {
                out.0.push(f.get().await.unwrap());
                out.1.push(l.get().await.unwrap());
                out.2.push(p.get().await.unwrap());
            }
            out
        })
    });
    assert_eq!(
        (fifo, lifo, prio),
        (vec![3, 1, 2], vec![2, 1, 3], vec![1, 2, 3])
    );
}

#[test]
fn a_full_queue_blocks_put_until_a_get_and_join_waits_for_task_done() {
    let log = on_a_loop("bounded queue", || {
        asyncio::run(async {
            let queue = Rc::new(Queue::new(1));
            let log: Log = Rc::default();
            queue.put("first").await.unwrap();
            assert!(matches!(queue.try_put("x"), Err(PutError::Full("x"))));
            let putter = asyncio::create_task({
                let (queue, log) = (queue.clone(), log.clone());
                async move {
                    queue.put("second").await.unwrap();
                    log.borrow_mut().push("put second");
                }
            });
            asyncio::yield_now().await;
            assert!(!putter.is_done(), "put waits while the queue is full");
            log.borrow_mut().push("get first");
            assert_eq!(queue.get().await.unwrap(), "first");
            putter.await.unwrap();
            assert_eq!(queue.get().await.unwrap(), "second");
            let joiner = asyncio::create_task({
                let (queue, log) = (queue.clone(), log.clone());
                async move {
                    queue.join().await;
                    log.borrow_mut().push("joined");
                }
            });
            asyncio::yield_now().await;
            queue.task_done().unwrap();
            log.borrow_mut().push("one done");
            queue.task_done().unwrap();
            joiner.await.unwrap();
            assert_eq!(queue.task_done(), Err(TaskDoneError));
            let log = log.borrow().clone();
            log
        })
    });
    assert_eq!(log, ["get first", "put second", "one done", "joined"]);
}

#[test]
fn shutdown_wakes_getters_after_the_items_and_refuses_puts() {
    let results = on_a_loop("queue shutdown", || {
        asyncio::run(async {
            let queue = Rc::new(Queue::new(0));
            let getter = asyncio::create_task({
                let queue = queue.clone();
                async move { queue.get().await }
            });
            asyncio::yield_now().await;
            queue.shutdown(false);
            let woken = getter.await.unwrap();
            let refused = queue.put(1).await;
            let drained = Queue::new(0);
            drained.put(5).await.unwrap();
            drained.shutdown(false);
            let left = (drained.get().await, drained.get().await);
            let immediate = Queue::new(0);
            immediate.put(9).await.unwrap();
            immediate.shutdown(true);
            immediate.join().await; // the dropped item counts as done
            (woken, refused, left, immediate.is_empty())
        })
    });
    assert_eq!(results.0, Err(GetError::ShutDown));
    assert!(matches!(results.1, Err(PutError::ShutDown(1))));
    assert_eq!(results.2, (Ok(5), Err(GetError::ShutDown)));
    assert!(results.3);
}

#[test]
fn an_item_is_not_lost_when_its_notified_getter_is_cancelled() {
    let got = on_a_loop("queue getter cancelled after the put", || {
        asyncio::run(async {
            let queue = Rc::new(Queue::new(0));
            let spawn = || {
                let queue = queue.clone();
                asyncio::create_task(async move { queue.get().await.unwrap() })
            };
            let (first, second) = (spawn(), spawn());
            asyncio::yield_now().await;
            queue.put(42).await.unwrap(); // notifies `first`
            first.cancel();
            asyncio::wait_for(second, DEADLINE)
                .await
                .expect("the second getter got the item")
        })
    });
    assert_eq!(got, Ok(42));
}

/// Seed program 3 with an event loop: the producer and the consumer are
/// tasks, the queue hands the items over, `join` waits for the last one.
#[test]
fn producer_and_consumer_tasks_over_a_bounded_queue() {
    let consumed = on_a_loop("producer-consumer", || {
        asyncio::run(async {
            let queue = Rc::new(Queue::new(3));
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let queue = queue.clone();
                    asyncio::create_task(async move {
                        let mut got = Vec::new();
                        while let Ok(item) = queue.get().await {
                            got.push(item);
                            queue.task_done().unwrap();
                        }
                        got
                    })
                })
                .collect();
            for i in 0..100 {
                queue.put(i).await.unwrap();
            }
            queue.join().await;
            queue.shutdown(false);
            let mut all = Vec::new();
            for consumer in consumers {
                all.extend(consumer.await.unwrap());
            }
            all.sort();
            all
        })
    });
    assert_eq!(consumed, (0..100).collect::<Vec<_>>());
}
