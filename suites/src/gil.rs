//! Exercise 22, `gil`: the suite of the same CPU-bound work (counting
//! primes) run on threads and on worker processes.

/// Tests of the exercise's prime counting on threads and on processes.
///
/// The exercise provides:
///
/// - `ENTRIES: &[Entry]` listing the pool task `count_primes((lo, hi): (u64,
///   u64)) -> u64`: how many primes `p` with `lo <= p < hi`;
/// - `split(below: u64, parts: u64) -> Vec<(u64, u64)>`: `0..below` cut into
///   `parts` ranges, in order, that cover it exactly once;
/// - `on_threads(workers: usize, ranges: &[(u64, u64)]) -> u64`: the primes
///   of every range, counted by `workers` threads of this process;
/// - `on_processes(workers: usize, ranges: &[(u64, u64)]) -> u64`: the same,
///   counted by a pool of `workers` processes.
///
/// It brings the test build's `main`, like
/// [`process_pool_suite!`](crate::process_pool_suite).
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::gil_suite! {
///     entries: crate::ENTRIES,
///     count_primes: crate::count_primes,
///     split: crate::split,
///     on_threads: crate::on_threads,
///     on_processes: crate::on_processes,
/// }
/// ```
#[macro_export]
macro_rules! gil_suite {
    (
        entries: $entries:path,
        count_primes: $count:path,
        split: $split:path,
        on_threads: $threads:path,
        on_processes: $processes:path $(,)?
    ) => {
        fn main() -> ::std::process::ExitCode {
            $crate::synclings::ipc::init($entries);
            #[cfg(not(loom))]
            let tests = gil_suite::TESTS;
            #[cfg(loom)]
            let tests: &[$crate::synclings::testing::Test] = {
                let _ = ($count, $split, $threads, $processes);
                &[]
            };
            $crate::synclings::testing::run_tests(tests)
        }

        #[cfg(not(loom))]
        mod gil_suite {
            use $crate::synclings::testing::{within, Test};
            use $crate::DEADLINE;

            pub(crate) const TESTS: &[Test] = &[
                (
                    "gil_suite::count_primes_counts_the_primes_of_a_range",
                    count_primes_counts,
                ),
                (
                    "gil_suite::split_covers_the_range_exactly_once",
                    split_covers_the_range,
                ),
                (
                    "gil_suite::threads_count_every_range",
                    threads_count_every_range,
                ),
                (
                    "gil_suite::processes_count_every_range",
                    processes_count_every_range,
                ),
            ];

            /// π(n) for a few n (the number of primes below n).
            const PI: [(u64, u64); 4] = [(10, 4), (100, 25), (1000, 168), (20000, 2262)];

            fn count_primes_counts() {
                for (n, pi) in PI {
                    assert_eq!(
                        $count((0, n)),
                        pi,
                        "count_primes((0, {n})): the primes below {n}"
                    );
                }
                assert_eq!($count((100, 1000)), 168 - 25, "count_primes((100, 1000))");
                assert_eq!($count((2, 3)), 1, "2 is a prime");
                assert_eq!($count((0, 2)), 0, "0 and 1 are not");
            }

            fn split_covers_the_range() {
                for (below, parts) in [(1000, 7), (16, 16), (10, 1)] {
                    let ranges = $split(below, parts);
                    assert_eq!(
                        ranges.len() as u64,
                        parts,
                        "split({below}, {parts}): {parts} ranges"
                    );
                    assert_eq!(
                        ranges[0].0, 0,
                        "split({below}, {parts}) starts at 0: {ranges:?}"
                    );
                    assert_eq!(
                        ranges[ranges.len() - 1].1,
                        below,
                        "and ends at {below}: {ranges:?}"
                    );
                    assert!(
                        ranges.windows(2).all(|w| w[0].1 == w[1].0)
                            && ranges.iter().all(|r| r.0 < r.1),
                        "split({below}, {parts}): contiguous, non-empty ranges: {ranges:?}"
                    );
                }
            }

            fn threads_count_every_range() {
                let ranges = $split(20000, 8);
                for workers in [1, 2, 4] {
                    let r = ranges.clone();
                    let got = within(DEADLINE, &format!("on_threads({workers}, ..)"), move || {
                        $threads(workers, &r)
                    });
                    assert_eq!(
                        got, 2262,
                        "on_threads({workers}, split(20000, 8)): the primes below 20000"
                    );
                }
            }

            fn processes_count_every_range() {
                let ranges = $split(20000, 8);
                for workers in [1, 2] {
                    let r = ranges.clone();
                    let got = within(
                        DEADLINE,
                        &format!("on_processes({workers}, ..)"),
                        move || $processes(workers, &r),
                    );
                    assert_eq!(
                        got, 2262,
                        "on_processes({workers}, split(20000, 8)): the primes below 20000"
                    );
                }
            }
        }
    };
}
