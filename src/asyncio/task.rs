//! Tasks: Python's `asyncio.Task`, a future the loop drives on its own.
//!
//! [`create_task`](super::create_task) puts a future in the loop's task
//! table and queues it; [`Task<T>`] is the handle: a future of
//! `Result<T, TaskError>`, with [`cancel`](Task::cancel),
//! [`is_done`](Task::is_done) and [`is_cancelled`](Task::is_cancelled).
//!
//! # How a task is kept
//!
//! One allocation, a `TaskCell<F>` behind an `Rc`, holds the future (pinned
//! in place: it never moves, and is dropped in place), the outcome, and the
//! task's waker's data. The waker is a small `Arc` (the task's key in the loop's
//! table, a *scheduled* flag, the loop's thread-safe half): std requires a
//! `Waker` to be `Send + Sync`, and it is, while the future itself (often
//! `!Send`: it may hold `Rc`s) never leaves the loop's thread. Waking
//! queues the key once (the flag) on the loop's ready queue directly when
//! called on the loop's thread, or through the loop's
//! [`Handshake`](super::Handshake) and `Notifier` from any other thread.
//!
//! # Cancellation is Rust's
//!
//! `cancel()` marks the task and wakes it; when the loop gets to it, the
//! future is **dropped** (not polled), so its destructors run at the
//! suspension point where it waits, and awaiting the task gives
//! `Err(TaskError::Cancelled)`. A task that cancels itself is dropped at its
//! next suspension point. Unlike Python's `CancelledError` a cancellation
//! cannot be caught or refused (`uncancel` has no equivalent); cleanup goes
//! in `Drop`.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{AcqRel, Release};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::event_loop::Shared;

/// Why a task produced no value (Python: `CancelledError`, or the
/// exception that `await task` re-raises).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskError {
    /// The task was cancelled ([`Task::cancel`], its [`TaskGroup`](super::TaskGroup)
    /// failed, or the loop closed with it unfinished): its future was dropped.
    Cancelled,
    /// The task panicked with this message; the loop went on.
    Panicked(String),
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str(
                "the task was cancelled before it finished (its future was dropped): \
                 nothing to retry unless you create it again",
            ),
            TaskError::Panicked(message) => write!(f, "the task panicked: {message}"),
        }
    }
}

impl std::error::Error for TaskError {}

/// A task's number, unique within its loop, in creation order (Python's
/// `Task-N` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub(crate) u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task-{}", self.0)
    }
}

/// The panic payload as text (`&str` and `String` payloads; others get a
/// placeholder).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}

/// The `Send + Sync` half of a task: what its `Waker` carries.
pub(crate) struct TaskWaker {
    /// The task's key in the loop's table ([`MAIN_KEY`](super::event_loop::MAIN_KEY)
    /// for the future of `run_until_complete`).
    pub(crate) key: u64,
    /// True while the key sits in a ready queue: a second wake is free.
    pub(crate) scheduled: AtomicBool,
    pub(crate) shared: Arc<Shared>,
}

impl TaskWaker {
    /// Called by the loop just before it polls the task: wakes from now on
    /// queue it again.
    pub(crate) fn unschedule(&self) {
        self.scheduled.store(false, Release);
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel: pairs with the loop's Release in `unschedule`, so that a
        // wake after the loop cleared the flag queues the task again.
        if !self.scheduled.swap(true, AcqRel) {
            self.shared.schedule(self.key);
        }
    }
}

/// What the loop does with a task of any type.
pub(crate) trait TaskRun {
    /// Runs one step (or the cancellation). True when the task is finished
    /// and can leave the loop's table.
    fn run(&self) -> bool;
    /// Drops the future now and records `Cancelled` (the loop is closing).
    fn cancel_now(&self);
    /// The task's id (for the debug log).
    fn id(&self) -> TaskId;
}

/// A task of any output type, to cancel (for [`TaskGroup`](super::TaskGroup)).
pub(crate) trait Cancel {
    fn cancel(&self) -> bool;
    fn is_done(&self) -> bool;
}

