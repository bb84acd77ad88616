//! [`to_thread`]: Python's `asyncio.to_thread` / `loop.run_in_executor`:
//! blocking work on the loop's [`ThreadPool`](crate::ThreadPool), awaited
//! without blocking the loop.
//!
//! The worker stores the result in a one-shot slot and wakes the awaiting
//! task's waker **from the worker thread**: the wake goes through the
//! loop's [`Handshake`](super::Handshake) and rings the selector's
//! `Notifier` if the loop sleeps (the cross-thread wake-up of
//! `tests/loom_asyncio.rs`).

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::event_loop::Core;
use super::task::{panic_message, TaskError};
use crate::sync::{Arc, Mutex};

/// The result, once the worker left it, and the waker of the task
/// waiting for it.
type Slot<R> = (Option<Result<R, TaskError>>, Option<Waker>);

/// Where a worker leaves its result.
struct OneShot<R> {
    state: Mutex<Slot<R>>,
}

impl<R> OneShot<R> {
    fn complete(&self, result: Result<R, TaskError>) {
        let waker = {
            let mut state = self.state.lock();
            state.0 = Some(result);
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The future of [`to_thread`]: the function's result, or
/// `Err(TaskError::Panicked)` if it panicked (or no worker thread could be
/// started). Dropping it does not stop the function (a thread cannot be
/// cancelled, as in Python): its result is dropped when it ends.
pub struct ToThread<R> {
    state: ToThreadState<R>,
}

enum ToThreadState<R> {
    Waiting(Arc<OneShot<R>>),
    Failed(Option<TaskError>),
}

impl<R: Send + 'static> ToThread<R> {
    pub(crate) fn submit<F>(core: &Rc<Core>, f: F) -> ToThread<R>
    where
        F: FnOnce() -> R + Send + 'static,
    {
        let pool = match core.pool() {
            Ok(pool) => pool,
            Err(e) => {
                return ToThread {
                    state: ToThreadState::Failed(Some(TaskError::Panicked(format!(
                        "to_thread: no worker thread: {e}"
                    )))),
                }
            }
        };
        let slot = Arc::new(OneShot {
            state: Mutex::new((None, None)),
        });
        let for_worker = Arc::clone(&slot);
        let submitted = pool.submit(move || {
            let result = catch_unwind(AssertUnwindSafe(f))
                .map_err(|p| TaskError::Panicked(panic_message(&*p)));
            for_worker.complete(result);
        });
        match submitted {
            // The pool's own handle is not needed: the slot carries the result.
            Ok(_handle) => ToThread {
                state: ToThreadState::Waiting(slot),
            },
            Err(_) => ToThread {
                state: ToThreadState::Failed(Some(TaskError::Cancelled)),
            },
        }
    }
}

/// Runs `f` on a thread of the running loop's default executor and waits
/// for it without blocking the loop (Python's `await asyncio.to_thread(f)`).
/// The work starts at once, not at the first poll.
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use synclings::asyncio;
///
/// let sum = asyncio::run(async {
///     asyncio::to_thread(|| (1..=100u64).sum::<u64>()).await
/// });
/// assert_eq!(sum, Ok(5050));
/// ```
pub fn to_thread<F, R>(f: F) -> ToThread<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    ToThread::submit(&Core::expect_current("asyncio::to_thread"), f)
}

impl<R> Future for ToThread<R> {
    type Output = Result<R, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            ToThreadState::Failed(error) => Poll::Ready(Err(error
                .take()
                .expect("a ToThread polled after it returned Ready"))),
            ToThreadState::Waiting(slot) => {
                let mut state = slot.state.lock();
                if let Some(result) = state.0.take() {
                    return Poll::Ready(result);
                }
                match &state.1 {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => state.1 = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<R> fmt::Debug for ToThread<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            ToThreadState::Waiting(_) => "waiting",
            ToThreadState::Failed(_) => "failed",
        };
        f.debug_struct("ToThread").field("state", &state).finish()
    }
}
