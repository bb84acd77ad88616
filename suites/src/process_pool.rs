//! Exercise 21, `process_pool`: the suite of a pool of worker processes
//! (`synclings::ipc::Pool`) running registered tasks.

/// Tests of `ipc::Pool` driven by the exercise's tasks and functions.
///
/// The exercise provides:
///
/// - `ENTRIES: &[Entry]`, its table for `ipc::init`, listing these pool
///   tasks (`pool_task!`): `square(x: u64) -> u64`,
///   `worker_pid(_: u64) -> u32` (the process id of the worker that runs
///   it), `checked_root(x: u64) -> u64` (panics with `"{x} is not a perfect
///   square"` when it is not one);
/// - `squares(workers: usize, n: u64) -> Vec<u64>`: `0², 1², …, (n-1)²`
///   computed by a pool of `workers` processes, in order;
/// - `pids(workers: usize, n: u64) -> Vec<u32>`: `worker_pid` run on `n`
///   items, one item per chunk;
/// - `roots(workers: usize, xs: &[u64]) -> Vec<Result<u64, String>>`: each
///   item's `checked_root`, or its panic message.
///
/// It brings the test build's `main` (`ipc::init`, then the tests), like
/// [`process_queue_suite!`](crate::process_queue_suite). Under `--cfg loom`
/// it runs no test.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::process_pool_suite! {
///     entries: crate::ENTRIES,
///     squares: crate::squares,
///     pids: crate::pids,
///     roots: crate::roots,
/// }
/// ```
#[macro_export]
macro_rules! process_pool_suite {
    (entries: $entries:path, squares: $squares:path, pids: $pids:path, roots: $roots:path $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            // In a child (a pool worker): serves tasks and exits.
            $crate::synclings::ipc::init($entries);
            #[cfg(not(loom))]
            let tests = process_pool_suite::TESTS;
            #[cfg(loom)]
            let tests: &[$crate::synclings::testing::Test] = {
                let _ = ($squares, $pids, $roots);
                &[]
            };
            $crate::synclings::testing::run_tests(tests)
        }

        #[cfg(not(loom))]
        mod process_pool_suite {
            use $crate::synclings::ipc::Pool;
            use $crate::synclings::testing::{within, Test};
            use $crate::DEADLINE;

            pub(crate) const TESTS: &[Test] = &[
                (
                    "process_pool_suite::the_tasks_are_registered_and_right",
                    the_tasks_are_registered_and_right,
                ),
                (
                    "process_pool_suite::squares_come_back_in_order",
                    squares_come_back_in_order,
                ),
                (
                    "process_pool_suite::a_fixed_set_of_worker_processes_runs_every_task",
                    a_fixed_set_of_worker_processes_runs_every_task,
                ),
                (
                    "process_pool_suite::a_panicking_task_fails_alone",
                    a_panicking_task_fails_alone,
                ),
            ];

            fn the_tasks_are_registered_and_right() {
                within(DEADLINE, "a pool runs the three tasks", || {
                    let pool = Pool::new(1).expect("a pool of one worker");
                    let square = pool.apply::<_, u64>("square", &7u64);
                    assert_eq!(square, Ok(49), "the pool task `square` (in ENTRIES, pool_task!) of 7");
                    let pid = pool.apply::<_, u32>("worker_pid", &0u64).expect("the pool task `worker_pid`");
                    assert_ne!(pid, std::process::id(), "worker_pid runs in a worker, not in the parent");
                    assert_eq!(pool.apply::<_, u64>("checked_root", &81u64), Ok(9), "checked_root(81)");
                });
            }

            fn squares_come_back_in_order() {
                for (workers, n) in [(1, 10), (2, 1000), (3, 7)] {
                    let got = within(DEADLINE, &format!("squares({workers}, {n})"), move || $squares(workers, n));
                    let want: Vec<u64> = (0..n).map(|x| x * x).collect();
                    assert_eq!(got, want, "squares({workers}, {n}): every square, in order");
                }
            }

            fn a_fixed_set_of_worker_processes_runs_every_task() {
                let got = within(DEADLINE, "pids(2, 40)", || $pids(2, 40));
                assert_eq!(got.len(), 40, "one pid per item");
                assert!(!got.contains(&std::process::id()), "the tasks run in worker processes, not in the parent");
                let mut distinct = got.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert!(
                    (1..=2).contains(&distinct.len()),
                    "a pool of 2 starts its 2 workers once and reuses them (Python's Pool does too): \
                     {} distinct pids in {got:?}",
                    distinct.len()
                );
            }

            fn a_panicking_task_fails_alone() {
                let got = within(DEADLINE, "roots(2, [0, 1, 4, 5, 9, 10])", || $roots(2, &[0, 1, 4, 5, 9, 10]));
                assert_eq!(got.len(), 6, "one result per item: {got:?}");
                for (i, want) in [(0, 0), (1, 1), (2, 2), (4, 3)] {
                    assert_eq!(got[i], Ok(want), "item {i} of {got:?}");
                }
                for (i, x) in [(3, 5), (5, 10)] {
                    assert!(
                        matches!(&got[i], Err(m) if m.contains(&format!("{x} is not a perfect square"))),
                        "item {i} ({x}) fails with its panic message, and only it: {got:?}"
                    );
                }
            }
        }
    };
}
