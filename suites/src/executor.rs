//! Exercise 22, `executor`: the suite of an executor with a ready queue and
//! `spawn` (an event loop without IO).

/// Tests of an executor type with `new() -> Self` (for the calling thread),
/// `spawn(&self, impl Future<Output = ()> + 'static)`, `spawner(&self)`
/// returning a `Clone` handle with the same `spawn`, and `run(&self)`,
/// which runs every task to the end (the ones spawned meanwhile too),
/// sleeping while none is ready, and returns when none is left.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::executor_suite!(crate::Executor);
/// ```
#[macro_export]
macro_rules! executor_suite {
    ($executor:ty) => {
        #[cfg(not(loom))]
        mod executor_suite {
            use std::cell::RefCell;
            use std::future::poll_fn;
            use std::rc::Rc;
            use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
            use std::sync::{mpsc, Arc};
            use std::task::{Poll, Waker};

            use $crate::synclings::testing::{current_tid, wait_until_parked, within};
            use $crate::DEADLINE;

            type Subject = $executor;

            async fn yield_once() {
                let mut yielded = false;
                poll_fn(|cx| {
                    if yielded {
                        Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await
            }

            #[test]
            fn every_spawned_task_runs_to_the_end() {
                let done = within(DEADLINE, "100 tasks", || {
                    let executor = <Subject>::new();
                    let done = Rc::new(RefCell::new(0));
                    for _ in 0..100 {
                        let done = done.clone();
                        executor.spawn(async move {
                            yield_once().await;
                            *done.borrow_mut() += 1;
                        });
                    }
                    executor.run();
                    let n = *done.borrow();
                    n
                });
                assert_eq!(done, 100);
            }

            #[test]
            fn run_with_no_task_returns_at_once() {
                within(DEADLINE, "run without tasks", || <Subject>::new().run());
            }

            /// First come, first served: tasks take turns at each await.
            #[test]
            fn tasks_take_turns_at_their_awaits_in_fifo_order() {
                let log = within(DEADLINE, "two yielding tasks", || {
                    let executor = <Subject>::new();
                    let log = Rc::new(RefCell::new(Vec::new()));
                    for name in ["a", "b", "c"] {
                        let log = log.clone();
                        executor.spawn(async move {
                            for i in 0..3 {
                                log.borrow_mut().push(format!("{name}{i}"));
                                yield_once().await;
                            }
                        });
                    }
                    executor.run();
                    let log = log.borrow().clone();
                    log
                });
                assert_eq!(log, ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]);
            }

            #[test]
            fn a_task_can_spawn_tasks_and_run_waits_for_them() {
                let log = within(DEADLINE, "spawn from a task", || {
                    let executor = <Subject>::new();
                    let spawner = executor.spawner();
                    let log = Rc::new(RefCell::new(Vec::new()));
                    let l = log.clone();
                    executor.spawn(async move {
                        for i in 0..3 {
                            let l2 = l.clone();
                            spawner.spawn(async move {
                                yield_once().await;
                                l2.borrow_mut().push(format!("child {i}"));
                            });
                        }
                        l.borrow_mut().push("parent done".to_owned());
                    });
                    executor.run();
                    let log = log.borrow().clone();
                    log
                });
                assert_eq!(log, ["parent done", "child 0", "child 1", "child 2"]);
            }

            /// Wakers may be called from any thread; meanwhile the
            /// executor's thread sleeps.
            #[test]
            fn a_task_woken_from_another_thread_finishes_and_run_sleeps_meanwhile() {
                let (tx, rx) = mpsc::channel::<(u32, Waker)>();
                let ready = Arc::new(AtomicBool::new(false));
                let r = ready.clone();
                let helper = std::thread::spawn(move || {
                    let (tid, waker) = rx.recv().expect("the task sends its waker");
                    wait_until_parked(DEADLINE, "run sleeps while no task is ready", tid);
                    r.store(true, SeqCst);
                    waker.wake();
                });
                let finished = within(DEADLINE, "a task woken by a thread", move || {
                    let executor = <Subject>::new();
                    let finished = Rc::new(RefCell::new(false));
                    let f = finished.clone();
                    let tid = current_tid();
                    let mut tx = Some(tx);
                    executor.spawn(async move {
                        poll_fn(|cx| {
                            if ready.load(SeqCst) {
                                return Poll::Ready(());
                            }
                            if let Some(tx) = tx.take() {
                                tx.send((tid, cx.waker().clone())).unwrap();
                            }
                            Poll::Pending
                        })
                        .await;
                        *f.borrow_mut() = true;
                    });
                    executor.run();
                    let done = *finished.borrow();
                    done
                });
                helper.join().unwrap();
                assert!(finished);
            }
        }
    };
}
