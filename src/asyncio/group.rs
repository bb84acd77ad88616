//! `asyncio.TaskGroup` (Python 3.11): structured concurrency. The group's
//! children are cancelled as soon as one fails, and
//! [`wait`](TaskGroup::wait) returns once every child has finished.
//!
//! A child *fails* when it panics, or, for one made with
//! [`create_fallible`](TaskGroup::create_fallible), when it returns `Err`.
//! Dropping the group (the parent's future was cancelled, say) cancels
//! every child still running, as a cancelled `async with TaskGroup()` body
//! does in Python.

use std::cell::RefCell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::event_loop::Core;
use super::task::{panic_message, Cancel, Task};

/// Why a [`TaskGroup`] failed (Python raises an `ExceptionGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGroupError {
    /// What the first failing child said (its panic message, or its error
    /// formatted with `Display`).
    pub first: String,
    /// How many children failed (the first included).
    pub failures: usize,
}

impl fmt::Display for TaskGroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} task(s) of the group failed, the first with: {}; the others were cancelled",
            self.failures, self.first
        )
    }
}

impl std::error::Error for TaskGroupError {}

#[derive(Default)]
struct State {
    children: Vec<Rc<dyn Cancel>>,
    running: usize,
    failure: Option<TaskGroupError>,
    waiter: Option<Waker>,
}

#[derive(Default)]
struct Inner {
    state: RefCell<State>,
}

impl Inner {
    fn fail(&self, message: String) {
        let children = {
            let mut state = self.state.borrow_mut();
            match &mut state.failure {
                Some(failure) => {
                    failure.failures += 1;
                    return;
                }
                None => {
                    state.failure = Some(TaskGroupError {
                        first: message,
                        failures: 1,
                    });
                }
            }
            state.children.clone()
        };
        for child in children {
            child.cancel();
        }
    }

    fn child_finished(&self) {
        let waiter = {
            let mut state = self.state.borrow_mut();
            state.running -= 1;
            if state.running > 0 {
                return;
            }
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// Counts its child out when the child's future ends (done or dropped).
struct Finished(Rc<Inner>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.child_finished();
    }
}

/// `asyncio.TaskGroup()`: children cancelled as soon as one fails (panics,
/// or returns `Err` for [`create_fallible`](Self::create_fallible)), and
/// [`wait`](Self::wait) for them all; dropping the group cancels the
/// children still running. `!Send`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio::{self, TaskError, TaskGroup};
///
/// asyncio::run(async {
///     let group = TaskGroup::new();
///     let slow = group.create_task(asyncio::sleep(Duration::from_secs(3600)));
///     let bad = group.create_fallible(async { Err::<(), _>("bad input") });
///     let failure = group.wait().await.unwrap_err();
///     assert_eq!(failure.first, "bad input");
///     assert_eq!(slow.await, Err(TaskError::Cancelled));
///     assert_eq!(bad.await, Ok(Err("bad input")));
/// });
/// ```
pub struct TaskGroup {
    inner: Rc<Inner>,
    core: Rc<Core>,
}

impl TaskGroup {
    /// A group on the running loop.
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    pub fn new() -> Self {
        TaskGroup {
            inner: Rc::default(),
            core: Core::expect_current("asyncio::TaskGroup::new"),
        }
    }

    /// Creates a child task (Python's `tg.create_task`); the group fails
    /// if it panics. After the group failed, the child is cancelled at
    /// once.
    pub fn create_task<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.spawn(future, |_| None)
    }

    /// Creates a child task that fails the group by returning `Err` as
    /// well as by panicking.
    pub fn create_fallible<F, T, E>(&self, future: F) -> Task<Result<T, E>>
    where
        F: Future<Output = Result<T, E>> + 'static,
        E: fmt::Display,
    {
        self.spawn(future, |output| output.as_ref().err().map(E::to_string))
    }

    fn spawn<F>(&self, future: F, failure: fn(&F::Output) -> Option<String>) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.inner.state.borrow_mut().running += 1;
        let finished = Finished(Rc::clone(&self.inner));
        let child = async move {
            let finished = finished;
            let mut future = pin!(future);
            let caught =
                poll_fn(
                    |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                        Ok(Poll::Pending) => Poll::Pending,
                        Err(payload) => Poll::Ready(Err(payload)),
                    },
                )
                .await;
            match caught {
                Ok(output) => {
                    if let Some(message) = failure(&output) {
                        finished.0.fail(message);
                    }
                    output
                }
                Err(payload) => {
                    finished.0.fail(panic_message(&*payload));
                    // The task reports the panic too.
                    resume_unwind(payload)
                }
            }
        };
        let task = self.core.spawn(child);
        let failed = {
            let mut state = self.inner.state.borrow_mut();
            state.children.retain(|c| !c.is_done());
            state.children.push(task.canceller());
            state.failure.is_some()
        };
        if failed {
            task.cancel();
        }
        task
    }

    /// Waits until every child has finished (Python: the end of `async
    /// with`); the first failure, if any.
    pub async fn wait(self) -> Result<(), TaskGroupError> {
        poll_fn(|cx| {
            let mut state = self.inner.state.borrow_mut();
            if state.running == 0 {
                Poll::Ready(())
            } else {
                state.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        let failure = self.inner.state.borrow_mut().failure.take();
        failure.map_or(Ok(()), Err)
    }

    /// Children not finished.
    pub fn running(&self) -> usize {
        self.inner.state.borrow().running
    }
}

impl Default for TaskGroup {
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl Drop for TaskGroup {
    fn drop(&mut self) {
        let children = std::mem::take(&mut self.inner.state.borrow_mut().children);
        for child in children {
            child.cancel();
        }
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("TaskGroup")
            .field("running", &state.running)
            .field("failed", &state.failure.is_some())
            .finish()
    }
}
