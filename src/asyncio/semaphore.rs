//! `asyncio.Semaphore`, `BoundedSemaphore` and `Lock`: permits handed over
//! first come, first served.
//!
//! The state is the number of free permits and the [`WaitList`] of
//! acquirers, under one facade `Mutex`. The rules:
//!
//! - `acquire` takes a free permit at once only if nobody waits (FIFO: no
//!   barging past a waiter); otherwise it queues;
//! - `release` **hands** each permit to the longest-waiting acquirer that
//!   has none yet (it is *reserved* for it), and only adds it to the free
//!   count when nobody waits;
//! - an acquirer dropped (cancelled) after a permit was handed to it, but
//!   before it took it, hands it on in turn: no permit is lost and no
//!   waiter sleeps for ever (the bpo-45997 class of bug; loom-checked).
//!
//! These primitives are `Send + Sync`: unlike Python's, which belong to one
//! loop, they work across loops and threads (a `release` from a plain
//! thread wakes the task on its loop).

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::waiters::{wake_all, WaitList};
use crate::semaphore::ReleaseError;
use crate::sync::Mutex;

struct State {
    /// Free permits (not counting the ones reserved for notified waiters).
    free: usize,
    acquirers: WaitList,
}

impl State {
    /// Gives `n` permits back: to waiters first, the rest to `free`.
    fn release(&mut self, n: usize, wakers: &mut Vec<Waker>) {
        let mut left = n;
        while left > 0 {
            match self.acquirers.notify_one() {
                Some(waker) => {
                    wakers.push(waker);
                    left -= 1;
                }
                None => break,
            }
        }
        self.free += left;
    }

    /// Free permits, the reserved ones included.
    fn available(&self) -> usize {
        self.free + self.acquirers.notified()
    }
}

/// `asyncio.Semaphore(n)`: at most `n` permits out at once; `acquire`
/// waits (in FIFO order) for one. `Send + Sync`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
/// use std::time::Duration;
/// use synclings::asyncio::{self, Semaphore};
///
/// // Seed program 5 with tasks: ten workers, five at a time.
/// let peak = asyncio::run(async {
///     let room = Rc::new((Semaphore::new(5), Cell::new(0), Cell::new(0)));
///     let workers: Vec<_> = (0..10)
///         .map(|_| {
///             let room = room.clone();
///             asyncio::create_task(async move {
///                 let (seats, inside, peak) = &*room;
///                 let _permit = seats.acquire().await;
///                 inside.set(inside.get() + 1);
///                 peak.set(peak.get().max(inside.get()));
///                 asyncio::sleep(Duration::from_millis(5)).await;
///                 inside.set(inside.get() - 1);
///             })
///         })
///         .collect();
///     for worker in workers {
///         worker.await.unwrap();
///     }
///     room.2.get()
/// });
/// assert_eq!(peak, 5);
/// ```
pub struct Semaphore {
    state: Mutex<State>,
    /// `Some(n)` for a `BoundedSemaphore`.
    bound: Option<usize>,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State {
                free: permits,
                acquirers: WaitList::default(),
            }),
            bound: None,
        }
    }

    /// Waits for a permit (Python's `await sem.acquire()` / `async with
    /// sem`); dropping the [`Permit`] gives it back.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            ticket: None,
        }
    }

    /// A permit if one is free and nobody waits for one (Python: `not
    /// sem.locked()` then `acquire`).
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.state.lock();
        (state.free > 0 && state.acquirers.waiting() == 0).then(|| {
            state.free -= 1;
            Permit { semaphore: self }
        })
    }

    /// Adds `n` permits, waking up to `n` waiters (Python's `release()`,
    /// `n` times).
    pub fn release(&self, n: usize) {
        let mut wakers = Vec::new();
        self.state.lock().release(n, &mut wakers);
        wake_all(wakers);
    }

    /// Free permits (Python's `sem._value`), counting those handed to
    /// waiters that have not run yet.
    pub fn available(&self) -> usize {
        self.state.lock().available()
    }

    /// True if `acquire` would wait (Python's `locked()`).
    pub fn is_locked(&self) -> bool {
        let state = self.state.lock();
        state.free == 0 || state.acquirers.waiting() > 0
    }

    /// How many tasks wait for a permit.
    pub fn waiters(&self) -> usize {
        self.state.lock().acquirers.waiting()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Semaphore")
            .field("available", &state.available())
            .field("waiters", &state.acquirers.waiting())
            .field("bound", &self.bound)
            .finish()
    }
}

