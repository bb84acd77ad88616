//! Exercise 12, `producer_consumer`: the suite of N producers and M
//! consumers over a queue, stopped by one poison pill per consumer.

/// Tests of a function `run(producers: usize, consumers: usize,
/// per_producer: u64, capacity: usize) -> Vec<Vec<u64>>` that starts
/// `producers` producer threads and `consumers` consumer threads sharing a
/// `synclings::Queue` of maxsize `capacity` (0 = unbounded), and returns what
/// each consumer received, in the order it received it.
///
/// Producer `p` (counting from 0) puts the items `p * per_producer + i` for
/// `i` in `0..per_producer`, in that order, so the items of a run are
/// exactly `0..producers * per_producer`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::producer_consumer_suite!(crate::run);
/// ```
#[macro_export]
macro_rules! producer_consumer_suite {
    ($run:path) => {
        #[cfg(not(loom))]
        mod producer_consumer_suite {
            use $crate::synclings::testing::within;
            use $crate::DEADLINE;

            /// Runs the subject under the deadline (a lost wake-up or a
            /// missing pill hangs it) and checks what every run must give:
            /// one list per consumer, every item exactly once, and each
            /// producer's items in the order it produced them.
            fn run_checked(
                producers: usize,
                consumers: usize,
                per_producer: u64,
                capacity: usize,
            ) -> Vec<Vec<u64>> {
                let shape = format!(
                    "run({producers} producers, {consumers} consumers, {per_producer} items each, capacity {capacity})"
                );
                let received = within(DEADLINE, &format!("{shape} returns: every consumer stops at its pill"), move || {
                    $run(producers, consumers, per_producer, capacity)
                });
                $crate::check_delivery(&shape, &received, producers, consumers, per_producer);
                received
            }

            #[test]
            fn one_producer_one_consumer_receives_everything_in_order() {
                let received = run_checked(1, 1, 50, 2);
                assert_eq!(received, vec![(0..50).collect::<Vec<u64>>()]);
            }

            #[test]
            fn two_producers_three_consumers_like_the_seed() {
                // Seed program 7: two producers of 5 items, three consumers,
                // an unbounded queue, three `None`s.
                run_checked(2, 3, 5, 0);
            }

            #[test]
            fn four_producers_four_consumers_lose_nothing_and_duplicate_nothing() {
                run_checked(4, 4, 500, 4);
            }

            #[test]
            fn a_queue_of_capacity_one_still_delivers_everything() {
                run_checked(3, 2, 200, 1);
            }

            #[test]
            fn every_consumer_stops_even_with_nothing_to_consume() {
                let received = run_checked(2, 3, 0, 1);
                assert!(received.iter().all(Vec::is_empty), "no item was produced: {received:?}");
            }

            #[test]
            fn more_consumers_than_items_all_stop() {
                let received = run_checked(1, 8, 3, 2);
                assert_eq!(received.iter().map(Vec::len).sum::<usize>(), 3);
            }
        }
    };
}
