//! Loom models of the thread pool: one worker, the result slot's hand-off.
#![cfg(loom)]

use synclings::sync::atomic::{AtomicBool, Ordering::Relaxed};
use synclings::sync::Arc;
use synclings::{TaskError, ThreadPool};

/// Race: the worker fulfils the result slot while the submitter may already
/// sleep in `join`. Property: `join` always wakes with the value (a lost
/// wake-up would be a deadlock), and dropping the pool joins the worker.
#[test]
fn submit_and_join_have_no_lost_wake_up() {
    loom::model(|| {
        let pool = ThreadPool::new(1, 1).unwrap();
        let handle = pool.submit(|| 42).unwrap();
        assert_eq!(handle.join(), Ok(42));
        drop(pool);
    });
}

/// Race: `shutdown_now` against the worker taking the queued task.
/// Property: the handle reports the value if and only if the task ran, and
/// `Cancelled` otherwise; nothing hangs.
#[test]
fn shutdown_now_cancels_or_runs_never_both() {
    loom::model(|| {
        let pool = ThreadPool::new(1, 1).unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let handle = pool
            .submit(move || {
                r.store(true, Relaxed);
                7
            })
            .unwrap();
        pool.shutdown_now(true);
        match handle.join() {
            Ok(value) => {
                assert_eq!(value, 7);
                assert!(ran.load(Relaxed));
            }
            Err(e) => {
                assert_eq!(e, TaskError::Cancelled);
                assert!(!ran.load(Relaxed), "a cancelled task ran");
            }
        }
    });
}