/// The future of [`Semaphore::acquire`].
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    /// Set while queued.
    ticket: Option<u64>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let this = self.get_mut();
        let semaphore = this.semaphore;
        let mut state = semaphore.state.lock();
        match this.ticket {
            None if state.free > 0 && state.acquirers.waiting() == 0 => {
                state.free -= 1;
                Poll::Ready(Permit { semaphore })
            }
            None => {
                this.ticket = Some(state.acquirers.push(cx.waker()));
                Poll::Pending
            }
            Some(ticket) => {
                if state.acquirers.check(ticket, cx.waker()) {
                    // The permit reserved for us by `release`.
                    this.ticket = None;
                    Poll::Ready(Permit { semaphore })
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let mut wakers = Vec::new();
        {
            let mut state = self.semaphore.state.lock();
            if state.acquirers.remove(ticket) == Some(true) {
                // Cancelled with a permit in hand: pass it on.
                state.release(1, &mut wakers);
            }
        }
        wake_all(wakers);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("queued", &self.ticket.is_some())
            .finish()
    }
}

/// A permit of a [`Semaphore`] (or [`BoundedSemaphore`]); dropping it gives
/// it back.
#[must_use = "dropping the permit gives it back at once"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Permit<'_> {
    /// Keeps the permit taken for good (nothing is given back).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(1);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit")
    }
}

/// `asyncio.BoundedSemaphore(n)`: a [`Semaphore`] whose `release` refuses
/// to exceed `n` available permits. Derefs to the `Semaphore` for
/// `acquire` and the rest.
pub struct BoundedSemaphore {
    inner: Semaphore,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` free permits, at most `permits`.
    pub fn new(permits: usize) -> Self {
        BoundedSemaphore {
            inner: Semaphore {
                bound: Some(permits),
                ..Semaphore::new(permits)
            },
        }
    }

    /// Adds `n` permits; fails, changing nothing, if more than the bound
    /// would then be available (Python: `ValueError: BoundedSemaphore
    /// released too many times`).
    pub fn release(&self, n: usize) -> Result<(), ReleaseError> {
        let bound = self.inner.bound.unwrap_or(usize::MAX);
        let mut wakers = Vec::new();
        {
            let mut state = self.inner.state.lock();
            let available = state.available();
            if available.checked_add(n).is_none_or(|total| total > bound) {
                return Err(ReleaseError::new(n, available, bound));
            }
            state.release(n, &mut wakers);
        }
        wake_all(wakers);
        Ok(())
    }
}

impl Deref for BoundedSemaphore {
    type Target = Semaphore;
    fn deref(&self) -> &Semaphore {
        &self.inner
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// `asyncio.Lock`: a semaphore of one permit that guards a value, FIFO.
/// `Send + Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use synclings::asyncio::{self, Lock};
///
/// let total = asyncio::run(async {
///     let counter = Rc::new(Lock::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let counter = counter.clone();
///             asyncio::create_task(async move {
///                 let mut n = counter.acquire().await;
///                 let seen = *n;
///                 asyncio::yield_now().await; // others run, none gets the lock
///                 *n = seen + 1;
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     let n = *counter.acquire().await;
///     n
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Lock<T = ()> {
    permit: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `LockGuard`, and at most one
// guard exists at a time (it holds the semaphore's only permit), so a
// `&Lock` shared between threads gives exclusive access to one thread at a
// time, as `std::sync::Mutex` does: `T: Send` is what that needs.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// An unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        Lock {
            permit: Semaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock (Python's `await lock.acquire()` / `async with
    /// lock`); dropping the guard releases it.
    pub async fn acquire(&self) -> LockGuard<'_, T> {
        let permit = self.permit.acquire().await;
        permit.forget();
        LockGuard {
            lock: self,
            _value: PhantomData,
        }
    }

    /// The lock if it is free and nobody waits for it.
    pub fn try_acquire(&self) -> Option<LockGuard<'_, T>> {
        self.permit.try_acquire().map(|permit| {
            permit.forget();
            LockGuard {
                lock: self,
                _value: PhantomData,
            }
        })
    }

    /// True while somebody holds the lock (Python's `locked()`).
    pub fn is_locked(&self) -> bool {
        self.permit.available() == 0
    }

    /// The value, without locking: `&mut self` proves nobody else has it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.is_locked())
            .field("waiters", &self.permit.waiters())
            .finish()
    }
}

/// The guard of a held [`Lock`]: derefs to the value; dropping it releases
/// the lock (to the longest waiter).
#[must_use = "dropping the guard releases the lock at once"]
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    /// Send and Sync as `&mut T` is: the guard hands out `&mut T`.
    _value: PhantomData<&'a mut T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock's only permit: no other
        // reference to the value exists while it lives.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference handed out by the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.permit.release(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
