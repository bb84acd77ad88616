//! Exercise 5, `event_gate`: threads wait at a `synclings::Event` until the
//! main thread opens it.

/// Tests of a module with
///
/// - `pub fn spawn_waiters(gate: Arc<Event>, n: usize) -> Vec<JoinHandle<Instant>>`:
///   starts `n` threads, each waiting for `gate` and returning the instant it
///   got through (`Event` is `synclings::Event`);
/// - `pub fn run(n: usize, open_after: Duration) -> (Instant, Vec<Instant>)`:
///   starts `n` waiters on a new gate, opens it after `open_after`, joins
///   them; the instant the gate was opened (taken just before `set`) and each
///   waiter's instant, in thread order.
///
/// Pass the module's path (the suite expands inside its own module):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::event_gate_suite!(crate);
/// ```
#[macro_export]
macro_rules! event_gate_suite {
    ($($module:ident)::+) => {
        #[cfg(not(loom))]
        mod event_gate_suite {
            use std::sync::{Arc, Mutex, MutexGuard};
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::wait_until_quiet;
            use $crate::synclings::testing::within;
            use $crate::synclings::Event;
            use $crate::DEADLINE;

            use $($module)::+ as subject;

            /// The tests take turns: one of them waits until every other
            /// thread of the process is asleep.
            fn one_at_a_time() -> MutexGuard<'static, ()> {
                static TURN: Mutex<()> = Mutex::new(());
                TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
            }

            /// Joins the waiters under a deadline; their instants in order.
            fn join_all(handles: Vec<std::thread::JoinHandle<Instant>>) -> Vec<Instant> {
                within(DEADLINE, "every waiter gets through the open gate", move || {
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                })
            }

            #[test]
            fn waiters_block_until_the_gate_opens() {
                let _turn = one_at_a_time();
                let gate = Arc::new(Event::new());
                let gate2 = gate.clone();
                let handles = within(DEADLINE, "spawn_waiters returns (without waiting for the gate)", move || {
                    subject::spawn_waiters(gate2, 5)
                });
                assert_eq!(handles.len(), 5, "spawn_waiters(gate, 5) starts 5 threads");
                // From here on every waiter is asleep (or has exited): no
                // waiter is on its way through the gate.
                wait_until_quiet(DEADLINE, "the waiters block in gate.wait() (asleep, not spinning)");
                let passed = handles.iter().filter(|h| h.is_finished()).count();
                if passed > 0 {
                    gate.set(); // let the others go
                    for h in handles {
                        if let Err(panic) = h.join() {
                            std::panic::resume_unwind(panic); // the learner's panic, e.g. a `todo!()`
                        }
                    }
                    panic!("{passed} of 5 waiters got through while the gate was closed: wait for it");
                }
                let opened = Instant::now();
                gate.set();
                let released = join_all(handles);
                assert_eq!(released.len(), 5);
                for (i, at) in released.iter().enumerate() {
                    assert!(*at >= opened, "waiter {i} reports an instant before the gate opened");
                }
            }

            #[test]
            fn run_releases_every_waiter_only_after_the_gate_opens() {
                let _turn = one_at_a_time();
                let open_after = Duration::from_millis(20);
                let start = Instant::now();
                let (opened, released) =
                    within(DEADLINE, "run(10, 20 ms) finishes", move || subject::run(10, open_after));
                assert!(
                    opened >= start + open_after,
                    "run opened the gate {:?} after it was called, before open_after = {open_after:?}",
                    opened - start
                );
                assert_eq!(released.len(), 10, "one instant per waiter");
                for (i, at) in released.iter().enumerate() {
                    assert!(*at >= opened, "waiter {i} got through {:?} before the gate opened", opened - *at);
                }
            }

            #[test]
            fn an_open_gate_lets_waiters_straight_through() {
                let _turn = one_at_a_time();
                let gate = Arc::new(Event::new());
                let opened = Instant::now();
                gate.set();
                let gate2 = gate.clone();
                let handles = within(DEADLINE, "spawn_waiters returns", move || subject::spawn_waiters(gate2, 3));
                let released = join_all(handles);
                assert_eq!(released.len(), 3, "spawn_waiters(gate, 3) starts 3 threads");
                assert!(released.iter().all(|at| *at >= opened));
                assert!(gate.is_set(), "waiting does not close the gate");
            }

            #[test]
            fn no_waiters_nothing_to_release() {
                let _turn = one_at_a_time();
                let (_opened, released) =
                    within(DEADLINE, "run(0, 0) finishes", || subject::run(0, Duration::ZERO));
                assert!(released.is_empty(), "run(0, ..) starts no thread");
            }
        }
    };
}