/// What a [`Task<T>`] handle does with its task.
trait Join<T> {
    fn canceller(self: Rc<Self>) -> Rc<dyn Cancel>;
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>>;
    fn request_cancel(&self) -> bool;
    fn is_done(&self) -> bool;
    fn is_cancelled(&self) -> bool;
    fn id(&self) -> TaskId;
}

/// `Cell`s, not a `RefCell`: no borrow flag (8 bytes per task), and no
/// borrow can be held across a call out (a joiner's wake, a waker's drop).
struct Outcome<T> {
    /// `Some` once finished, until the handle takes it (the error boxed:
    /// 16 bytes for a `()` task instead of 32).
    result: Cell<Option<Result<T, Box<TaskError>>>>,
    /// The task awaiting this one.
    joiner: Cell<Option<Waker>>,
    finished: Cell<bool>,
    cancelled: Cell<bool>,
    cancel_requested: Cell<bool>,
}

/// The one allocation of a task.
pub(crate) struct TaskCell<F: Future> {
    id: TaskId,
    /// Pinned: the cell never moves (it lives in an `Rc`), the future is
    /// never moved out, and `None` is written over it to drop it in place.
    future: RefCell<Option<F>>,
    outcome: Outcome<F::Output>,
    /// The `Send + Sync` half; a `Waker` is made from it for each poll
    /// (two atomic operations; keeping a `Waker` here would cost 16 bytes
    /// per task).
    flag: OnceCell<Arc<TaskWaker>>,
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(id: TaskId, future: F) -> Self {
        TaskCell {
            id,
            future: RefCell::new(Some(future)),
            outcome: Outcome {
                result: Cell::new(None),
                joiner: Cell::new(None),
                finished: Cell::new(false),
                cancelled: Cell::new(false),
                cancel_requested: Cell::new(false),
            },
            flag: OnceCell::new(),
        }
    }

    /// Gives the task its waker (once, right after it got its key).
    pub(crate) fn set_waker(&self, flag: Arc<TaskWaker>) {
        let _ = self.flag.set(flag);
    }

    fn wake(&self) {
        if let Some(flag) = self.flag.get() {
            Wake::wake_by_ref(flag);
        }
    }

    /// Drops the future in place; the message of its destructor's panic,
    /// if it panicked.
    fn drop_future(&self) -> Option<String> {
        let mut slot = self.future.borrow_mut();
        catch_unwind(AssertUnwindSafe(|| *slot = None))
            .err()
            .map(|p| panic_message(&*p))
    }

    fn finish(&self, result: Result<F::Output, TaskError>) {
        let outcome = &self.outcome;
        outcome
            .cancelled
            .set(matches!(result, Err(TaskError::Cancelled)));
        outcome.result.set(Some(result.map_err(Box::new)));
        outcome.finished.set(true);
        if let Some(joiner) = outcome.joiner.take() {
            joiner.wake();
        }
    }

    fn cancel_in_place(&self) {
        let result = match self.drop_future() {
            None => Err(TaskError::Cancelled),
            Some(message) => Err(TaskError::Panicked(message)),
        };
        self.finish(result);
    }
}

impl<F: Future> TaskRun for TaskCell<F> {
    fn run(&self) -> bool {
        let Some(flag) = self.flag.get() else {
            return true;
        };
        flag.unschedule();
        if self.outcome.finished.get() {
            return true;
        }
        if self.outcome.cancel_requested.get() {
            self.cancel_in_place();
            return true;
        }
        let polled = {
            let mut slot = self.future.borrow_mut();
            let Some(future) = slot.as_mut() else {
                return true;
            };
            // SAFETY: the future lives inside the `Rc`'d cell, which never
            // moves; it is never moved out of its `Option` (only dropped in
            // place by writing `None` over it), so it stays pinned.
            let future = unsafe { Pin::new_unchecked(future) };
            let waker = Waker::from(Arc::clone(flag));
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx)))
        };
        match polled {
            Ok(Poll::Pending) => {
                // A task that cancelled itself stops at this suspension point.
                if self.outcome.cancel_requested.get() {
                    self.cancel_in_place();
                    return true;
                }
                false
            }
            Ok(Poll::Ready(value)) => {
                let _ = self.drop_future();
                self.finish(Ok(value));
                true
            }
            Err(payload) => {
                let message = panic_message(&*payload);
                drop(payload);
                let _ = self.drop_future();
                self.finish(Err(TaskError::Panicked(message)));
                true
            }
        }
    }

    fn cancel_now(&self) {
        if !self.outcome.finished.get() {
            self.cancel_in_place();
        }
    }

    fn id(&self) -> TaskId {
        self.id
    }
}

