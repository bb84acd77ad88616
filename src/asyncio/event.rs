//! `asyncio.Event`: a flag that tasks wait for.
//!
//! The flag and the [`WaitList`] of waiters live under one facade `Mutex`.
//! `set` notifies every waiter; a notified waiter returns even if `clear`
//! came before it ran (Python's waiters get their future's result the
//! same way). `Send + Sync`: `set` from a plain thread wakes the tasks on
//! their loop (this is how `net`'s asyncio server learns of a shutdown).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::{wake_all, WaitList};
use crate::sync::Mutex;

struct State {
    flag: bool,
    waiters: WaitList,
}

/// `asyncio.Event()`: `set`, `clear`, `is_set`, `wait().await`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use synclings::asyncio::{self, Event};
///
/// let gate = Arc::new(Event::new());
/// let opener = gate.clone();
/// let opened = asyncio::run(async move {
///     let waiter = asyncio::create_task({
///         let gate = gate.clone();
///         async move { gate.wait().await }
///     });
///     // A plain thread opens the gate: the loop is woken.
///     std::thread::spawn(move || opener.set());
///     waiter.await.unwrap();
///     gate.is_set()
/// });
/// assert!(opened);
/// ```
pub struct Event {
    state: Mutex<State>,
}

impl Event {
    /// A cleared event.
    pub fn new() -> Self {
        Event {
            state: Mutex::new(State {
                flag: false,
                waiters: WaitList::default(),
            }),
        }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let mut wakers = Vec::new();
        {
            let mut state = self.state.lock();
            state.flag = true;
            state.waiters.notify_all(&mut wakers);
        }
        wake_all(wakers);
    }

    /// Clears the flag: later `wait`s wait again.
    pub fn clear(&self) {
        self.state.lock().flag = false;
    }

    /// True while the flag is set.
    pub fn is_set(&self) -> bool {
        self.state.lock().flag
    }

    /// Waits until the flag is set (at once if it is).
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            event: self,
            ticket: None,
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Event")
            .field("set", &state.flag)
            .field("waiters", &state.waiters.waiting())
            .finish()
    }
}

/// The future of [`Event::wait`].
pub struct Wait<'a> {
    event: &'a Event,
    ticket: Option<u64>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = this.event.state.lock();
        match this.ticket {
            None if state.flag => Poll::Ready(()),
            None => {
                this.ticket = Some(state.waiters.push(cx.waker()));
                Poll::Pending
            }
            Some(ticket) => {
                if state.waiters.check(ticket, cx.waker()) {
                    this.ticket = None;
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            // Every waiter is notified by a `set`: nothing to pass on.
            self.event.state.lock().waiters.remove(ticket);
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("queued", &self.ticket.is_some())
            .finish()
    }
}
