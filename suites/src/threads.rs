//! Exercise 1, `threads`: start named threads, join them all.

/// Tests of a module with
///
/// - `pub struct Report { pub index: usize, pub name: String, pub active: usize }`
/// - `pub fn run(n: usize) -> Vec<Report>`: starts `n` threads named
///   `Thread-1` .. `Thread-n` (through `synclings::thread`), each reporting
///   its index, its name and `active_count()`; joins them all and returns the
///   reports in thread order.
///
/// Pass the module's path (the suite expands inside its own module):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::threads_suite!(crate);
/// ```
#[macro_export]
macro_rules! threads_suite {
    ($($module:ident)::+) => {
        #[cfg(not(loom))]
        mod threads_suite {
            use std::sync::{Mutex, MutexGuard};
            use $crate::synclings::testing::within;
            use $crate::synclings::thread::active_count;
            use $crate::DEADLINE;

            /// `active_count()` is process-wide and the tests of a binary run
            /// in parallel: the tests take turns.
            fn one_at_a_time() -> MutexGuard<'static, ()> {
                static TURN: Mutex<()> = Mutex::new(());
                TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
            }

            /// The learner's `run(n)`, under a deadline.
            fn run(n: usize) -> Vec<(usize, String, usize)> {
                within(DEADLINE, "run() starts and joins its threads", move || {
                    $($module)::+::run(n)
                        .into_iter()
                        .map(|r| (r.index, r.name, r.active))
                        .collect()
                })
            }

            #[test]
            fn one_report_per_thread_in_thread_order() {
                let _turn = one_at_a_time();
                let reports = run(10);
                let indices: Vec<usize> = reports.iter().map(|r| r.0).collect();
                assert_eq!(indices, (0..10).collect::<Vec<_>>(), "run(10) returns the 10 reports in thread order");
            }

            #[test]
            fn threads_are_named_thread_1_to_n_on_every_run() {
                let _turn = one_at_a_time();
                for round in 0..2 {
                    let names: Vec<String> = run(4).into_iter().map(|r| r.1).collect();
                    let expected: Vec<String> = (1..=4).map(|i| format!("Thread-{i}")).collect();
                    assert_eq!(
                        names, expected,
                        "call {round} of run(4): each thread reports its own name (current_name()); name them \
                         yourself with spawn_named, as the process-wide numbering of spawn() goes on counting"
                    );
                }
            }

            #[test]
            fn each_thread_counts_itself_and_the_main_thread() {
                let _turn = one_at_a_time();
                let before = active_count();
                let n = 8;
                for (index, name, active) in run(n) {
                    assert!(
                        active > before && active <= before + n,
                        "{name} (index {index}) saw active_count() = {active}: it counts at least itself and \
                         the main thread ({}), at most the {n} threads of run and the main thread ({})",
                        before + 1,
                        before + n
                    );
                }
            }

            #[test]
            fn every_thread_is_joined_before_run_returns() {
                let _turn = one_at_a_time();
                let before = active_count();
                let reports = run(6);
                assert_eq!(reports.len(), 6);
                assert_eq!(
                    active_count(),
                    before,
                    "after run returns, its threads have all finished: join every handle before returning"
                );
            }

            #[test]
            fn zero_threads_zero_reports() {
                let _turn = one_at_a_time();
                assert!(run(0).is_empty(), "run(0) starts no thread");
            }
        }
    };
}
