//! Exercise 25, `async_producer_consumer`: the suite of seed program 3
//! with an event loop (producer and consumer tasks over `asyncio::Queue`).

/// Tests of `run(n: u32) -> Vec<String>` (a producer of `0..n` and a
/// consumer, two tasks of one event loop, logging `"produce: i"` /
/// `"consume: i"` in the seed's strict alternation) and of
/// `consumer(queue: Rc<asyncio::Queue<Option<u32>>>, log: Rc<RefCell<Vec<String>>>)`,
/// which consumes until `None`, calling `task_done` for every item taken.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::async_producer_consumer_suite!(crate::run, crate::consumer);
/// ```
#[macro_export]
macro_rules! async_producer_consumer_suite {
    ($run:path, $consumer:path) => {
        #[cfg(not(loom))]
        mod async_producer_consumer_suite {
            use std::cell::RefCell;
            use std::rc::Rc;

            use $crate::synclings::asyncio::{self, Queue};
            use $crate::synclings::testing::within;
            use $crate::DEADLINE;

            fn seed_log(n: u32) -> Vec<String> {
                (0..n)
                    .flat_map(|i| [format!("produce: {i}"), format!("consume: {i}")])
                    .collect()
            }

            #[test]
            fn ten_items_alternate_like_the_seed() {
                let log = within(DEADLINE, "run(10)", || $run(10));
                assert_eq!(log, seed_log(10));
            }

            #[test]
            fn no_item_no_line_and_the_run_ends() {
                let log = within(DEADLINE, "run(0)", || $run(0));
                assert!(log.is_empty(), "{log:?}");
            }

            #[test]
            fn a_long_run_keeps_the_strict_alternation() {
                let log = within(DEADLINE, "run(2000)", || $run(2000));
                assert_eq!(log, seed_log(2000));
            }

            /// The consumer alone: it takes every item, stops at `None`,
            /// and marks each one done (so `join` returns).
            #[test]
            fn the_consumer_stops_at_the_marker_and_marks_every_item_done() {
                let log = within(DEADLINE, "a consumer of a filled queue", || {
                    asyncio::run(async {
                        let queue = Rc::new(Queue::new(0));
                        for item in [Some(3), Some(1), None, Some(99)] {
                            queue.put(item).await.unwrap();
                        }
                        let log: Rc<RefCell<Vec<String>>> = Rc::default();
                        $consumer(queue.clone(), log.clone()).await;
                        assert_eq!(queue.len(), 1, "stopped at the marker: 99 is still queued");
                        assert_eq!(queue.try_get(), Ok(Some(99)));
                        queue.task_done().unwrap();
                        // Every item taken was marked done.
                        asyncio::wait_for(queue.join(), DEADLINE)
                            .await
                            .expect("join returns: task_done was called for every item");
                        let lines = log.borrow().clone();
                        lines
                    })
                });
                assert_eq!(log, ["consume: 3", "consume: 1"]);
            }

            /// Tasks, not threads: the run starts none.
            #[test]
            fn one_thread_runs_both_tasks() {
                let (before, during) = within(DEADLINE, "threads during a run", || {
                    let threads = || {
                        std::fs::read_to_string("/proc/self/status")
                            .expect("Linux /proc")
                            .lines()
                            .find_map(|l| l.strip_prefix("Threads:"))
                            .and_then(|n| n.trim().parse::<usize>().ok())
                            .expect("a Threads: line")
                    };
                    let before = threads();
                    let log = $run(50);
                    assert_eq!(log.len(), 100);
                    (before, threads())
                });
                assert!(
                    during <= before + 2,
                    "{before} threads before, {during} after"
                );
            }
        }
    };
}
