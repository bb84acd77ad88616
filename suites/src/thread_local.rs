//! Exercise 2, `thread_local`: a `name` of one's own per thread.

/// Tests of a module with
///
/// - `pub fn set_name(name: &str)`: sets the calling thread's own `NAME`;
/// - `pub fn name() -> String`: reads it (`""` on a thread that never set it);
/// - `pub fn run(n: usize) -> Vec<String>`: `n` threads, thread `i` sets its
///   `NAME` to `alex_i`, waits until all have set theirs, reads its own back;
///   the values in thread order.
///
/// Pass the module's path (the suite expands inside its own module):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::thread_local_suite!(crate);
/// ```
#[macro_export]
macro_rules! thread_local_suite {
    ($($module:ident)::+) => {
        #[cfg(not(loom))]
        mod thread_local_suite {
            use std::sync::{Arc, Barrier};
            use $crate::synclings::testing::within;
            use $crate::DEADLINE;

            use $($module)::+ as subject;

            #[test]
            fn each_thread_reads_back_the_name_it_set() {
                let names = within(DEADLINE, "run(10) finishes", || subject::run(10));
                let expected: Vec<String> = (0..10).map(|i| format!("alex_{i}")).collect();
                assert_eq!(
                    names, expected,
                    "every thread reads back its own alex_i, although all ten wrote theirs before any read"
                );
            }

            #[test]
            fn a_new_thread_starts_with_an_empty_name() {
                subject::set_name("the test thread");
                let theirs = within(DEADLINE, "a new thread reads its name", subject::name);
                assert_eq!(theirs, "", "a thread that never set its name sees the initial value, not another's");
                assert_eq!(subject::name(), "the test thread", "the caller still reads its own");
            }

            #[test]
            fn two_threads_writing_at_once_keep_their_own() {
                // Both write, both wait until both have written, both read:
                // one shared variable would hold the last write for both.
                let both_wrote = Arc::new(Barrier::new(2));
                let handles: Vec<_> = ["left", "right"]
                    .into_iter()
                    .map(|mine| {
                        let both_wrote = both_wrote.clone();
                        std::thread::spawn(move || {
                            subject::set_name(mine);
                            both_wrote.wait();
                            (mine, subject::name())
                        })
                    })
                    .collect();
                let read = within(DEADLINE, "both threads read their names", move || {
                    handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
                });
                for (mine, got) in read {
                    assert_eq!(got, mine, "the thread that set {mine:?} reads {got:?}");
                }
            }

            #[test]
            fn run_leaves_the_callers_name_alone() {
                subject::set_name("main");
                let names = within(DEADLINE, "run(4) finishes", || subject::run(4));
                assert_eq!(names.len(), 4);
                assert_eq!(subject::name(), "main", "run's threads set their own NAME, never the caller's");
            }

            #[test]
            fn setting_again_replaces_the_name() {
                subject::set_name("alex_0");
                subject::set_name("alex_1");
                assert_eq!(subject::name(), "alex_1");
            }
        }
    };
}
