//! Exercise 13, `coroutine`: the suite of a coroutine-style producer and
//! consumer (a resumable consumer, no threads).

/// Tests of a consumer type with `new() -> Self`, `send(&mut self, item:
/// u32) -> String` (runs the consumer up to its next "yield" and returns the
/// line it logged, `"consume: {item}"`) and `count(&self) -> usize` (items
/// consumed so far), and of a function `producer(n: u32) -> Vec<String>`
/// returning the interleaved log `"produce: 0"`, `"consume: 0"`,
/// `"produce: 1"`, ...
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::coroutine_suite!(crate::Consumer, crate::producer);
/// ```
#[macro_export]
macro_rules! coroutine_suite {
    ($consumer:ty, $producer:path) => {
        #[cfg(not(loom))]
        mod coroutine_suite {
            use $crate::synclings::testing::within;
            use $crate::DEADLINE;

            type Subject = $consumer;

            /// The log seed program 3 prints for `n` items.
            fn seed_log(n: u32) -> Vec<String> {
                (0..n)
                    .flat_map(|i| [format!("produce: {i}"), format!("consume: {i}")])
                    .collect()
            }

            /// The threads of this process, from `/proc/self/status`.
            fn threads() -> usize {
                let status = std::fs::read_to_string("/proc/self/status")
                    .expect("this test needs Linux /proc (reading /proc/self/status failed)");
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse().ok())
                    .expect("/proc/self/status has a Threads: line")
            }

            #[test]
            fn the_producer_interleaves_produce_and_consume_like_the_seed() {
                let log = within(DEADLINE, "producer(10)", || $producer(10));
                assert_eq!(log, seed_log(10));
            }

            #[test]
            fn the_producer_of_nothing_logs_nothing() {
                let log = within(DEADLINE, "producer(0)", || $producer(0));
                assert!(log.is_empty(), "no item, no line: {log:?}");
            }

            #[test]
            fn a_long_run_keeps_the_strict_alternation() {
                let log = within(DEADLINE, "producer(1000)", || $producer(1000));
                assert_eq!(log.len(), 2000, "two lines per item");
                assert_eq!(log, seed_log(1000));
            }

            #[test]
            fn send_returns_the_line_the_consumer_logged() {
                let lines = within(DEADLINE, "three sends", || {
                    let mut c = <Subject>::new();
                    [c.send(7), c.send(0), c.send(u32::MAX)]
                });
                let expected = ["consume: 7".to_string(), "consume: 0".to_string(), format!("consume: {}", u32::MAX)];
                assert_eq!(lines, expected);
            }

            #[test]
            fn the_consumer_keeps_its_state_between_sends() {
                let counts = within(DEADLINE, "sends to two consumers", || {
                    let mut a = <Subject>::new();
                    let mut b = <Subject>::new();
                    let mut counts = vec![(a.count(), b.count())];
                    for item in [5, 3, 9] {
                        a.send(item);
                        counts.push((a.count(), b.count()));
                    }
                    b.send(1);
                    counts.push((a.count(), b.count()));
                    counts
                });
                // The count lives in the consumer (a generator's local
                // variable): it grows with every send, and each consumer
                // has its own.
                assert_eq!(counts, [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1)]);
            }

            #[test]
            fn consumers_run_on_the_callers_thread_and_spawn_none() {
                const CONSUMERS: usize = 200;
                let (before, during, lines) = within(DEADLINE, "200 consumers, one send each", || {
                    let before = threads();
                    let mut consumers: Vec<Subject> = (0..CONSUMERS).map(|_| <Subject>::new()).collect();
                    let lines: Vec<String> =
                        consumers.iter_mut().enumerate().map(|(i, c)| c.send(i as u32)).collect();
                    // Every consumer is alive here: a thread per consumer
                    // would show.
                    let during = threads();
                    drop(consumers);
                    (before, during, lines)
                });
                assert_eq!(lines[CONSUMERS - 1], format!("consume: {}", CONSUMERS - 1));
                // Other tests start and end threads meanwhile: allow some
                // noise, far below one thread per consumer.
                assert!(
                    during < before + CONSUMERS / 2,
                    "{CONSUMERS} live consumers took the process from {before} to {during} threads: \
                     a coroutine is resumed by a call on the caller's thread, it needs no thread of its own"
                );
            }
        }
    };
}
