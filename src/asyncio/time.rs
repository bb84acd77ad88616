//! Time: [`sleep`], [`sleep_until`], [`yield_now`], [`wait_for`] (Python's
//! `asyncio.sleep`, `asyncio.wait_for` and `asyncio.timeout`).
//!
//! A [`Sleep`] puts one entry in the loop's timer heap when first polled
//! and takes it out when dropped: a cancelled sleep leaves nothing behind.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::event_loop::{far_future, Core};
use super::timers::{Action, TimerKey};

/// The future of [`sleep`] and [`sleep_until`]. `!Send`: once polled it is
/// registered with its loop's timer heap.
pub struct Sleep {
    deadline: Instant,
    state: State,
}

enum State {
    /// Not registered yet (or reset).
    Idle,
    /// `sleep(0)`: yield once.
    YieldOnce,
    Registered(Rc<Core>, TimerKey),
    Done,
}

/// Waits until `delay` has passed (Python's `await asyncio.sleep(delay)`).
/// `sleep(Duration::ZERO)` yields to the other tasks once, as Python's
/// `sleep(0)` does.
///
/// # Panics
///
/// When polled outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use synclings::asyncio;
///
/// let waited = asyncio::run(async {
///     let start = Instant::now();
///     asyncio::sleep(Duration::from_millis(20)).await;
///     start.elapsed()
/// });
/// assert!(waited >= Duration::from_millis(20));
/// ```
pub fn sleep(delay: Duration) -> Sleep {
    if delay.is_zero() {
        return Sleep {
            deadline: Instant::now(),
            state: State::YieldOnce,
        };
    }
    sleep_until(Instant::now().checked_add(delay).unwrap_or_else(far_future))
}

/// Waits until `deadline` (Python's `loop.call_at` as a coroutine).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        state: State::Idle,
    }
}

/// Lets every other ready task and callback run once before going on
/// (Python's `await asyncio.sleep(0)`).
pub fn yield_now() -> Sleep {
    sleep(Duration::ZERO)
}

impl Sleep {
    /// When it ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline passed (and the sleep was polled since).
    pub fn is_elapsed(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Moves the deadline (earlier or later), keeping the future: one timer
    /// entry instead of a new `Sleep`. For an idle timeout re-armed on
    /// activity, reset it only when it fires (see `net`'s asyncio server).
    pub fn reset(&mut self, deadline: Instant) {
        self.unregister();
        self.deadline = deadline;
        self.state = State::Idle;
    }

    fn unregister(&mut self) {
        if let State::Registered(core, key) = std::mem::replace(&mut self.state, State::Idle) {
            let action = core.timers.borrow_mut().cancel(key);
            drop(action);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &this.state {
            State::Done => Poll::Ready(()),
            State::YieldOnce => {
                this.state = State::Done;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            State::Idle => {
                if Instant::now() >= this.deadline {
                    this.state = State::Done;
                    return Poll::Ready(());
                }
                let core = Core::expect_current("asyncio::sleep");
                let key = core
                    .timers
                    .borrow_mut()
                    .insert(this.deadline, Action::Wake(cx.waker().clone()));
                this.state = State::Registered(core, key);
                Poll::Pending
            }
            State::Registered(core, key) => {
                let mut timers = core.timers.borrow_mut();
                if timers.is_pending(*key) {
                    timers.set_waker(*key, cx.waker());
                    Poll::Pending
                } else {
                    drop(timers);
                    this.state = State::Done;
                    Poll::Ready(())
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}

/// [`wait_for`] ran out of time (Python's `TimeoutError`); the future was
/// dropped (cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutError {
    /// The time it was given.
    pub timeout: Duration,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the operation did not finish within {:?} and was cancelled: give it more time or retry",
            self.timeout
        )
    }
}

impl std::error::Error for TimeoutError {}

/// Runs `future` for at most `timeout` (Python's `asyncio.wait_for`, and
/// `async with asyncio.timeout(t)`): its output, or `Err(TimeoutError)`
/// after dropping it. A future that finishes in the same loop iteration as
/// the deadline wins (it is polled first).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio;
///
/// asyncio::run(async {
///     let quick = asyncio::wait_for(async { 1 }, Duration::from_secs(1)).await;
///     assert_eq!(quick, Ok(1));
///     let slow = asyncio::sleep(Duration::from_secs(3600));
///     assert!(asyncio::wait_for(slow, Duration::from_millis(5)).await.is_err());
/// });
/// ```
pub async fn wait_for<F: Future>(future: F, timeout: Duration) -> Result<F::Output, TimeoutError> {
    let mut future = pin!(future);
    let mut timer = sleep(timeout.max(Duration::from_nanos(1)));
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(TimeoutError { timeout })),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// [`wait_for`] under the name of Python 3.11's `asyncio.timeout`.
pub async fn timeout<F: Future>(timeout: Duration, future: F) -> Result<F::Output, TimeoutError> {
    wait_for(future, timeout).await
}
