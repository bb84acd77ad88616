//! Exercise 15, `process_queue`: the suite of producer and consumer
//! processes over a process `Queue`, one sentinel per consumer.

/// Tests of producer and consumer *processes* sharing a
/// `synclings::ipc::Queue`, stopped by one `None` sentinel per consumer.
///
/// The exercise provides:
///
/// - `ENTRIES: &[Entry]`, its table for `ipc::init`, listing the child
///   entries under these names (the tests start them with `Process::spawn`):
///   - `producer((jobs, id, per_producer): (Queue<Option<u64>>, u64, u64))`:
///     puts `Some(id * per_producer + i)` for `i` in `0..per_producer`, in
///     order, and no sentinel;
///   - `consumer((jobs, results, id): (Queue<Option<u64>>, Queue<(u64,
///     Vec<u64>)>, u64))`: takes items until the first `None`, then puts
///     `(id, what it took, in order)` on `results`;
/// - `run(producers: usize, consumers: usize, per_producer: u64, capacity:
///   usize) -> Vec<Vec<u64>>`: the orchestration (a jobs queue of maxsize
///   `capacity`, 0 = unbounded; the processes; one sentinel per consumer once
///   every producer is done), returning what consumer `c` took at index `c`.
///
/// Like [`process_pipe_suite!`](crate::process_pipe_suite), it brings the
/// test build's `main` (`ipc::init`, then `synclings::testing::run_tests`):
/// the exercise's `[[bin]]` has `harness = false` and its own `main` is
/// `#[cfg(not(test))]`. Under `--cfg loom` it runs no test.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::process_queue_suite! {
///     entries: crate::ENTRIES,
///     run: crate::run,
/// }
/// ```
#[macro_export]
macro_rules! process_queue_suite {
    (entries: $entries:path, run: $run:path $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            // In a child: runs the requested entry and exits.
            $crate::synclings::ipc::init($entries);
            #[cfg(not(loom))]
            let tests = process_queue_suite::TESTS;
            // Loom cannot model processes: no test runs under `--cfg loom`
            // (the subject is still named, so that nothing is unused).
            #[cfg(loom)]
            let tests: &[$crate::synclings::testing::Test] = {
                let _ = $run;
                &[]
            };
            $crate::synclings::testing::run_tests(tests)
        }

        #[cfg(not(loom))]
        mod process_queue_suite {
            use $crate::synclings::ipc::{GetError, Process, Queue};
            use $crate::synclings::testing::{within, Test};
            use $crate::{joined, started, DEADLINE};

            pub(crate) const TESTS: &[Test] = &[
                (
                    "process_queue_suite::producer_puts_its_items_in_order_and_no_sentinel",
                    producer_puts_its_items_in_order_and_no_sentinel,
                ),
                (
                    "process_queue_suite::consumer_stops_at_the_first_sentinel_and_reports_what_it_took",
                    consumer_stops_at_the_first_sentinel_and_reports_what_it_took,
                ),
                (
                    "process_queue_suite::one_producer_one_consumer_receives_everything_in_order",
                    one_producer_one_consumer_receives_everything_in_order,
                ),
                (
                    "process_queue_suite::two_producers_three_consumers_like_the_seed",
                    two_producers_three_consumers_like_the_seed,
                ),
                (
                    "process_queue_suite::every_consumer_stops_even_with_nothing_to_consume",
                    every_consumer_stops_even_with_nothing_to_consume,
                ),
                (
                    "process_queue_suite::a_queue_of_capacity_one_still_delivers_everything",
                    a_queue_of_capacity_one_still_delivers_everything,
                ),
            ];


            /// Runs the subject under the deadline (a missing sentinel or a
            /// lost message hangs it) and checks what every run must give:
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
                let received = within(
                    DEADLINE,
                    &format!("{shape} returns: every consumer stops at its sentinel and every process is joined"),
                    move || $run(producers, consumers, per_producer, capacity),
                );
                $crate::check_delivery(&shape, &received, producers, consumers, per_producer);
                received
            }

            fn producer_puts_its_items_in_order_and_no_sentinel() {
                let jobs = Queue::<Option<u64>>::new(0).unwrap();
                let child = started("producer", Process::spawn("producer", &(&jobs, 2u64, 5u64)));
                // Five small messages fit in the queue: the producer can
                // finish before anyone reads (and a dead one fails here fast).
                joined(child, "the producer");
                let got: Vec<Option<u64>> = std::iter::from_fn(|| jobs.try_get().ok()).collect();
                assert_eq!(
                    got,
                    [Some(10), Some(11), Some(12), Some(13), Some(14)],
                    "producer 2 of 5 items puts Some(2 * 5 + i) for i in 0..5, in order, and \
                     nothing else (the sentinels are main's job)"
                );
            }

            fn consumer_stops_at_the_first_sentinel_and_reports_what_it_took() {
                let jobs = Queue::<Option<u64>>::new(0).unwrap();
                let results = Queue::<(u64, Vec<u64>)>::new(0).unwrap();
                for job in [Some(1), Some(2), Some(3), None, Some(99)] {
                    jobs.put(&job).unwrap();
                }
                let child = started(
                    "consumer",
                    Process::spawn("consumer", &(&jobs, &results, 7u64)),
                );
                // Its one small report fits in the results queue: the
                // consumer can exit before anyone reads it.
                joined(child, "the consumer, after its sentinel");
                let report = results.try_get();
                assert!(
                    matches!(&report, Ok((7, items)) if items == &[1, 2, 3]),
                    "consumer 7 puts one report, (7, the items before the first None, in order), \
                     on `results`; found {report:?}"
                );
                assert!(
                    matches!(results.try_get(), Err(GetError::Empty)),
                    "one report per consumer"
                );
                let left = jobs.try_get();
                assert!(
                    matches!(left, Ok(Some(99))),
                    "the consumer stops at the sentinel and takes nothing after it; the queue then holds {left:?}"
                );
            }

            fn one_producer_one_consumer_receives_everything_in_order() {
                let received = run_checked(1, 1, 50, 2);
                assert_eq!(received, vec![(0..50).collect::<Vec<u64>>()]);
            }

            fn two_producers_three_consumers_like_the_seed() {
                // Seed program 7: two producers of 5 items, three consumers,
                // an unbounded queue, three `None`s.
                run_checked(2, 3, 5, 0);
            }

            fn every_consumer_stops_even_with_nothing_to_consume() {
                let received = run_checked(2, 3, 0, 1);
                assert!(received.iter().all(Vec::is_empty), "no item was produced: {received:?}");
            }

            fn a_queue_of_capacity_one_still_delivers_everything() {
                run_checked(3, 2, 100, 1);
            }
        }
    };
}
