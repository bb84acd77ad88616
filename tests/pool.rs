//! Integration tests of `ThreadPool`, after CPython's
//! `test_concurrent_futures` (submit, map, shutdown, cancel_futures).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use synclings::testing::{eventually, spawn_blocked, within, DEADLINE};
use synclings::TrySubmitError;
use synclings::{thread, SubmitError, TaskError, TaskHandle, ThreadPool, ThreadPoolError};

/// A gate tasks block on until the test opens it.
#[derive(Clone)]
struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    fn new() -> Self {
        Gate(Arc::new((Mutex::new(false), std::sync::Condvar::new())))
    }
    fn wait(&self) {
        let (open, cv) = &*self.0;
        let _g = cv.wait_while(open.lock().unwrap(), |open| !*open).unwrap();
    }
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
}

/// Submits a task that signals when it starts, then blocks on `gate`, and
/// waits until a worker runs it.
fn occupy_a_worker(pool: &ThreadPool, gate: &Gate) -> TaskHandle<&'static str> {
    let started = Arc::new(AtomicBool::new(false));
    let (s, g) = (started.clone(), gate.clone());
    let handle = pool
        .submit(move || {
            s.store(true, SeqCst);
            g.wait();
            "gated"
        })
        .unwrap();
    eventually(DEADLINE, "the gated task starts", || started.load(SeqCst));
    handle
}

fn join<R: Send + 'static>(handle: TaskHandle<R>) -> Result<R, TaskError> {
    within(DEADLINE, "a task handle", move || handle.join())
}

#[test]
fn types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ThreadPool>();
    assert_send_sync::<TaskHandle<String>>();
    assert_send_sync::<TaskError>();
    assert_send_sync::<SubmitError>();
    assert_send_sync::<ThreadPoolError>();
    assert_send_sync::<TrySubmitError<fn()>>();
}

#[test]
fn zero_workers_is_an_error() {
    let err = ThreadPool::new(0, 4).unwrap_err();
    assert!(matches!(err, ThreadPoolError::ZeroWorkers));
    assert!(err.to_string().contains("at least one worker"));
}

#[test]
fn submit_returns_results() {
    let pool = ThreadPool::new(3, 8).unwrap();
    let handles: Vec<_> = (0..20u64)
        .map(|n| pool.submit(move || n * n).unwrap())
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| join(h).unwrap()).collect();
    assert_eq!(results, (0..20u64).map(|n| n * n).collect::<Vec<_>>());
    assert_eq!(pool.workers(), 3);
    let debug = format!("{pool:?}");
    assert!(
        debug.contains("workers: 3") && debug.contains("is_shutdown: false"),
        "{debug}"
    );
}

#[test]
fn a_panic_is_reported_with_its_message_and_the_worker_survives() {
    let pool = ThreadPool::new(1, 0).unwrap();
    let static_msg = pool.submit(|| -> u8 { panic!("static message") }).unwrap();
    let formatted = pool
        .submit(|| -> u8 { panic!("formatted {}", 42) })
        .unwrap();
    let opaque = pool
        .submit(|| -> u8 { std::panic::panic_any(7_i32) })
        .unwrap();
    let after = pool.submit(thread::current_name).unwrap();
    assert_eq!(
        join(static_msg),
        Err(TaskError::Panicked("static message".into()))
    );
    assert_eq!(
        join(formatted),
        Err(TaskError::Panicked("formatted 42".into()))
    );
    assert!(matches!(join(opaque), Err(TaskError::Panicked(_))));
    // The single worker survived three panics and ran the next task.
    assert_eq!(join(after), Ok("pool-worker-0".to_owned()));
    let err = TaskError::Panicked("x".into());
    assert!(err.to_string().contains("panicked: x"));
}

#[test]
fn map_preserves_input_order() {
    let pool = ThreadPool::new(4, 2).unwrap();
    // Earlier inputs take longer, so they finish last; the order must hold
    // whatever the completion order.
    let results: Vec<_> = within(DEADLINE, "map", move || {
        pool.map(
            |n: u64| {
                std::thread::sleep(Duration::from_millis(10 - n));
                n * 10
            },
            0..10,
        )
        .collect()
    });
    let expected: Vec<_> = (0..10u64).map(|n| Ok(n * 10)).collect();
    assert_eq!(results, expected);
}

#[test]
fn map_on_a_shut_down_pool_yields_cancelled() {
    let pool = ThreadPool::new(1, 0).unwrap();
    pool.shutdown(true);
    let results: Vec<_> = pool.map(|n: u8| n, [1, 2]).collect();
    assert_eq!(
        results,
        [Err(TaskError::Cancelled), Err(TaskError::Cancelled)]
    );
}

#[test]
fn the_backlog_is_bounded_and_try_submit_hands_the_closure_back() {
    let pool = Arc::new(ThreadPool::new(1, 2).unwrap());
    let gate = Gate::new();
    let gated = occupy_a_worker(&pool, &gate);
    // The worker is busy: two tasks fill the backlog.
    let second = pool.try_submit(|| 2).unwrap();
    let third = pool.try_submit(|| 3).unwrap();
    assert_eq!(pool.backlog_len(), 2);
    let err = pool.try_submit(|| 4).unwrap_err();
    assert!(matches!(err, TrySubmitError::Full(_)), "{err:?}");
    assert!(err.to_string().contains("full"));
    let closure = err.into_inner();
    assert_eq!(closure(), 4, "the closure handed back still works");

    // A blocking submit waits for room, which comes once the gate opens.
    let submitted = Arc::new(AtomicBool::new(false));
    let submitter = {
        let (pool, submitted) = (pool.clone(), submitted.clone());
        spawn_blocked(move || {
            let handle = pool.submit(|| 5).unwrap();
            submitted.store(true, SeqCst);
            handle.join()
        })
    };
    assert!(
        !submitted.load(SeqCst),
        "submit returned while the backlog was full"
    );
    gate.open();
    assert_eq!(join(gated), Ok("gated"));
    assert_eq!(join(second), Ok(2));
    assert_eq!(join(third), Ok(3));
    assert_eq!(
        within(DEADLINE, "the blocked submit", move || submitter
            .join()
            .unwrap()),
        Ok(5)
    );
}

