//! Exercise 7, `bounded_concurrency`: at most `limit` threads at a time.

/// Tests of a module with
///
/// - `pub fn run(threads: usize, limit: usize, work: impl Fn(usize) + Send + Sync + 'static) -> usize`:
///   starts `threads` threads, thread `i` calling `work(i)` once, at most
///   `limit` of them inside `work` at any moment; joins them all and returns
///   the peak number that were inside at once.
///
/// How the suite knows the limit holds: its `work` keeps every thread that
/// enters inside until the test lets it go. The test waits until every
/// other thread of the process is asleep: by then `min(threads, limit)`
/// threads must be inside and the rest blocked outside, for good (nothing
/// can wake them but a thread leaving). Then it lets them all go.
///
/// Pass the module's path (the suite expands inside its own module):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::bounded_concurrency_suite!(crate);
/// ```
#[macro_export]
macro_rules! bounded_concurrency_suite {
    ($($module:ident)::+) => {
        #[cfg(not(loom))]
        mod bounded_concurrency_suite {
            use std::sync::{Arc, Condvar, Mutex, MutexGuard};
            use std::time::Instant;
            use $crate::synclings::testing::wait_until_quiet;
            use $crate::synclings::testing::within;
            use $crate::DEADLINE;

            use $($module)::+ as subject;

            /// The tests take turns: each waits until every other thread of
            /// the process is asleep.
            fn one_at_a_time() -> MutexGuard<'static, ()> {
                static TURN: Mutex<()> = Mutex::new(());
                TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
            }

            /// What the suite's `work` sees.
            #[derive(Default)]
            struct Gauge {
                /// Threads inside `work` now.
                inside: usize,
                /// The most that were inside at once.
                peak: usize,
                /// The `i` of every call, in call order.
                calls: Vec<usize>,
                /// Set by the test: threads inside may leave, later ones pass.
                released: bool,
            }

            struct Probe {
                gauge: Mutex<Gauge>,
                /// Notified when `released` is set.
                changed: Condvar,
                /// If the test never releases (it failed), leave by then.
                give_up: Instant,
            }

            impl Probe {
                fn new() -> Arc<Probe> {
                    Arc::new(Probe {
                        gauge: Mutex::new(Gauge::default()),
                        changed: Condvar::new(),
                        give_up: Instant::now() + DEADLINE,
                    })
                }

                /// The suite's `work(i)`: enter, stay until released, leave.
                fn work(&self, i: usize) {
                    let mut gauge = self.gauge.lock().unwrap();
                    gauge.inside += 1;
                    gauge.peak = gauge.peak.max(gauge.inside);
                    gauge.calls.push(i);
                    while !gauge.released {
                        let left = self.give_up.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        gauge = self.changed.wait_timeout(gauge, left).unwrap().0;
                    }
                    gauge.inside -= 1;
                }

                fn release(&self) {
                    self.gauge.lock().unwrap().released = true;
                    self.changed.notify_all();
                }
            }

            /// Runs the learner's `run(threads, limit, work)` and checks that
            /// exactly `min(threads, limit)` get inside at once.
            fn check(threads: usize, limit: usize) {
                let _turn = one_at_a_time();
                let expected = threads.min(limit);
                let probe = Probe::new();
                let work = probe.clone();
                let runner = std::thread::spawn(move || subject::run(threads, limit, move |i| work.work(i)));
                wait_until_quiet(
                    DEADLINE,
                    "the threads outside the limit block (asleep, not spinning) while the others are inside",
                );
                let inside_when_quiet = probe.gauge.lock().unwrap().inside;
                probe.release();
                let peak = within(DEADLINE, "run returns once the work is done", move || runner.join())
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                let gauge = probe.gauge.lock().unwrap();
                assert_eq!(
                    inside_when_quiet, expected,
                    "run({threads}, {limit}, work): with every thread settled, {inside_when_quiet} were inside \
                     work at once; expected {expected}"
                );
                assert!(gauge.peak <= limit, "{} threads were inside work at once, above the limit {limit}", gauge.peak);
                let mut calls = gauge.calls.clone();
                calls.sort_unstable();
                assert_eq!(calls, (0..threads).collect::<Vec<_>>(), "work(i) is called once for each i in 0..{threads}");
                assert_eq!(peak, expected, "run returns the peak number of threads inside work at once");
            }

            #[test]
            fn ten_threads_at_most_five_at_once() {
                check(10, 5);
            }

            #[test]
            fn a_limit_of_one_is_mutual_exclusion() {
                check(4, 1);
            }

            #[test]
            fn a_limit_above_the_thread_count_lets_all_in_at_once() {
                check(3, 8);
            }

            #[test]
            fn no_threads_no_peak() {
                let _turn = one_at_a_time();
                let peak = within(DEADLINE, "run(0, 3, work) returns", || subject::run(0, 3, |_| {}));
                assert_eq!(peak, 0, "no thread ever went inside");
            }
        }
    };
}
