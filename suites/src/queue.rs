//! Exercise 11, `queue`: the suite of a bounded `queue.Queue`, after
//! CPython's `Lib/test/test_queue.py` (3.13, shutdown included).

/// Tests (and, under `--cfg loom`, loom models) of a generic FIFO
/// `Queue<T>` with the library's API: `new(maxsize)`, `put`, `put_timeout`,
/// `try_put` (→ `Result<(), synclings::PutError<T>>`), `get`, `get_timeout`,
/// `try_get` (→ `Result<T, synclings::GetError>`), `len`, `is_empty`,
/// `is_full`, `maxsize`, `task_done` (→ `Result<(),
/// synclings::TaskDoneError>`), `join`, `shutdown(immediate)` and
/// `is_shutdown`.
///
/// Pass the absolute path of the generic type, without its parameter (the
/// suite instantiates it with several item types):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::queue_suite!(crate::Queue);
/// ```
#[macro_export]
macro_rules! queue_suite {
    ($($queue:tt)+) => {
        #[cfg(not(loom))]
        mod queue_suite {
            use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
            use std::sync::Arc;
            use std::thread::JoinHandle;
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::{current_tid, wait_until_parked, within};
            use $crate::synclings::{GetError, PutError, TaskDoneError};
            use $crate::DEADLINE;

            type Subject<T> = $($queue)+<T>;

            /// A timeout the "must time out" checks wait for.
            const SHORT: Duration = Duration::from_millis(50);

            /// Runs `call` on the shared queue under the deadline: a call
            /// that must not block fails the test, instead of hanging it, if
            /// it does.
            fn step<T, R>(
                q: &Arc<Subject<T>>,
                what: &str,
                call: impl FnOnce(&Subject<T>) -> R + Send + 'static,
            ) -> R
            where
                T: Send + 'static,
                R: Send + 'static,
            {
                let q = Arc::clone(q);
                within(DEADLINE, what, move || call(&q))
            }

            /// A thread asleep in a call on the queue, started by `blocked`.
            struct Blocked<R> {
                handle: JoinHandle<R>,
                tid: u32,
            }

            impl<R: Send + 'static> Blocked<R> {
                /// Checks that the thread is (still, or again) asleep: a
                /// thread whose call returned is never parked.
                fn still_blocked(&self, what: &str) {
                    wait_until_parked(DEADLINE, what, self.tid);
                    assert!(!self.handle.is_finished(), "{what}: the call returned");
                }

                /// Waits, under the deadline, for the call to return.
                fn finish(self, what: &str) -> R {
                    let handle = self.handle;
                    within(DEADLINE, what, move || {
                        handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                }
            }

            /// Starts `call` on the shared queue on a new thread and returns
            /// once that thread is asleep in it: `call` must block.
            fn blocked<T, R>(
                q: &Arc<Subject<T>>,
                what: &str,
                call: impl FnOnce(&Subject<T>) -> R + Send + 'static,
            ) -> Blocked<R>
            where
                T: Send + 'static,
                R: Send + 'static,
            {
                let (tx, rx) = std::sync::mpsc::channel();
                let q = Arc::clone(q);
                let handle = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    call(&q)
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the thread starts");
                let blocked = Blocked { handle, tid };
                blocked.still_blocked(what);
                blocked
            }

            #[test]
            fn sizes_follow_python() {
                let q = <Subject<char>>::new(2);
                assert_eq!(q.maxsize(), 2, "maxsize() is the bound given to new");
                assert!(q.is_empty(), "a new queue is empty");
                assert!(!q.is_full(), "a new queue of maxsize 2 is not full");
                assert_eq!(q.len(), 0);
                q.try_put('a').expect("room for a first item");
                assert_eq!(q.len(), 1);
                assert!(!q.is_empty() && !q.is_full(), "1 item of 2: neither empty nor full");
                q.try_put('b').expect("room for a second item");
                assert_eq!(q.len(), 2);
                assert!(q.is_full(), "2 items of 2: full");
                assert_eq!(q.try_get(), Ok('a'));
                assert_eq!(q.len(), 1);
                assert!(!q.is_full(), "a get makes room");
            }

            #[test]
            fn items_come_out_in_fifo_order() {
                let q = Arc::new(<Subject<u32>>::new(0));
                step(&q, "put 100 items into an unbounded queue", |q| {
                    for n in 0..100 {
                        q.put(n).expect("an open queue accepts the item");
                    }
                });
                let got = step(&q, "get 100 items from a queue holding 100", |q| {
                    (0..100).map(|_| q.get().expect("an item is there")).collect::<Vec<_>>()
                });
                assert_eq!(got, (0..100).collect::<Vec<_>>(), "first in, first out");
                assert!(q.is_empty());
            }

            #[test]
            fn maxsize_zero_means_unbounded() {
                let q = <Subject<usize>>::new(0);
                assert_eq!(q.maxsize(), 0);
                for n in 0..1000 {
                    assert_eq!(q.try_put(n), Ok(()), "an unbounded queue always has room");
                }
                assert_eq!(q.len(), 1000);
                assert!(!q.is_full(), "an unbounded queue is never full");
            }

            #[test]
            fn put_nowait_on_a_full_queue_fails_with_full_and_hands_the_item_back() {
                let q = <Subject<String>>::new(1);
                assert_eq!(q.try_put("first".to_string()), Ok(()));
                assert_eq!(
                    q.try_put("second".to_string()),
                    Err(PutError::Full("second".to_string())),
                    "queue.Full, with the item handed back"
                );
                assert_eq!(q.len(), 1, "a failed put changes nothing");
                assert_eq!(q.try_get(), Ok("first".to_string()));
            }

            #[test]
            fn get_nowait_on_an_empty_queue_fails_with_empty() {
                let q = <Subject<u8>>::new(3);
                assert_eq!(q.try_get(), Err(GetError::Empty), "queue.Empty");
                q.try_put(7).unwrap();
                assert_eq!(q.try_get(), Ok(7));
                assert_eq!(q.try_get(), Err(GetError::Empty), "empty again after the get");
            }

            #[test]
            fn timed_put_and_get_give_up_no_earlier_than_their_timeout() {
                let q = Arc::new(<Subject<u32>>::new(1));
                q.try_put(1).unwrap();
                let (put, waited) = step(&q, "put_timeout on a full queue", |q| {
                    let t0 = Instant::now();
                    (q.put_timeout(2, SHORT), t0.elapsed())
                });
                assert_eq!(put, Err(PutError::Full(2)), "no room came: queue.Full");
                assert!(waited >= SHORT, "put_timeout gave up after {waited:?}, before {SHORT:?}");
                assert_eq!(q.try_get(), Ok(1));
                let (got, waited) = step(&q, "get_timeout on an empty queue", |q| {
                    let t0 = Instant::now();
                    (q.get_timeout(SHORT), t0.elapsed())
                });
                assert_eq!(got, Err(GetError::Empty), "no item came: queue.Empty");
                assert!(waited >= SHORT, "get_timeout gave up after {waited:?}, before {SHORT:?}");
            }

            #[test]
            fn timed_put_and_get_succeed_when_room_or_an_item_is_there() {
                let q = Arc::new(<Subject<u32>>::new(1));
                assert_eq!(step(&q, "put_timeout with room", |q| q.put_timeout(5, DEADLINE)), Ok(()));
                assert_eq!(step(&q, "get_timeout with an item", |q| q.get_timeout(DEADLINE)), Ok(5));
                // A timed getter asleep on the empty queue wakes for a put.
                let getter = blocked(&q, "get_timeout(DEADLINE) on an empty queue blocks", |q| {
                    q.get_timeout(DEADLINE)
                });
                assert_eq!(q.try_put(6), Ok(()));
                assert_eq!(getter.finish("the timed getter wakes for the put"), Ok(6));
            }

            #[test]
            fn get_blocks_until_an_item_is_put() {
                let q = Arc::new(<Subject<&'static str>>::new(2));
                let getter = blocked(&q, "get() on an empty queue blocks", |q| q.get());
                assert_eq!(q.try_put("item"), Ok(()));
                assert_eq!(getter.finish("the blocked getter wakes for the put"), Ok("item"));
                assert!(q.is_empty());
            }

            #[test]
            fn put_blocks_until_a_get_makes_room() {
                let q = Arc::new(<Subject<u32>>::new(1));
                q.try_put(1).unwrap();
                let put_returned = Arc::new(AtomicBool::new(false));
                let flag = put_returned.clone();
                let putter = blocked(&q, "put() on a full queue blocks", move |q| {
                    let result = q.put(2);
                    flag.store(true, SeqCst);
                    result
                });
                assert!(!put_returned.load(SeqCst), "put returned while the queue was full");
                assert_eq!(q.len(), 1, "the blocked put added nothing");
                assert_eq!(q.try_get(), Ok(1));
                assert_eq!(putter.finish("the blocked putter wakes for the get"), Ok(()));
                assert_eq!(q.try_get(), Ok(2));
            }

            #[test]
            fn join_returns_only_once_every_item_is_done() {
                let q = Arc::new(<Subject<u32>>::new(0));
                step(&q, "join() with nothing ever put returns at once", |q| q.join());
                q.try_put(1).unwrap();
                q.try_put(2).unwrap();
                let joiner = blocked(&q, "join() with 2 unfinished items blocks", |q| q.join());
                assert_eq!(q.try_get(), Ok(1));
                assert_eq!(q.task_done(), Ok(()));
                // One item is still unfinished: the joiner must still (or
                // again, after a spurious wake-up) be asleep.
                joiner.still_blocked("join() keeps waiting while an item is not done");
                assert_eq!(q.try_get(), Ok(2));
                joiner.still_blocked("join() keeps waiting for an item got but not done");
                assert_eq!(q.task_done(), Ok(()));
                joiner.finish("join() returns after the last task_done");
            }

            #[test]
            fn task_done_called_too_many_times_is_an_error() {
                let q = Arc::new(<Subject<u32>>::new(0));
                assert_eq!(q.task_done(), Err(TaskDoneError), "nothing was put: ValueError in Python");
                q.try_put(1).unwrap();
                assert_eq!(q.try_get(), Ok(1));
                assert_eq!(q.task_done(), Ok(()));
                assert_eq!(q.task_done(), Err(TaskDoneError), "one put, two task_done");
                // The failed calls changed nothing: one more item, one more done.
                q.try_put(2).unwrap();
                assert_eq!(q.try_get(), Ok(2));
                assert_eq!(q.task_done(), Ok(()));
                step(&q, "join() after every item was done", |q| q.join());
            }

            #[test]
            fn shutdown_wins_over_full_and_empty() {
                let q = Arc::new(<Subject<u32>>::new(1));
                assert!(!q.is_shutdown(), "a new queue is not shut down");
                q.try_put(1).unwrap();
                q.shutdown(false);
                assert!(q.is_shutdown());
                assert_eq!(q.try_put(2), Err(PutError::ShutDown(2)), "ShutDown, not Full");
                assert_eq!(step(&q, "put() after shutdown", |q| q.put(3)), Err(PutError::ShutDown(3)));
                assert_eq!(
                    step(&q, "put_timeout() after shutdown", |q| q.put_timeout(4, SHORT)),
                    Err(PutError::ShutDown(4))
                );
                assert_eq!(q.try_get(), Ok(1), "a non-immediate shutdown lets getters drain");
                assert_eq!(q.try_get(), Err(GetError::ShutDown), "ShutDown, not Empty");
                assert_eq!(step(&q, "get() after shutdown", |q| q.get()), Err(GetError::ShutDown));
                assert_eq!(
                    step(&q, "get_timeout() after shutdown", |q| q.get_timeout(SHORT)),
                    Err(GetError::ShutDown)
                );
            }

            #[test]
            fn a_blocked_getter_wakes_with_shutdown() {
                let q = Arc::new(<Subject<u32>>::new(1));
                let getter = blocked(&q, "get() on an empty queue blocks", |q| q.get());
                q.shutdown(false);
                assert_eq!(getter.finish("the blocked getter wakes for the shutdown"), Err(GetError::ShutDown));
            }

            #[test]
            fn a_blocked_putter_wakes_with_shutdown_and_gets_its_item_back() {
                let q = Arc::new(<Subject<String>>::new(1));
                q.try_put("queued".to_string()).unwrap();
                let putter = blocked(&q, "put() on a full queue blocks", |q| q.put("blocked".to_string()));
                q.shutdown(false);
                assert_eq!(
                    putter.finish("the blocked putter wakes for the shutdown"),
                    Err(PutError::ShutDown("blocked".to_string()))
                );
                assert_eq!(q.try_get(), Ok("queued".to_string()), "the queued item stays for the getters");
            }

            #[test]
            fn immediate_shutdown_drops_the_items_and_releases_join() {
                let token = Arc::new(());
                let q = Arc::new(<Subject<Arc<()>>>::new(0));
                for _ in 0..3 {
                    q.try_put(token.clone()).unwrap();
                }
                let joiner = blocked(&q, "join() with 3 unfinished items blocks", |q| q.join());
                q.shutdown(true);
                joiner.finish("join() returns: the dropped items count as done");
                assert_eq!(Arc::strong_count(&token), 1, "shutdown(immediate=True) drops the items");
                assert!(q.is_empty());
                assert_eq!(q.try_get(), Err(GetError::ShutDown));
            }

            #[test]
            fn immediate_shutdown_still_waits_for_items_already_taken() {
                let q = Arc::new(<Subject<u32>>::new(0));
                q.try_put(1).unwrap();
                q.try_put(2).unwrap();
                assert_eq!(q.try_get(), Ok(1)); // taken, not yet done
                q.shutdown(true);
                let joiner = blocked(&q, "join() still blocks: the taken item is not done", |q| q.join());
                assert_eq!(q.task_done(), Ok(()));
                joiner.finish("join() returns after the taken item's task_done");
                assert_eq!(q.task_done(), Err(TaskDoneError), "the dropped item was counted as done");
            }

            #[test]
            fn many_producers_and_consumers_lose_nothing_and_duplicate_nothing() {
                const PRODUCERS: u32 = 3;
                const PER_PRODUCER: u32 = 300;
                let q = Arc::new(<Subject<u32>>::new(2));
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let q = q.clone();
                        std::thread::spawn(move || {
                            for i in 0..PER_PRODUCER {
                                q.put(p * PER_PRODUCER + i).expect("the queue is open");
                            }
                        })
                    })
                    .collect();
                let consumers: Vec<_> = (0..3)
                    .map(|_| {
                        let q = q.clone();
                        std::thread::spawn(move || {
                            let mut got = Vec::new();
                            while let Ok(item) = q.get() {
                                got.push(item);
                                q.task_done().expect("one task_done per get");
                            }
                            got
                        })
                    })
                    .collect();
                within(DEADLINE, "3 producers put 900 items through a queue of maxsize 2", move || {
                    producers.into_iter().for_each(|p| p.join().unwrap())
                });
                step(&q, "join() once the consumers marked every item done", |q| q.join());
                q.shutdown(false);
                let mut all = within(DEADLINE, "the consumers stop at the shutdown", move || {
                    consumers.into_iter().flat_map(|c| c.join().unwrap()).collect::<Vec<_>>()
                });
                all.sort_unstable();
                assert_eq!(all, (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>(), "every item exactly once");
            }
        }

        #[cfg(loom)]
        mod queue_loom {
            use $crate::synclings::sync::{thread, Arc};
            use $crate::synclings::GetError;

            type Subject<T> = $($queue)+<T>;

            /// Lost wake-up, both ways: with maxsize 1 the producer's second
            /// put must sleep until the consumer's first get, and the
            /// consumer may sleep before either put. A wake-up slipping
            /// between a check and its sleep leaves a thread asleep for
            /// ever: loom reports the deadlock.
            #[test]
            fn put_and_get_at_capacity_one_lose_no_wake_up() {
                $crate::loom::model(|| {
                    let q = Arc::new(<Subject<u32>>::new(1));
                    let q2 = q.clone();
                    let producer = thread::spawn(move || {
                        q2.put(1).unwrap();
                        q2.put(2).unwrap();
                    });
                    assert_eq!(q.get(), Ok(1));
                    assert_eq!(q.get(), Ok(2));
                    producer.join().unwrap();
                    assert!(q.is_empty());
                });
            }

            /// A shutdown racing a getter on an empty queue: whether the
            /// getter checks before or after the shutdown, or sleeps first,
            /// it must return `ShutDown` (nobody else would wake it).
            #[test]
            fn shutdown_wakes_a_blocked_get() {
                $crate::loom::model(|| {
                    let q = Arc::new(<Subject<u32>>::new(1));
                    let q2 = q.clone();
                    let getter = thread::spawn(move || q2.get());
                    q.shutdown(false);
                    assert_eq!(getter.join().unwrap(), Err(GetError::ShutDown));
                    assert!(q.is_shutdown());
                });
            }

            /// The last `task_done` racing `join`: join must wake (no lost
            /// wake-up on `all_tasks_done`) and not before the get.
            #[test]
            fn the_last_task_done_releases_join() {
                $crate::loom::model(|| {
                    let q = Arc::new(<Subject<u32>>::new(0));
                    q.put(1).unwrap();
                    let q2 = q.clone();
                    let consumer = thread::spawn(move || {
                        assert_eq!(q2.get(), Ok(1));
                        q2.task_done().unwrap();
                    });
                    q.join();
                    assert!(q.is_empty(), "join returned before the item was taken");
                    consumer.join().unwrap();
                });
            }
        }
    };
}
