//! The FIFO of waiting tasks that every async primitive keeps under its
//! mutex (Python's `collections.deque` of waiter futures).
//!
//! A waiter is *notified* by marking its entry (and waking its task); it
//! leaves the list itself, when its future is next polled ([`WaitList::check`]),
//! or when its future is dropped ([`WaitList::remove`], which says whether
//! it had been notified). That second case is the one Python got wrong
//! for years (bpo-45997 and friends): a task cancelled *after* it was
//! handed a permit or a notification, but before it ran, took the wake-up
//! with it and the next waiter slept for ever. Every primitive here passes
//! such a notification on to the next waiter; `tests/loom_asyncio.rs`
//! model-checks the semaphore's and the lock's hand-over against a
//! cancellation on another thread.
//!
//! Wakers are returned, not called: the primitive wakes them after it
//! unlocked its mutex.

use std::collections::VecDeque;
use std::task::Waker;

struct Entry {
    id: u64,
    waker: Waker,
    notified: bool,
}

/// Waiting tasks, first come first served.
#[derive(Default)]
pub(crate) struct WaitList {
    entries: VecDeque<Entry>,
    next_id: u64,
    /// Entries notified and not yet gone.
    notified: usize,
}

impl WaitList {
    /// Queues a waiter at the back; returns its ticket.
    pub(crate) fn push(&mut self, waker: &Waker) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_back(Entry {
            id,
            waker: waker.clone(),
            notified: false,
        });
        id
    }

    fn position(&self, id: u64) -> Option<usize> {
        // Tickets are increasing from front to back: binary search.
        self.entries.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// A queued waiter polls: true if it was notified (it is removed),
    /// false if it still waits (its waker is refreshed). A ticket that is
    /// not in the list counts as notified (a `notify_all` that cleared it).
    pub(crate) fn check(&mut self, id: u64, waker: &Waker) -> bool {
        let Some(at) = self.position(id) else {
            return true;
        };
        let entry = &mut self.entries[at];
        if entry.notified {
            self.entries.remove(at);
            self.notified -= 1;
            return true;
        }
        if !entry.waker.will_wake(waker) {
            entry.waker = waker.clone();
        }
        false
    }

    /// A waiter's future is dropped: removes it; `Some(true)` if it had
    /// been notified (the caller must pass the notification on).
    pub(crate) fn remove(&mut self, id: u64) -> Option<bool> {
        let at = self.position(id)?;
        let entry = self.entries.remove(at)?;
        if entry.notified {
            self.notified -= 1;
        }
        Some(entry.notified)
    }

    /// Notifies the longest-waiting waiter not notified yet; its waker, or
    /// `None` if every waiter is notified already.
    pub(crate) fn notify_one(&mut self) -> Option<Waker> {
        // Notified entries are rare and leave quickly: a short scan.
        let entry = self.entries.iter_mut().find(|e| !e.notified)?;
        entry.notified = true;
        self.notified += 1;
        Some(entry.waker.clone())
    }

    /// Notifies every waiter; pushes their wakers onto `wakers`.
    pub(crate) fn notify_all(&mut self, wakers: &mut Vec<Waker>) {
        for entry in self.entries.iter_mut().filter(|e| !e.notified) {
            entry.notified = true;
            self.notified += 1;
            wakers.push(entry.waker.clone());
        }
    }

    /// Waiters not notified yet.
    pub(crate) fn waiting(&self) -> usize {
        self.entries.len() - self.notified
    }

    /// Waiters notified that have not taken their notification yet.
    pub(crate) fn notified(&self) -> usize {
        self.notified
    }
}

/// Wakes every waker (after the caller unlocked).
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for waker in wakers {
        waker.wake();
    }
}
