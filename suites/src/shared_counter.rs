//! Exercise 3, `shared_counter`: lost updates, and a `Lock` that prevents them.

/// Tests of a module with
///
/// - `pub fn count_racy(threads: usize, per_thread: usize) -> usize`: each
///   thread adds 1, `per_thread` times, to a shared counter by a separate
///   load and store (updates can be lost); the final value;
/// - `pub fn count_locked(threads: usize, per_thread: usize) -> usize`: the
///   same through a `synclings::Lock<usize>` (exact);
/// - `pub fn a(li: &Lock<Vec<i32>>, x: i32)` and `pub fn b(li: &Lock<Vec<i32>>, x: i32)`:
///   exam question 18's two functions, both appending `x` under the lock;
/// - `pub fn append_both(li: &Lock<Vec<i32>>, times: usize)`: two threads at
///   once, one calling `a(li, 0)`, `a(li, 1)`, .. `a(li, times - 1)`, the
///   other `b(li, -1)`, `b(li, -2)`, .. `b(li, -times)`.
///
/// Pass the module's path (the suite expands inside its own module):
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::shared_counter_suite!(crate);
/// ```
#[macro_export]
macro_rules! shared_counter_suite {
    ($($module:ident)::+) => {
        #[cfg(not(loom))]
        mod shared_counter_suite {
            use std::sync::Arc;
            use $crate::synclings::testing::{current_tid, eventually, is_parked, within};
            use $crate::synclings::Lock;
            use $crate::DEADLINE;

            use $($module)::+ as subject;

            #[test]
            fn a_racy_count_never_counts_more_than_was_added() {
                let (threads, per_thread) = (4, 20_000);
                let total = within(DEADLINE, "count_racy(4, 20_000)", move || subject::count_racy(threads, per_thread));
                // Lost updates make it smaller, by how much depends on luck;
                // nothing can make it larger.
                assert!(
                    (1..=threads * per_thread).contains(&total),
                    "count_racy(4, 20_000) = {total}: between 1 and 80000"
                );
            }

            #[test]
            fn a_racy_count_with_one_thread_is_exact() {
                let total = within(DEADLINE, "count_racy(1, 5_000)", || subject::count_racy(1, 5_000));
                assert_eq!(total, 5_000, "with nobody to race, no update is lost");
            }

            #[test]
            fn a_locked_count_loses_no_update() {
                for (threads, per_thread) in [(4, 20_000), (8, 1_000), (1, 10), (3, 0)] {
                    let total = within(DEADLINE, "count_locked", move || subject::count_locked(threads, per_thread));
                    assert_eq!(
                        total,
                        threads * per_thread,
                        "count_locked({threads}, {per_thread}): every increment under the Lock counts"
                    );
                }
            }

            #[test]
            fn a_and_b_append_every_item_once_in_order() {
                let times = 2_000;
                let li = Arc::new(Lock::new(vec![1, 2, 3, 4]));
                let li2 = li.clone();
                within(DEADLINE, "append_both(li, 2000)", move || subject::append_both(&li2, times));
                let li = li.acquire();
                assert_eq!(li.len(), 4 + 2 * times, "4 items, then {times} from a and {times} from b");
                assert_eq!(li[..4], [1, 2, 3, 4], "the list's first items are untouched");
                let from_a: Vec<i32> = li[4..].iter().copied().filter(|&x| x >= 0).collect();
                let from_b: Vec<i32> = li[4..].iter().copied().filter(|&x| x < 0).collect();
                assert_eq!(from_a, (0..times as i32).collect::<Vec<_>>(), "a appended 0, 1, .. in order");
                assert_eq!(from_b, (1..=times as i32).map(|x| -x).collect::<Vec<_>>(), "b appended -1, -2, .. in order");
            }

            /// Exam question 18: while t1 holds the lock, can t2 modify `li`?
            /// In Rust, no: `li` is reachable only through the lock.
            fn waits_while_the_lock_is_held(f: fn(&Lock<Vec<i32>>, i32), name: &str) {
                let li = Arc::new(Lock::new(vec![1, 2, 3, 4]));
                let held = li.acquire(); // t1 inside `a`, not releasing yet
                let (tx, rx) = std::sync::mpsc::channel();
                let li2 = li.clone();
                let t2 = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    f(&li2, 5);
                });
                let tid = rx.recv_timeout(DEADLINE).expect("t2 starts");
                let mut settled = 0;
                eventually(DEADLINE, &format!("t2 blocks in {name}() while the lock is held"), || {
                    settled = if is_parked(tid) { settled + 1 } else { 0 };
                    settled >= 3 || t2.is_finished()
                });
                if t2.is_finished() {
                    drop(held);
                    if let Err(panic) = t2.join() {
                        std::panic::resume_unwind(panic); // the learner's panic, e.g. a `todo!()`
                    }
                    panic!("{name}() returned while another thread held the lock: it must take the lock");
                }
                assert_eq!(*held, [1, 2, 3, 4], "{name}() changed li while another thread held the lock");
                drop(held);
                within(DEADLINE, &format!("{name}() finishes once the lock is free"), move || t2.join().unwrap());
                assert_eq!(*li.acquire(), [1, 2, 3, 4, 5], "{name}(li, 5) appends 5");
            }

            #[test]
            fn a_waits_while_another_thread_holds_the_lock() {
                waits_while_the_lock_is_held(subject::a, "a");
            }

            #[test]
            fn b_waits_while_another_thread_holds_the_lock() {
                waits_while_the_lock_is_held(subject::b, "b");
            }
        }
    };
}
