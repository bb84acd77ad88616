//! `asyncio.Future`: a result that one side sets and any number of tasks
//! await.
//!
//! A [`Future<T>`] is a cheap, clonable handle (`Rc`) to one slot:
//! [`set_result`](Future::set_result) or [`cancel`](Future::cancel) once,
//! then every [`wait`](Future::wait) returns a clone of the outcome.
//! `!Send`, as Python's (which belongs to one loop): from another thread,
//! set it through [`LoopHandle::call_soon_threadsafe`](super::LoopHandle::call_soon_threadsafe).

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::task::TaskError;

/// The future was already done (Python's `InvalidStateError`); the value
/// that could not be set is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidState<T>(pub T);

impl<T> fmt::Display for InvalidState<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the future is already done (set or cancelled): a result is set only once")
    }
}

impl<T: fmt::Debug> std::error::Error for InvalidState<T> {}

struct Slot<T> {
    outcome: Option<Result<T, TaskError>>,
    waiters: Vec<Waker>,
}

/// `asyncio.Future()`: a cheap, clonable handle to one result slot, set
/// (or cancelled) once and awaited by any number of tasks, each getting a
/// clone. `!Send`, as Python's, which belongs to one loop.
///
/// # Examples
///
/// ```
/// use synclings::asyncio::{self, Future};
///
/// let got = asyncio::run(async {
///     let answer = Future::new();
///     let reader = asyncio::create_task({
///         let answer = answer.clone();
///         async move { answer.wait().await }
///     });
///     answer.set_result(42).unwrap();
///     assert!(answer.set_result(0).is_err(), "set once");
///     reader.await.unwrap()
/// });
/// assert_eq!(got, Ok(42));
/// ```
pub struct Future<T> {
    slot: Rc<RefCell<Slot<T>>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            slot: Rc::clone(&self.slot),
        }
    }
}

impl<T> Future<T> {
    /// A pending future.
    pub fn new() -> Self {
        Future {
            slot: Rc::new(RefCell::new(Slot {
                outcome: None,
                waiters: Vec::new(),
            })),
        }
    }

    fn settle(&self, outcome: Result<T, TaskError>) -> Result<(), Result<T, TaskError>> {
        let waiters = {
            let mut slot = self.slot.borrow_mut();
            if slot.outcome.is_some() {
                return Err(outcome);
            }
            slot.outcome = Some(outcome);
            std::mem::take(&mut slot.waiters)
        };
        for waiter in waiters {
            waiter.wake();
        }
        Ok(())
    }

    /// Sets the result and wakes every waiter (Python's `set_result`).
    pub fn set_result(&self, value: T) -> Result<(), InvalidState<T>> {
        self.settle(Ok(value)).map_err(|outcome| match outcome {
            Ok(value) => InvalidState(value),
            Err(_) => unreachable!("we passed Ok"),
        })
    }

    /// Cancels the future: waiters get `Err(TaskError::Cancelled)`. False
    /// if it was already done (Python's `cancel()`).
    pub fn cancel(&self) -> bool {
        self.settle(Err(TaskError::Cancelled)).is_ok()
    }

    /// True once set or cancelled.
    pub fn is_done(&self) -> bool {
        self.slot.borrow().outcome.is_some()
    }

    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.slot.borrow().outcome, Some(Err(TaskError::Cancelled)))
    }
}

impl<T: Clone> Future<T> {
    /// The outcome if done (Python's `result()`, without the exception for
    /// "not done yet").
    pub fn result(&self) -> Option<Result<T, TaskError>> {
        self.slot.borrow().outcome.clone()
    }

    /// Waits until the future is done; a clone of its outcome (Python's
    /// `await fut`).
    pub async fn wait(&self) -> Result<T, TaskError> {
        poll_fn(|cx| {
            let mut slot = self.slot.borrow_mut();
            match &slot.outcome {
                Some(outcome) => Poll::Ready(outcome.clone()),
                None => {
                    if !slot.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        slot.waiters.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<T> Default for Future<T> {
    fn default() -> Self {
        Future::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("outcome", &self.slot.borrow().outcome)
            .finish()
    }
}
