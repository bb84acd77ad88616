//! The handshake between an event loop going to sleep and the threads that
//! wake it: [`Handshake<T>`].
//!
//! An event loop runs on one thread, but a [`Waker`](std::task::Waker) may
//! be called from any thread (a [`to_thread`](super::to_thread) worker, a
//! blocking library, [`LoopHandle::call_soon_threadsafe`](super::LoopHandle::call_soon_threadsafe)).
//! Such a thread cannot touch the loop's ready queue; it hands its item
//! (a task to run, a callback) to the loop through this handshake, and wakes
//! the loop if, and only if, the loop is asleep in `select` or about to be:
//!
//! - the loop calls [`before_sleep`](Handshake::before_sleep): it takes
//!   whatever was handed over, and only if there was nothing it marks itself
//!   *sleeping* and may block in `select`;
//! - a thread calls [`push`](Handshake::push): it adds its item and learns
//!   whether the loop is sleeping and nobody has rung it yet; if so it
//!   rings it (the selector's `Notifier`: one `write` to an eventfd);
//! - the loop, back from `select`, calls [`after_sleep`](Handshake::after_sleep):
//!   not sleeping any more, and it takes what arrived meanwhile.
//!
//! Both sides decide under one facade `Mutex`, so the lost wake-up (the loop
//! checks the queue, a thread pushes and sees "not sleeping", the loop goes
//! to sleep) cannot happen: `tests/loom_asyncio.rs` model-checks it with the
//! notifier played by an [`Event`](crate::Event). The mutex is taken twice
//! per loop iteration and once per cross-thread wake-up, never on the
//! same-thread path (a task waking another task of its own loop pushes to
//! the loop's local queue directly).
//!
//! # Examples
//!
//! ```
//! use synclings::asyncio::Handshake;
//!
//! let handshake = Handshake::new();
//! let mut got = Vec::new();
//! // A thread hands an item over while the loop is awake: no ring needed.
//! assert_eq!(handshake.push(1), Ok(false));
//! // The loop finds it before sleeping, so it must not sleep.
//! assert!(!handshake.before_sleep(&mut got));
//! assert_eq!(got, [1]);
//! // Now nothing is pending: the loop may sleep; a push must ring it, once.
//! assert!(handshake.before_sleep(&mut got));
//! assert_eq!(handshake.push(2), Ok(true));
//! assert_eq!(handshake.push(3), Ok(false));
//! handshake.after_sleep(&mut got);
//! assert_eq!(got, [1, 2, 3]);
//! ```

use std::fmt;

use crate::sync::Mutex;

/// Items handed to a sleeping (or running) event loop from other threads;
/// see the [module docs](self). `Send + Sync` when `T: Send`.
pub struct Handshake<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Handed over, not yet taken by the loop.
    items: Vec<T>,
    /// The loop decided to sleep (and has not yet come back).
    sleeping: bool,
    /// Somebody rang the sleeping loop already: the others need not.
    rung: bool,
    /// The loop is closed: pushes are refused (the item is handed back).
    closed: bool,
}

impl<T> Handshake<T> {
    /// An empty handshake, loop awake.
    pub fn new() -> Self {
        Handshake {
            state: Mutex::new(State {
                items: Vec::new(),
                sleeping: false,
                rung: false,
                closed: false,
            }),
        }
    }

    /// Hands `item` to the loop. `Ok(true)`: the loop is asleep and nobody
    /// rang it yet, so the caller must ring it (after this returns, outside
    /// the lock); `Ok(false)`: it will see the item without a ring.
    /// `Err(item)` once the loop is [closed](Self::close).
    pub fn push(&self, item: T) -> Result<bool, T> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(item);
        }
        state.items.push(item);
        let ring = state.sleeping && !state.rung;
        state.rung |= ring;
        Ok(ring)
    }

    /// The loop, before it blocks: moves what was handed over into `into`.
    /// Returns true if there was nothing, in which case the loop is now
    /// *sleeping* and may block until rung; false: it must not block.
    pub fn before_sleep(&self, into: &mut Vec<T>) -> bool {
        let mut state = self.state.lock();
        if state.items.is_empty() {
            state.sleeping = true;
            true
        } else {
            into.append(&mut state.items);
            false
        }
    }

    /// The loop, busy (it will not sleep this turn): moves what was handed
    /// over into `into`, leaving the loop awake.
    pub fn take(&self, into: &mut Vec<T>) {
        into.append(&mut self.state.lock().items);
    }

    /// The loop, back from its wait (or not having waited): awake again;
    /// moves what arrived meanwhile into `into`.
    pub fn after_sleep(&self, into: &mut Vec<T>) {
        let mut state = self.state.lock();
        state.sleeping = false;
        state.rung = false;
        into.append(&mut state.items);
    }

    /// Refuses every later push and returns the items not taken.
    pub fn close(&self) -> Vec<T> {
        let mut state = self.state.lock();
        state.closed = true;
        std::mem::take(&mut state.items)
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

impl<T> Default for Handshake<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Handshake<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Handshake")
            .field("pending", &state.items.len())
            .field("sleeping", &state.sleeping)
            .field("rung", &state.rung)
            .field("closed", &state.closed)
            .finish()
    }
}
