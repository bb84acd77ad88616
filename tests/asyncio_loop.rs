//! The asyncio event loop: tasks, cancellation, panics, timers, callbacks,
//! cross-thread wake-ups, to_thread, debug mode, the combinators and the
//! task group. Each test runs its loop on a thread under a deadline
//! (`within`): a lost wake-up fails the test instead of hanging it.
#![cfg(all(unix, not(loom)))]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use synclings::asyncio::{self, EventLoop, SlowCallback, TaskError, TaskGroup, TimeoutError};
use synclings::testing::{current_tid, wait_until_parked, within, DEADLINE};

/// Runs `f` (which makes its own loop) on a thread, under the deadline.
fn on_a_loop<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within(DEADLINE, what, f)
}

/// Counts its drops: shows that a cancelled future's destructors ran.
struct DropFlag(Rc<Cell<usize>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn run_returns_the_output_and_tasks_interleave_at_awaits() {
    let log = on_a_loop("two tasks yielding in turn", || {
        asyncio::run(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let tasks: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|name| {
                    let log = log.clone();
                    asyncio::create_task(async move {
                        for i in 0..3 {
                            log.borrow_mut().push(format!("{name}{i}"));
                            asyncio::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let log = log.borrow().clone();
            log
        })
    });
    // One thread, switching only at the awaits (exam question 33).
    assert_eq!(log, ["a0", "b0", "a1", "b1", "a2", "b2"]);
}

#[test]
fn a_cancelled_task_is_dropped_where_it_waits_and_reports_cancelled() {
    let (result, drops, cancel_again, done) = on_a_loop("cancel a sleeping task", || {
        asyncio::run(async {
            let drops = Rc::new(Cell::new(0));
            let flag = DropFlag(drops.clone());
            let reached_end = Rc::new(Cell::new(false));
            let end = reached_end.clone();
            let task = asyncio::create_task(async move {
                let _flag = flag;
                asyncio::sleep(Duration::from_secs(3600)).await;
                end.set(true);
            });
            asyncio::yield_now().await; // the task starts and sleeps
            assert_eq!(drops.get(), 0);
            assert!(task.cancel());
            let done_before = task.is_done();
            let result = (&mut Box::pin(task)).await;
            assert!(!reached_end.get(), "the code after the await never ran");
            let loop_ = asyncio::get_running_loop().unwrap();
            assert_eq!(loop_.timer_count(), 0, "the dropped sleep left no timer");
            (result, drops.get(), done_before, loop_.task_count())
        })
    });
    assert_eq!(result, Err(TaskError::Cancelled));
    assert_eq!(drops, 1, "the task's destructors ran once");
    assert!(
        !cancel_again,
        "cancel takes effect when the loop gets to the task"
    );
    assert_eq!(done, 0);
}

#[test]
fn cancel_after_the_end_is_refused_and_a_task_can_cancel_itself() {
    let (late, self_cancel) = on_a_loop("late and self cancel", || {
        asyncio::run(async {
            let quick = asyncio::create_task(async { 1 });
            asyncio::yield_now().await;
            asyncio::yield_now().await;
            let late = (quick.is_done(), quick.cancel(), quick.is_cancelled());
            let me: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::default();
            let slot = me.clone();
            let task = asyncio::create_task(async move {
                slot.borrow().as_ref().unwrap().cancel();
                asyncio::yield_now().await; // dropped here
                unreachable!("a task that cancelled itself stops at its next suspension point");
            });
            *me.borrow_mut() = Some(task);
            asyncio::sleep(Duration::from_millis(1)).await;
            let task = me.borrow_mut().take().unwrap();
            let cancelled = task.is_cancelled();
            (late, (cancelled, task.await))
        })
    });
    assert_eq!(late, (true, false, false));
    assert_eq!(self_cancel, (true, Err(TaskError::Cancelled)));
}

#[test]
fn a_panicking_task_is_reported_through_its_task_and_the_loop_goes_on() {
    let (panicked, survivor) = on_a_loop("a task panics", || {
        asyncio::run(async {
            let bad = asyncio::create_task(async {
                asyncio::yield_now().await;
                panic!("bad input: 42");
            });
            let good = asyncio::create_task(async {
                asyncio::sleep(Duration::from_millis(5)).await;
                "still here"
            });
            (bad.await, good.await)
        })
    });
    assert_eq!(panicked, Err(TaskError::Panicked("bad input: 42".into())));
    assert_eq!(survivor, Ok("still here"));
}

#[test]
fn run_cancels_every_task_left_at_the_end() {
    let drops = on_a_loop("leftover tasks", || {
        let drops = Rc::new(Cell::new(0));
        let d = drops.clone();
        asyncio::run(async move {
            for _ in 0..3 {
                let flag = DropFlag(d.clone());
                drop(asyncio::create_task(async move {
                    let _flag = flag;
                    std::future::pending::<()>().await;
                }));
            }
            asyncio::yield_now().await;
        });
        drops.get()
    });
    assert_eq!(drops, 3, "asyncio.run cancels the tasks still pending");
}

#[test]
fn run_inside_a_running_loop_is_refused_with_a_clear_message() {
    let message = on_a_loop("nested run", || {
        asyncio::run(async {
            let nested = std::panic::catch_unwind(|| asyncio::run(async {}));
            let payload = nested.unwrap_err();
            match payload.downcast_ref::<String>() {
                Some(s) => s.clone(),
                None => payload.downcast_ref::<&str>().unwrap().to_string(),
            }
        })
    });
    assert!(message.contains("already running"), "{message}");
}

#[test]
fn create_task_outside_a_loop_panics_with_a_clear_message() {
    let payload = std::panic::catch_unwind(|| asyncio::create_task(async {})).unwrap_err();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.contains("needs a running event loop"), "{message}");
    assert!(asyncio::get_running_loop().is_err());
}

#[test]
fn sleeps_end_in_deadline_order_and_never_early() {
    let order = on_a_loop("sleeps of different lengths", || {
        asyncio::run(async {
            let order = Rc::new(RefCell::new(Vec::new()));
            let start = Instant::now();
            let tasks: Vec<_> = [30u64, 10, 20, 0]
                .into_iter()
                .map(|ms| {
                    let order = order.clone();
                    asyncio::create_task(async move {
                        asyncio::sleep(Duration::from_millis(ms)).await;
                        assert!(start.elapsed() >= Duration::from_millis(ms), "woke early");
                        order.borrow_mut().push(ms);
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let order = order.borrow().clone();
            order
        })
    });
    assert_eq!(order, [0, 10, 20, 30]);
}

#[test]
fn many_sleeping_tasks_all_wake_and_leave_nothing_behind() {
    let (woken, tasks, timers) = on_a_loop("10 000 sleepers", || {
        asyncio::run(async {
            let woken = Rc::new(Cell::new(0usize));
            let handles: Vec<_> = (0..10_000u64)
                .map(|i| {
                    let woken = woken.clone();
                    asyncio::create_task(async move {
                        asyncio::sleep(Duration::from_micros(i % 2000)).await;
                        woken.set(woken.get() + 1);
                    })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
            let l = asyncio::get_running_loop().unwrap();
            (woken.get(), l.task_count(), l.timer_count())
        })
    });
    assert_eq!((woken, tasks, timers), (10_000, 0, 0));
}

#[test]
fn wait_for_times_out_by_dropping_the_future_and_passes_a_quick_one() {
    let (slow, drops, quick) = on_a_loop("wait_for", || {
        asyncio::run(async {
            let drops = Rc::new(Cell::new(0));
            let flag = DropFlag(drops.clone());
            let slow = asyncio::wait_for(
                async move {
                    let _flag = flag;
                    asyncio::sleep(Duration::from_secs(3600)).await;
                },
                Duration::from_millis(10),
            )
            .await;
            let quick = asyncio::timeout(Duration::from_secs(10), async { 7 }).await;
            (slow, drops.get(), quick)
        })
    });
    assert_eq!(
        slow,
        Err(TimeoutError {
            timeout: Duration::from_millis(10)
        })
    );
    assert_eq!(drops, 1, "the timed-out future was dropped (cancelled)");
    assert_eq!(quick, Ok(7));
}

#[test]
fn gather_keeps_input_order_and_polls_only_the_woken_child() {
    let (outputs, polls) = on_a_loop("gather", || {
        asyncio::run(async {
            let polls = Rc::new(Cell::new(0usize));
            let futures = (0..100u64).map(|i| {
                let polls = polls.clone();
                let mut sleep = asyncio::sleep(Duration::from_millis(100 - i));
                std::future::poll_fn(move |cx| {
                    polls.set(polls.get() + 1);
                    std::pin::Pin::new(&mut sleep).poll(cx).map(|()| i)
                })
            });
            let outputs = asyncio::gather(futures).await;
            (outputs, polls.get())
        })
    });
    assert_eq!(outputs, (0..100).collect::<Vec<_>>());
    // Each child: a first poll, then one when its own timer fires. Polling
    // every child on every wake-up would be ~100 * 100.
    assert!(polls <= 300, "{polls} polls for 100 children");
}

use std::future::Future as _;

#[test]
fn wait_first_and_as_completed_follow_completion_order() {
    let (first, order) = on_a_loop("wait_first, as_completed", || {
        asyncio::run(async {
            let make = |ms: u64| async move {
                asyncio::sleep(Duration::from_millis(ms)).await;
                ms
            };
            let first = asyncio::wait_first([40, 5, 20].map(make)).await.unwrap();
            let rest = asyncio::gather(first.pending.into_iter().map(|(_, f)| f)).await;
            let mut completed = asyncio::as_completed([30, 10, 20].map(make));
            let mut order = Vec::new();
            while let Some((index, ms)) = completed.next().await {
                order.push((index, ms));
            }
            ((first.index, first.output, rest), order)
        })
    });
    assert_eq!(first, (1, 5, vec![40, 20]));
    assert_eq!(order, [(1, 10), (2, 20), (0, 30)]);
}

#[test]
fn a_failing_child_cancels_its_task_group_siblings() {
    let (failure, sibling, drops) = on_a_loop("task group failure", || {
        asyncio::run(async {
            let drops = Rc::new(Cell::new(0));
            let group = TaskGroup::new();
            let flag = DropFlag(drops.clone());
            let sibling = group.create_task(async move {
                let _flag = flag;
                asyncio::sleep(Duration::from_secs(3600)).await;
            });
            group.create_task(async {
                asyncio::sleep(Duration::from_millis(5)).await;
                panic!("child failed");
            });
            let failure = group.wait().await.unwrap_err();
            (failure, sibling.await, drops.get())
        })
    });
    assert_eq!(failure.first, "child failed");
    assert_eq!(failure.failures, 1);
    assert_eq!(sibling, Err(TaskError::Cancelled));
    assert_eq!(drops, 1);
}

#[test]
fn a_task_group_waits_for_all_and_its_drop_cancels_the_children() {
    let (sum, cancelled) = on_a_loop("task group", || {
        asyncio::run(async {
            let group = TaskGroup::new();
            let total = Rc::new(Cell::new(0));
            for i in 1..=4 {
                let total = total.clone();
                group.create_task(async move {
                    asyncio::sleep(Duration::from_millis(i)).await;
                    total.set(total.get() + i);
                });
            }
            group.wait().await.unwrap();
            let dropped_group = TaskGroup::new();
            let child = dropped_group.create_task(std::future::pending::<()>());
            drop(dropped_group);
            (total.get(), child.await)
        })
    });
    assert_eq!(sum, 10);
    assert_eq!(cancelled, Err(TaskError::Cancelled));
}

#[test]
fn callbacks_run_in_order_and_a_cancelled_handle_never_runs() {
    let log = on_a_loop("call_soon / call_later", || {
        let event_loop = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        for (name, ms) in [("later-20", 20), ("later-10", 10)] {
            let log = log.clone();
            event_loop.call_later(Duration::from_millis(ms), move || {
                log.borrow_mut().push(name)
            });
        }
        let never = {
            let log = log.clone();
            event_loop.call_later(Duration::from_millis(5), move || {
                log.borrow_mut().push("never")
            })
        };
        assert!(never.cancel());
        for name in ["soon-1", "soon-2"] {
            let log = log.clone();
            event_loop.call_soon(move || log.borrow_mut().push(name));
        }
        event_loop.run_until_complete(asyncio::sleep(Duration::from_millis(40)));
        let log = log.borrow().clone();
        log
    });
    assert_eq!(log, ["soon-1", "soon-2", "later-10", "later-20"]);
}

#[test]
fn call_soon_threadsafe_wakes_a_loop_asleep_in_select() {
    let ran = on_a_loop("a callback from another thread", || {
        let event_loop = EventLoop::new().unwrap();
        let handle = event_loop.handle();
        let (tid_tx, tid_rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let parked: Arc<std::sync::Mutex<Option<Waker>>> = Arc::default();
        let (seen, wake) = (done.clone(), parked.clone());
        let thread = std::thread::spawn(move || {
            let tid = tid_rx.recv().unwrap();
            // The loop has nothing to do: no task, no timer, no IO.
            wait_until_parked(DEADLINE, "the loop sleeps in select", tid);
            handle
                .call_soon_threadsafe(move || {
                    seen.store(true, SeqCst);
                    if let Some(waker) = wake.lock().unwrap().take() {
                        waker.wake();
                    }
                })
                .unwrap();
        });
        tid_tx.send(current_tid()).unwrap();
        let flag = done.clone();
        event_loop.run_until_complete(std::future::poll_fn(|cx| {
            *parked.lock().unwrap() = Some(cx.waker().clone());
            if flag.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        thread.join().unwrap();
        let closed_handle = event_loop.handle();
        drop(event_loop);
        (
            done.load(SeqCst),
            closed_handle.call_soon_threadsafe(|| {}).is_err(),
        )
    });
    assert_eq!(ran, (true, true), "ran, then refused once the loop closed");
}

#[test]
fn a_waker_called_from_another_thread_wakes_the_sleeping_loop() {
    let woken = on_a_loop("a cross-thread waker", || {
        asyncio::run(async {
            let (waker_tx, waker_rx) = mpsc::channel::<(Waker, u32)>();
            let ready = Arc::new(AtomicBool::new(false));
            let r = ready.clone();
            let thread = std::thread::spawn(move || {
                let (waker, tid) = waker_rx.recv().unwrap();
                wait_until_parked(DEADLINE, "the loop sleeps", tid);
                r.store(true, SeqCst);
                waker.wake();
            });
            let tid = current_tid();
            let mut sent = Some(waker_tx);
            std::future::poll_fn(|cx| {
                if ready.load(SeqCst) {
                    return Poll::Ready(());
                }
                if let Some(tx) = sent.take() {
                    tx.send((cx.waker().clone(), tid)).unwrap();
                }
                Poll::Pending
            })
            .await;
            thread.join().unwrap();
            true
        })
    });
    assert!(woken);
}

#[test]
fn to_thread_runs_off_the_loop_and_reports_a_panic() {
    let (value, panicked, other_thread) = on_a_loop("to_thread", || {
        asyncio::run(async {
            let me = std::thread::current().id();
            let ran_on = asyncio::to_thread(move || std::thread::current().id())
                .await
                .unwrap();
            let value = asyncio::to_thread(|| 40 + 2).await;
            let panicked = asyncio::to_thread(|| -> u8 { panic!("worker failed") }).await;
            (value, panicked, ran_on != me)
        })
    });
    assert_eq!(value, Ok(42));
    assert_eq!(panicked, Err(TaskError::Panicked("worker failed".into())));
    assert!(other_thread);
}

#[test]
fn debug_mode_reports_a_callback_that_blocks_the_loop() {
    let (reported, quiet) = on_a_loop("a slow callback", || {
        let event_loop = EventLoop::new().unwrap();
        let slow: Rc<RefCell<Vec<SlowCallback>>> = Rc::default();
        let sink = slow.clone();
        event_loop.on_slow_callback(move |s| sink.borrow_mut().push(s.clone()));
        event_loop.set_slow_callback_duration(Duration::from_millis(5));
        let block = || {
            // A blocking call on the loop's thread (what debug mode is for).
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(10) {
                std::hint::spin_loop();
            }
        };
        event_loop.call_soon(block);
        event_loop.run_until_complete(asyncio::yield_now());
        let quiet = slow.borrow().len();
        event_loop.set_debug(true);
        event_loop.call_soon(block);
        let task = event_loop.create_task(async move { block() });
        event_loop.run_until_complete(task).unwrap();
        let reported = slow.borrow().clone();
        (reported, quiet)
    });
    assert_eq!(quiet, 0, "nothing is timed outside debug mode");
    assert_eq!(reported.len(), 2, "{reported:?}");
    assert_eq!(reported[0].what, "a callback");
    assert!(reported[1].what.starts_with("Task-"), "{reported:?}");
    assert!(reported.iter().all(|s| s.took >= Duration::from_millis(5)));
    assert!(
        reported[0].to_string().contains("took 0.0"),
        "{}",
        reported[0]
    );
}

#[test]
fn python_default_slow_callback_duration_is_100_ms() {
    assert_eq!(asyncio::SLOW_CALLBACK_DURATION, Duration::from_millis(100));
    let count = on_a_loop("default threshold", || {
        let event_loop = EventLoop::new().unwrap();
        let seen = Rc::new(AtomicUsize::new(0));
        let s = seen.clone();
        event_loop.on_slow_callback(move |_| {
            s.fetch_add(1, SeqCst);
        });
        event_loop.set_debug(true);
        // A quick callback is not reported.
        event_loop.call_soon(|| {});
        event_loop.run_until_complete(asyncio::yield_now());
        seen.load(SeqCst)
    });
    assert_eq!(count, 0);
}

#[test]
fn an_idle_loop_sleeps_in_the_kernel() {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(asyncio::Event::new());
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        tx.send(current_tid()).unwrap();
        asyncio::run(async move { s.wait().await });
    });
    let tid = rx.recv_timeout(DEADLINE).unwrap();
    wait_until_parked(DEADLINE, "a loop with nothing to do sleeps", tid);
    stop.set();
    within(
        DEADLINE,
        "Event::set from a thread ends the loop",
        move || thread.join().unwrap(),
    );
}
