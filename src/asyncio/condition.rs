//! `asyncio.Condition`: wait for a notification while holding a
//! [`Lock`]'s value.
//!
//! A waiter queues in the condition's [`WaitList`] *before* it releases
//! the lock, so a `notify` that follows the release always finds it.
//! `notify(n)` notifies the `n` longest waiters (FIFO); a waiter dropped
//! (cancelled) after it was notified passes its notification on to the
//! next waiter, so `notify(1)` is never swallowed (Python fixed the same
//! bug in 3.13). The guard is moved into [`wait`](ConditionGuard::wait)
//! and comes back from it: a wait that is cancelled cannot leave the
//! caller holding a guard without the lock.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::semaphore::{Lock, LockGuard};
use super::waiters::{wake_all, WaitList};
use crate::sync::Mutex;

/// `asyncio.Condition()`, guarding a value of type `T`. `Send + Sync` when
/// `T: Send`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use synclings::asyncio::{self, Condition};
///
/// let got = asyncio::run(async {
///     let cond = Rc::new(Condition::new(Vec::<u32>::new()));
///     let consumer = asyncio::create_task({
///         let cond = cond.clone();
///         async move {
///             let mut items = cond.lock().await.wait_for(|v| !v.is_empty()).await;
///             items.pop()
///         }
///     });
///     let mut items = cond.lock().await;
///     items.push(7);
///     items.notify(1);
///     drop(items);
///     consumer.await.unwrap()
/// });
/// assert_eq!(got, Some(7));
/// ```
pub struct Condition<T = ()> {
    lock: Lock<T>,
    waiters: Mutex<WaitList>,
}

impl<T> Condition<T> {
    /// A condition over a new lock holding `value`.
    pub fn new(value: T) -> Self {
        Condition {
            lock: Lock::new(value),
            waiters: Mutex::new(WaitList::default()),
        }
    }

    /// Takes the lock (Python's `async with cond`).
    pub async fn lock(&self) -> ConditionGuard<'_, T> {
        ConditionGuard {
            condition: self,
            guard: self.lock.acquire().await,
        }
    }

    /// How many tasks wait for a notification.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().waiting()
    }

    fn notify(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut waiters = self.waiters.lock();
            for _ in 0..n {
                match waiters.notify_one() {
                    Some(waker) => wakers.push(waker),
                    None => break,
                }
            }
        }
        wake_all(wakers);
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// The condition's lock, held: derefs to the value; `wait`, `wait_for`,
/// `notify`, `notify_all`.
#[must_use = "dropping the guard releases the lock at once"]
pub struct ConditionGuard<'a, T> {
    condition: &'a Condition<T>,
    guard: LockGuard<'a, T>,
}

impl<'a, T> ConditionGuard<'a, T> {
    /// Releases the lock, waits for a notification, takes the lock again
    /// (Python's `await cond.wait()`). No spurious wake-ups: it returns
    /// only after a `notify` chose it.
    pub async fn wait(self) -> ConditionGuard<'a, T> {
        let condition = self.condition;
        Notified {
            condition,
            guard: Some(self.guard),
            ticket: None,
        }
        .await;
        condition.lock().await
    }

    /// Waits until `predicate(&value)` holds (Python's `wait_for`).
    pub async fn wait_for(
        mut self,
        mut predicate: impl FnMut(&T) -> bool,
    ) -> ConditionGuard<'a, T> {
        while !predicate(&self) {
            self = self.wait().await;
        }
        self
    }

    /// Wakes the `n` longest waiters (Python's `notify(n)`; holding the
    /// lock is enforced by the type).
    pub fn notify(&self, n: usize) {
        self.condition.notify(n);
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.condition.notify(usize::MAX);
    }
}

impl<T> Deref for ConditionGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for ConditionGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for ConditionGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Queues, then releases the lock, then waits to be notified.
struct Notified<'a, T> {
    condition: &'a Condition<T>,
    /// Released (dropped) right after the waiter is queued.
    guard: Option<LockGuard<'a, T>>,
    ticket: Option<u64>,
}

impl<T> Future for Notified<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.ticket {
            None => {
                this.ticket = Some(this.condition.waiters.lock().push(cx.waker()));
                // Queued first, released second: no notify can fall between.
                drop(this.guard.take());
                Poll::Pending
            }
            Some(ticket) => {
                if this.condition.waiters.lock().check(ticket, cx.waker()) {
                    this.ticket = None;
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<T> Drop for Notified<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let was_notified = self.condition.waiters.lock().remove(ticket);
            if was_notified == Some(true) {
                // Cancelled with a notification in hand: pass it on.
                self.condition.notify(1);
            }
        }
    }
}
