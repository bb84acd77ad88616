//! `asyncio.Barrier` (Python 3.11): `parties` tasks wait for each other.
//!
//! One facade `Mutex` holds how many arrived in the current round, the
//! round's number (its *generation*), whether the barrier is broken, and
//! the waiters. The last arrival starts a new generation and notifies
//! everyone; a waiter released by a new generation returns its arrival
//! index, one woken without it (by `abort` or `reset`) gets
//! [`BrokenBarrier`]. A waiter cancelled before the round fills leaves it
//! (the count goes down, as in Python).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::{wake_all, WaitList};
use crate::barrier::{BrokenBarrier, ZeroParties};
use crate::sync::Mutex;

struct State {
    arrived: usize,
    generation: u64,
    broken: bool,
    waiters: WaitList,
}

/// `asyncio.Barrier(parties)`: `wait().await -> Result<index, BrokenBarrier>`,
/// `abort`, `reset`, `parties`, `n_waiting`, `is_broken`. `Send + Sync`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use synclings::asyncio::{self, Barrier};
///
/// let mut indexes = asyncio::run(async {
///     let barrier = Rc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let barrier = barrier.clone();
///             asyncio::create_task(async move { barrier.wait().await })
///         })
///         .collect();
///     let mut indexes = Vec::new();
///     for task in tasks {
///         indexes.push(task.await.unwrap().unwrap());
///     }
///     indexes
/// });
/// indexes.sort();
/// assert_eq!(indexes, [0, 1, 2]);
/// ```
pub struct Barrier {
    parties: usize,
    state: Mutex<State>,
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Panics
    ///
    /// If `parties` is 0 (Python raises `ValueError`); see
    /// [`try_new`](Self::try_new).
    pub fn new(parties: usize) -> Self {
        Self::try_new(parties).unwrap_or_else(|e| panic!("asyncio::Barrier::new: {e}"))
    }

    /// A barrier for `parties` tasks, or [`ZeroParties`] if `parties` is 0.
    pub fn try_new(parties: usize) -> Result<Self, ZeroParties> {
        if parties == 0 {
            return Err(ZeroParties);
        }
        Ok(Barrier {
            parties,
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
                broken: false,
                waiters: WaitList::default(),
            }),
        })
    }

    /// Waits until `parties` tasks are waiting; returns this task's arrival
    /// index in `0..parties` (the last arrival gets `parties - 1`).
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            queued: None,
        }
    }

    /// Breaks the barrier: every waiter, and every later `wait`, gets
    /// [`BrokenBarrier`] until [`reset`](Self::reset).
    pub fn abort(&self) {
        let mut wakers = Vec::new();
        {
            let mut state = self.state.lock();
            state.broken = true;
            state.waiters.notify_all(&mut wakers);
        }
        wake_all(wakers);
    }

    /// Empties the barrier and mends it: the tasks waiting now get
    /// [`BrokenBarrier`], later ones start a fresh round.
    pub fn reset(&self) {
        let mut wakers = Vec::new();
        {
            let mut state = self.state.lock();
            state.waiters.notify_all(&mut wakers);
            state.arrived = 0;
            state.broken = false;
        }
        wake_all(wakers);
    }

    /// The number of tasks needed to pass.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many tasks wait now.
    pub fn n_waiting(&self) -> usize {
        self.state.lock().waiters.waiting()
    }

    /// True once aborted (until reset).
    pub fn is_broken(&self) -> bool {
        self.state.lock().broken
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("waiting", &state.waiters.waiting())
            .field("broken", &state.broken)
            .finish()
    }
}

/// The future of [`Barrier::wait`].
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    /// (ticket, generation, index) while waiting.
    queued: Option<(u64, u64, usize)>,
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize, BrokenBarrier>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let parties = this.barrier.parties;
        let mut wakers = Vec::new();
        let result = {
            let mut state = this.barrier.state.lock();
            match this.queued {
                None if state.broken => Poll::Ready(Err(BrokenBarrier)),
                None => {
                    let index = state.arrived;
                    state.arrived += 1;
                    if state.arrived == parties {
                        state.arrived = 0;
                        state.generation += 1;
                        state.waiters.notify_all(&mut wakers);
                        Poll::Ready(Ok(index))
                    } else {
                        let ticket = state.waiters.push(cx.waker());
                        this.queued = Some((ticket, state.generation, index));
                        Poll::Pending
                    }
                }
                Some((ticket, generation, index)) => {
                    if state.waiters.check(ticket, cx.waker()) {
                        this.queued = None;
                        if state.generation != generation {
                            Poll::Ready(Ok(index))
                        } else {
                            Poll::Ready(Err(BrokenBarrier))
                        }
                    } else {
                        Poll::Pending
                    }
                }
            }
        };
        wake_all(wakers);
        result
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some((ticket, generation, _)) = self.queued {
            let mut state = self.barrier.state.lock();
            // Not released yet: leave the round it was filling.
            if state.waiters.remove(ticket) == Some(false) && state.generation == generation {
                state.arrived = state.arrived.saturating_sub(1);
            }
        }
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("queued", &self.queued.is_some())
            .finish()
    }
}