impl<F: Future + 'static> Cancel for TaskCell<F> {
    fn cancel(&self) -> bool {
        Join::request_cancel(self)
    }

    fn is_done(&self) -> bool {
        Join::is_done(self)
    }
}

impl<F: Future + 'static> Join<F::Output> for TaskCell<F> {
    fn canceller(self: Rc<Self>) -> Rc<dyn Cancel> {
        self
    }

    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, TaskError>> {
        let outcome = &self.outcome;
        if outcome.finished.get() {
            let result = outcome.result.take().expect(
                "a Task's output was already taken: a finished Task cannot be awaited twice",
            );
            return Poll::Ready(result.map_err(|e| *e));
        }
        let joiner = match outcome.joiner.take() {
            Some(joiner) if joiner.will_wake(cx.waker()) => joiner,
            // The old waker (if any) is dropped here, outside the cell.
            _ => cx.waker().clone(),
        };
        outcome.joiner.set(Some(joiner));
        Poll::Pending
    }

    fn request_cancel(&self) -> bool {
        if self.outcome.finished.get() {
            return false;
        }
        self.outcome.cancel_requested.set(true);
        self.wake();
        true
    }

    fn is_done(&self) -> bool {
        self.outcome.finished.get()
    }

    fn is_cancelled(&self) -> bool {
        self.outcome.cancelled.get()
    }

    fn id(&self) -> TaskId {
        self.id
    }
}

/// A handle to a task: Python's `asyncio.Task`. Await it for the task's
/// `Result<T, TaskError>`.
///
/// Dropping the handle does **not** cancel the task (it runs on, detached,
/// as a Python task you keep no reference to, minus the garbage-collection
/// surprise); call [`cancel`](Self::cancel) for that. `Task` is `!Send`: it
/// belongs to the loop (and thread) that runs the task.
///
/// # Examples
///
/// ```
/// use synclings::asyncio::{self, TaskError};
///
/// let (answer, stopped) = asyncio::run(async {
///     let answer = asyncio::create_task(async { 6 * 7 });
///     let forever = asyncio::create_task(std::future::pending::<()>());
///     assert!(forever.cancel());
///     (answer.await, forever.await)
/// });
/// assert_eq!(answer, Ok(42));
/// assert_eq!(stopped, Err(TaskError::Cancelled));
/// ```
pub struct Task<T> {
    cell: Rc<dyn Join<T>>,
}

impl<T> Task<T> {
    pub(crate) fn new<F>(cell: Rc<TaskCell<F>>) -> Task<T>
    where
        F: Future<Output = T> + 'static,
    {
        Task { cell }
    }

    /// Asks the task to stop (Python's `task.cancel()`): its future is
    /// dropped when the loop next gets to it, and awaiting it gives
    /// `Err(TaskError::Cancelled)`. False if the task had already finished.
    pub fn cancel(&self) -> bool {
        self.cell.request_cancel()
    }

    /// True once the task finished: returned, panicked or was cancelled
    /// (Python's `done()`).
    pub fn is_done(&self) -> bool {
        self.cell.is_done()
    }

    /// True once the task finished by being cancelled (Python's
    /// `cancelled()`).
    pub fn is_cancelled(&self) -> bool {
        self.cell.is_cancelled()
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.cell.id()
    }

    pub(crate) fn canceller(&self) -> Rc<dyn Cancel> {
        Rc::clone(&self.cell).canceller()
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready` (its output was taken).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_join(cx)
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.cell.id())
            .field("done", &self.cell.is_done())
            .field("cancelled", &self.cell.is_cancelled())
            .finish()
    }
}