#[test]
fn join_timeout_and_is_done_follow_the_task() {
    let pool = ThreadPool::new(1, 0).unwrap();
    let gate = Gate::new();
    let gated = occupy_a_worker(&pool, &gate);
    assert!(!gated.is_done());
    let start = std::time::Instant::now();
    assert!(!gated.join_timeout(Duration::from_millis(50)));
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "join_timeout gave up early"
    );
    gate.open();
    let gated = within(DEADLINE, "join_timeout", move || {
        assert!(gated.join_timeout(DEADLINE));
        gated
    });
    assert!(gated.is_done());
    assert!(format!("{gated:?}").contains("done: true"));
    assert_eq!(gated.join(), Ok("gated"));
}

#[test]
fn shutdown_with_wait_runs_everything_already_queued() {
    let pool = Arc::new(ThreadPool::new(2, 0).unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || {
                ran.fetch_add(1, SeqCst);
            })
            .unwrap()
        })
        .collect();
    let p = pool.clone();
    within(DEADLINE, "shutdown(true)", move || p.shutdown(true));
    assert_eq!(
        ran.load(SeqCst),
        50,
        "shutdown(true) returned before the backlog ran"
    );
    assert!(handles.iter().all(TaskHandle::is_done));
    assert!(pool.is_shutdown());
    assert_eq!(pool.submit(|| ()).unwrap_err(), SubmitError);
    assert!(matches!(
        pool.try_submit(|| ()),
        Err(TrySubmitError::ShutDown(_))
    ));
    // Again, and with shutdown_now: harmless.
    pool.shutdown(true);
    pool.shutdown_now(true);
}

#[test]
fn shutdown_without_wait_still_runs_the_backlog() {
    let pool = ThreadPool::new(1, 0).unwrap();
    let gate = Gate::new();
    let gated = occupy_a_worker(&pool, &gate);
    let queued = pool.submit(|| "queued").unwrap();
    pool.shutdown(false); // returns at once, the worker is still gated
    assert!(!queued.is_done());
    gate.open();
    assert_eq!(join(gated), Ok("gated"));
    assert_eq!(join(queued), Ok("queued"));
}

#[test]
fn shutdown_now_cancels_the_queued_tasks() {
    let pool = Arc::new(ThreadPool::new(1, 0).unwrap());
    let gate = Gate::new();
    let gated = occupy_a_worker(&pool, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, SeqCst)).unwrap()
        })
        .collect();
    pool.shutdown_now(false);
    for handle in queued {
        assert_eq!(join(handle), Err(TaskError::Cancelled));
    }
    gate.open();
    // The running task was not cancelled.
    assert_eq!(join(gated), Ok("gated"));
    let p = pool.clone();
    within(
        DEADLINE,
        "shutdown_now(true) joins the workers",
        move || p.shutdown_now(true),
    );
    assert_eq!(ran.load(SeqCst), 0, "a cancelled task ran");
    assert!(TaskError::Cancelled.to_string().contains("cancelled"));
}

#[test]
fn dropping_the_pool_waits_for_the_backlog() {
    let pool = ThreadPool::new(2, 4).unwrap();
    let (tx, rx) = mpsc::channel();
    for n in 0..20 {
        let tx = tx.clone();
        pool.submit(move || tx.send(n).unwrap()).unwrap();
    }
    drop(tx);
    within(DEADLINE, "drop the pool", move || drop(pool));
    let mut got: Vec<_> = rx.try_iter().collect();
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_task_may_shut_its_own_pool_down_without_deadlock() {
    let pool = Arc::new(ThreadPool::new(2, 0).unwrap());
    let p = pool.clone();
    let handle = pool
        .submit(move || {
            p.shutdown(true); // from a worker: must not wait for itself
            p.is_shutdown()
        })
        .unwrap();
    assert_eq!(join(handle), Ok(true));
    let p = pool.clone();
    within(DEADLINE, "shutdown from outside", move || p.shutdown(true));
}

#[test]
fn workers_are_named_pool_worker_n() {
    let pool = ThreadPool::new(2, 0).unwrap();
    let a = pool.submit(thread::current_name).unwrap();
    let b = pool.submit(thread::current_name).unwrap();
    let mut names = [join(a).unwrap(), join(b).unwrap()];
    names.sort();
    assert!(names[0].starts_with("pool-worker-") && names[1].starts_with("pool-worker-"));
    within(DEADLINE, "drop the pool", move || drop(pool));
}

#[test]
fn many_submitters_many_workers_every_task_runs_once() {
    let pool = Arc::new(ThreadPool::new(3, 4).unwrap());
    let submitters: Vec<_> = (0..3u64)
        .map(|s| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let handles: Vec<_> = (0..2_000u64)
                    .map(|i| pool.submit(move || s * 2_000 + i).unwrap())
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = within(DEADLINE, "3 submitters", move || {
        submitters
            .into_iter()
            .flat_map(|s| s.join().unwrap())
            .collect()
    });
    all.sort_unstable();
    assert_eq!(all, (0..6_000).collect::<Vec<_>>());
}
