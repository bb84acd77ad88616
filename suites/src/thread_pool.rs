//! Exercise 16, `thread_pool`: the suite of a thread pool with a bounded
//! backlog (`concurrent.futures.ThreadPoolExecutor`, exam question 23).

/// Tests (and, under `--cfg loom`, loom models) of a `ThreadPool` with the
/// library's API subset:
///
/// - `ThreadPool::new(workers: usize, backlog: usize) -> Result<Self,
///   synclings::ThreadPoolError>` (`ZeroWorkers` for 0 workers);
/// - `submit(&self, f) -> Result<TaskHandle<R>, synclings::SubmitError>`
///   (blocks while the backlog is full) and `try_submit(&self, f) ->
///   Result<TaskHandle<R>, synclings::TrySubmitError<F>>` (hands `f` back),
///   for `F: FnOnce() -> R + Send + 'static, R: Send + 'static`;
/// - `shutdown(&self, wait: bool)`;
/// - a `TaskHandle<R>` with `join(self) -> Result<R, synclings::TaskError>`
///   (`TaskError::Panicked(message)` for a task that panicked).
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::thread_pool_suite!(crate::ThreadPool);
/// ```
#[macro_export]
macro_rules! thread_pool_suite {
    ($pool:ty) => {
        #[cfg(not(loom))]
        mod thread_pool_suite {
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::{Arc, Condvar, Mutex};
            use $crate::synclings::testing::{current_tid, eventually, wait_until_parked, within};
            use $crate::synclings::{SubmitError, TaskError, ThreadPoolError, TrySubmitError};
            use $crate::DEADLINE;

            type Subject = $pool;

            /// Owns the pool under test. Dropping it, also when a test
            /// fails, happens on a detached thread: a pool whose drop hangs
            /// (workers that never stop) cannot hang the suite.
            struct Pool(Option<Arc<Subject>>);

            impl Pool {
                /// A pool of `workers` threads and a backlog of `backlog`.
                fn new(workers: usize, backlog: usize) -> Pool {
                    let pool = within(DEADLINE, "ThreadPool::new", move || {
                        Subject::new(workers, backlog)
                    })
                    .unwrap_or_else(|e| {
                        panic!("ThreadPool::new({workers}, {backlog}) failed: {e:?}")
                    });
                    Pool(Some(Arc::new(pool)))
                }

                /// A handle to the pool for another thread.
                fn share(&self) -> Arc<Subject> {
                    Arc::clone(self.0.as_ref().expect("the pool is there until dropped"))
                }

                /// `shutdown(true)` under the deadline.
                fn shutdown_and_wait(&self, what: &str) {
                    let pool = self.share();
                    within(DEADLINE, what, move || pool.shutdown(true));
                }
            }

            impl std::ops::Deref for Pool {
                type Target = Subject;
                fn deref(&self) -> &Subject {
                    self.0.as_ref().expect("the pool is there until dropped")
                }
            }

            impl Drop for Pool {
                fn drop(&mut self) {
                    if let Some(pool) = self.0.take() {
                        std::thread::spawn(move || drop(pool));
                    }
                }
            }

            /// A gate tasks wait on until the test opens it (built on std,
            /// not on the code under test). A task gives up waiting after
            /// the deadline, so a failed test never leaves a worker stuck.
            #[derive(Clone)]
            struct Gate(Arc<(Mutex<bool>, Condvar)>);

            impl Gate {
                fn new() -> Gate {
                    Gate(Arc::new((Mutex::new(false), Condvar::new())))
                }
                fn wait(&self) {
                    let (open, cv) = &*self.0;
                    let (open, _) = cv
                        .wait_timeout_while(open.lock().unwrap(), DEADLINE, |open| !*open)
                        .unwrap();
                    assert!(*open, "the test never opened the gate");
                }
                fn open(&self) {
                    *self.0 .0.lock().unwrap() = true;
                    self.0 .1.notify_all();
                }
            }

            /// Submits a task that waits on `gate`, and returns once a worker
            /// has started it (so it is out of the backlog).
            fn occupy_a_worker(
                pool: &Pool,
                gate: &Gate,
            ) -> impl FnOnce() -> Result<&'static str, TaskError> {
                let started = Arc::new(AtomicBool::new(false));
                let (s, g) = (started.clone(), gate.clone());
                let shared = pool.share();
                let handle = within(DEADLINE, "submit a task to an idle pool", move || {
                    shared.submit(move || {
                        s.store(true, SeqCst);
                        g.wait();
                        "gated"
                    })
                })
                .expect("the pool is open");
                eventually(DEADLINE, "a worker starts the gated task", || {
                    started.load(SeqCst)
                });
                move || within(DEADLINE, "the gated task's handle", move || handle.join())
            }

            #[test]
            fn zero_workers_is_an_error() {
                let refused = within(DEADLINE, "ThreadPool::new(0, 4)", || {
                    matches!(Subject::new(0, 4), Err(ThreadPoolError::ZeroWorkers))
                });
                assert!(
                    refused,
                    "a pool of 0 workers is an error (Python raises ValueError)"
                );
            }

            #[test]
            fn submitted_tasks_return_their_results() {
                let pool = Pool::new(2, 4);
                let shared = pool.share();
                let results = within(DEADLINE, "submit 20 tasks and join them", move || {
                    let squares: Vec<_> = (0..20u64)
                        .map(|x| shared.submit(move || x * x).expect("the pool is open"))
                        .collect();
                    let text = shared
                        .submit(|| "a String".to_string())
                        .expect("the pool is open");
                    let squares: Vec<_> = squares.into_iter().map(|h| h.join()).collect();
                    (squares, text.join())
                });
                assert_eq!(results.0, (0..20u64).map(|x| Ok(x * x)).collect::<Vec<_>>());
                assert_eq!(results.1, Ok("a String".to_string()));
                pool.shutdown_and_wait("shutdown(true)");
            }

            #[test]
            fn the_workers_run_tasks_at_the_same_time() {
                // Two tasks that each wait until both have started: they can
                // only finish if two workers run them together.
                let pool = Pool::new(2, 2);
                let arrived = Arc::new(AtomicUsize::new(0));
                let handles: Vec<_> = (0..2)
                    .map(|_| {
                        let arrived = arrived.clone();
                        pool.try_submit(move || {
                            arrived.fetch_add(1, SeqCst);
                            eventually(DEADLINE, "both tasks run at once on 2 workers", || {
                                arrived.load(SeqCst) == 2
                            });
                        })
                        .unwrap_or_else(|e| panic!("a backlog of 2 has room for 2 tasks: {e:?}"))
                    })
                    .collect();
                for h in handles {
                    assert_eq!(
                        within(DEADLINE, "a rendezvous task", move || h.join()),
                        Ok(())
                    );
                }
                pool.shutdown_and_wait("shutdown(true)");
            }

            #[test]
            fn try_submit_fails_with_full_while_the_backlog_is_full() {
                let pool = Pool::new(1, 2);
                let gate = Gate::new();
                let gated = occupy_a_worker(&pool, &gate);
                // The only worker is busy: two tasks fill the backlog.
                let second = pool
                    .try_submit(|| 2)
                    .unwrap_or_else(|e| panic!("room for a 1st waiting task: {e:?}"));
                let third = pool
                    .try_submit(|| 3)
                    .unwrap_or_else(|e| panic!("room for a 2nd waiting task: {e:?}"));
                match pool.try_submit(|| 4) {
                    Err(TrySubmitError::Full(f)) => {
                        assert_eq!(f(), 4, "the closure is handed back")
                    }
                    Err(e) => panic!("expected Full, got {e:?}"),
                    Ok(_) => panic!("try_submit accepted a 3rd waiting task into a backlog of 2"),
                }
                gate.open();
                assert_eq!(gated(), Ok("gated"));
                assert_eq!(
                    within(DEADLINE, "the 2nd task's handle", move || second.join()),
                    Ok(2)
                );
                assert_eq!(
                    within(DEADLINE, "the 3rd task's handle", move || third.join()),
                    Ok(3)
                );
                pool.shutdown_and_wait("shutdown(true)");
            }

            #[test]
            fn submit_blocks_while_the_backlog_is_full() {
                let pool = Pool::new(1, 1);
                let gate = Gate::new();
                let gated = occupy_a_worker(&pool, &gate);
                let second = pool
                    .try_submit(|| 2)
                    .unwrap_or_else(|e| panic!("room for a waiting task: {e:?}"));
                let (tx, rx) = std::sync::mpsc::channel();
                let shared = pool.share();
                let submitter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    shared.submit(|| 3).map(|h| h.join())
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the submitter starts");
                wait_until_parked(DEADLINE, "submit() blocks while the backlog is full", tid);
                gate.open();
                assert_eq!(gated(), Ok("gated"));
                assert_eq!(
                    within(DEADLINE, "the 2nd task's handle", move || second.join()),
                    Ok(2)
                );
                let third = within(DEADLINE, "the blocked submit gets room", move || {
                    submitter.join().unwrap()
                });
                assert!(
                    matches!(third, Ok(Ok(3))),
                    "the blocked submit's task ran: {third:?}"
                );
                pool.shutdown_and_wait("shutdown(true)");
            }

            #[test]
            fn a_panicking_task_is_reported_and_the_worker_survives() {
                let pool = Pool::new(1, 4);
                let shared = pool.share();
                let (literal, formatted, after) =
                    within(DEADLINE, "panicking tasks, then a normal one", move || {
                        let literal = shared
                            .submit(|| -> u32 { panic!("task failed on purpose") })
                            .expect("open");
                        let formatted = shared
                            .submit(|| -> u32 { panic!("bad input: {}", 7) })
                            .expect("open");
                        let after = shared.submit(|| 5).expect("open");
                        (literal.join(), formatted.join(), after.join())
                    });
                match literal {
                    Err(TaskError::Panicked(message)) => {
                        assert!(
                            message.contains("task failed on purpose"),
                            "the panic's message: {message:?}"
                        )
                    }
                    other => panic!("expected Err(Panicked(..)), got {other:?}"),
                }
                match formatted {
                    Err(TaskError::Panicked(message)) => {
                        assert!(
                            message.contains("bad input: 7"),
                            "the panic's (String) message: {message:?}"
                        )
                    }
                    other => panic!("expected Err(Panicked(..)), got {other:?}"),
                }
                assert_eq!(after, Ok(5), "the only worker survived the panics");
                pool.shutdown_and_wait("shutdown(true)");
            }

            #[test]
            fn shutdown_wait_runs_every_queued_task_first() {
                let pool = Pool::new(1, 8);
                let gate = Gate::new();
                let gated = occupy_a_worker(&pool, &gate);
                let ran = Arc::new(AtomicUsize::new(0));
                let handles: Vec<_> = (0..5)
                    .map(|i| {
                        let ran = ran.clone();
                        pool.try_submit(move || {
                            ran.fetch_add(1, SeqCst);
                            i
                        })
                        .unwrap_or_else(|e| panic!("room in the backlog: {e:?}"))
                    })
                    .collect();
                // shutdown(true) with 5 tasks queued behind a busy worker:
                // it must wait for them, not drop them.
                let (tx, rx) = std::sync::mpsc::channel();
                let (shared, ran_seen) = (pool.share(), ran.clone());
                let shutter = std::thread::spawn(move || {
                    tx.send(current_tid()).unwrap();
                    shared.shutdown(true);
                    ran_seen.load(SeqCst)
                });
                let tid = rx.recv_timeout(DEADLINE).expect("the shutter starts");
                wait_until_parked(DEADLINE, "shutdown(true) waits while tasks are queued", tid);
                gate.open();
                let ran_at_return = within(DEADLINE, "shutdown(true) returns", move || {
                    shutter.join().unwrap()
                });
                assert_eq!(
                    ran_at_return, 5,
                    "shutdown(true) returned before every queued task ran"
                );
                assert_eq!(gated(), Ok("gated"));
                for (i, h) in handles.into_iter().enumerate() {
                    assert_eq!(
                        within(DEADLINE, "a queued task's handle", move || h.join()),
                        Ok(i)
                    );
                }
            }

            #[test]
            fn no_task_is_accepted_after_shutdown() {
                let pool = Pool::new(2, 2);
                pool.shutdown(false);
                assert_eq!(
                    pool.submit(|| 1).err(),
                    Some(SubmitError),
                    "submit after shutdown"
                );
                match pool.try_submit(|| 2) {
                    Err(TrySubmitError::ShutDown(f)) => {
                        assert_eq!(f(), 2, "the closure is handed back")
                    }
                    Err(e) => panic!("expected ShutDown, got {e:?}"),
                    Ok(_) => panic!("try_submit accepted a task after shutdown"),
                }
                pool.shutdown_and_wait("a second shutdown, with wait");
            }

            #[test]
            fn many_submitters_every_task_runs_exactly_once() {
                const SUBMITTERS: usize = 3;
                const TASKS: usize = 100;
                let pool = Pool::new(3, 2);
                let runs: Arc<Vec<AtomicUsize>> = Arc::new(
                    (0..SUBMITTERS * TASKS)
                        .map(|_| AtomicUsize::new(0))
                        .collect(),
                );
                let submitters: Vec<_> = (0..SUBMITTERS)
                    .map(|s| {
                        let (pool, runs) = (pool.share(), runs.clone());
                        std::thread::spawn(move || {
                            let handles: Vec<_> = (0..TASKS)
                                .map(|t| {
                                    let (runs, n) = (runs.clone(), s * TASKS + t);
                                    pool.submit(move || runs[n].fetch_add(1, SeqCst) + n)
                                        .expect("the pool is open")
                                })
                                .collect();
                            handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                let results = within(
                    DEADLINE,
                    "3 submitters × 100 tasks through a backlog of 2",
                    move || {
                        submitters
                            .into_iter()
                            .map(|s| s.join().unwrap())
                            .collect::<Vec<_>>()
                    },
                );
                for (s, results) in results.into_iter().enumerate() {
                    let expected: Vec<_> = (0..TASKS).map(|t| Ok(s * TASKS + t)).collect();
                    assert_eq!(results, expected, "submitter {s}'s results, in order");
                }
                assert!(
                    runs.iter().all(|r| r.load(SeqCst) == 1),
                    "every task ran exactly once"
                );
                pool.shutdown_and_wait("shutdown(true)");
            }
        }

        #[cfg(loom)]
        mod thread_pool_loom {
            use $crate::synclings::sync::atomic::{AtomicBool, Ordering::SeqCst};
            use $crate::synclings::sync::Arc;

            type Subject = $pool;

            /// One worker fulfils the result slot while the submitter may
            /// already sleep in `join`: a lost wake-up on the slot is a
            /// deadlock loom reports. `shutdown(true)` joins the worker.
            #[test]
            fn submit_and_join_lose_no_wake_up() {
                $crate::loom::model(|| {
                    let pool = <Subject>::new(1, 1).unwrap();
                    let handle = pool.submit(|| 42).unwrap();
                    assert_eq!(handle.join(), Ok(42));
                    pool.shutdown(true);
                });
            }

            /// `shutdown(true)` races the worker taking the queued task: the
            /// task runs before shutdown returns, in every interleaving.
            #[test]
            fn shutdown_wait_runs_the_queued_task() {
                $crate::loom::model(|| {
                    let pool = <Subject>::new(1, 1).unwrap();
                    let ran = Arc::new(AtomicBool::new(false));
                    let r = ran.clone();
                    let handle = pool
                        .submit(move || {
                            r.store(true, SeqCst);
                            7
                        })
                        .unwrap();
                    pool.shutdown(true);
                    assert!(
                        ran.load(SeqCst),
                        "shutdown(true) returned before the queued task ran"
                    );
                    assert_eq!(handle.join(), Ok(7));
                });
            }
        }
    };
}
