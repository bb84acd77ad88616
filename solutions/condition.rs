//! # Solution 9 — `Condition` with FIFO `notify(n)`
//!
//! The teaching version of CPython's design: every waiter queues its own
//! wake-up ticket (CPython: a fresh `Lock` appended to `_waiters`), and
//! `notify(n)` marks the `n` oldest tickets. The library's
//! `synclings::Condition` gives each waiter its own condvar; here all share
//! one, woken with `notify_all`, and each looks at its own ticket (simpler,
//! more wake-ups). Both pass the same suite.
//!
//! - State, under one mutex: the user's value and `waiters`, the tickets of
//!   the threads inside a `wait*`, longest-waiting first.
//! - A ticket is `false` while its thread waits unchosen, `true` once a
//!   notify chose it. Only the thread that queued a ticket removes it.
//! - Wait loop: queue a ticket, sleep until it is chosen (or the deadline
//!   passes), leave the queue. No spurious wake-ups: a wake-up whose ticket
//!   is not chosen sleeps again.
//! - Wake rule: `notify(n)` chooses the `n` oldest unchosen tickets and
//!   wakes the sleepers. A timed-out waiter decides "was I chosen?" with the
//!   lock held and removes its ticket in the same hold, so a notify never
//!   counts a waiter that left, and is never lost to a timeout.
//!
//! `cargo run -p solutions --bin condition` shows exam questions 7 and 17:
//! consumers wait for a condition (an item is there); each `notify(1)`
//! wakes the one that has waited longest.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::mpsc;

// Relaxed: tickets are only read and written with the condition's mutex
// held, and the mutex orders every access. (They are atomics only because
// `notify` gets `&self`.)
use synclings::sync::atomic::{AtomicBool, Ordering::Relaxed};
use synclings::sync::{Arc, Condvar, Duration, Instant, Mutex, MutexGuard};

/// A value behind a lock, with a FIFO queue of threads waiting for it to
/// change: Python's `threading.Condition`.
pub struct Condition<T> {
    inner: Mutex<Inner<T>>,
    /// Notified (all) when a notify chose someone; each sleeper then looks
    /// at its own ticket.
    wakeup: Condvar,
}

/// What the condition's mutex protects.
struct Inner<T> {
    /// The user's value.
    value: T,
    /// One ticket per thread inside a `wait*`, longest-waiting first:
    /// `false` = waiting, unchosen; `true` = chosen by a notify.
    waiters: VecDeque<Arc<AtomicBool>>,
}

/// Proof that the lock of a [`Condition`] is held: the value (`Deref`,
/// `DerefMut`) and the `wait*` and `notify*` methods. Dropping it unlocks.
pub struct ConditionGuard<'a, T> {
    /// `Some` except during this guard's own `wait*` call, which hands the
    /// mutex guard to the condvar (`wait(guard) -> guard`).
    guard: Option<MutexGuard<'a, Inner<T>>>,
    wakeup: &'a Condvar,
}

const HELD: &str = "a ConditionGuard holds its lock outside of its own wait calls";

impl<T> Condition<T> {
    /// A new, unlocked condition protecting `value`.
    pub fn new(value: T) -> Self {
        Condition {
            inner: Mutex::new(Inner {
                value,
                waiters: VecDeque::new(),
            }),
            wakeup: Condvar::new(),
        }
    }

    /// Locks, blocking until the lock is free (Python's `with cond:`).
    pub fn lock(&self) -> ConditionGuard<'_, T> {
        ConditionGuard {
            guard: Some(self.inner.lock()),
            wakeup: &self.wakeup,
        }
    }
}

impl<T> ConditionGuard<'_, T> {
    fn inner(&self) -> &Inner<T> {
        self.guard.as_ref().expect(HELD)
    }

    /// Unlocks, sleeps until a notify chooses this thread, relocks.
    pub fn wait(&mut self) {
        self.wait_until(None);
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`: `true` if
    /// notified, `false` if it timed out. The lock is held again either way.
    pub fn wait_timeout(&mut self, timeout: Duration) -> bool {
        // A timeout too large to represent means "no deadline".
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Waits until `pred(&value)` holds; checks it first, so no wait at all
    /// if it already does.
    pub fn wait_for(&mut self, mut pred: impl FnMut(&T) -> bool) {
        while !pred(&**self) {
            self.wait();
        }
    }

    /// Waits until `pred(&value)` holds or `timeout` passed, and returns the
    /// predicate's last value.
    pub fn wait_for_timeout(
        &mut self,
        mut pred: impl FnMut(&T) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        while !pred(&**self) {
            if !self.wait_until(deadline) {
                // Time is up; the value may have changed all the same.
                return pred(&**self);
            }
        }
        true
    }

    /// Wakes at most `n` waiting threads, the longest-waiting first. They
    /// run once this guard is dropped (or waits).
    pub fn notify(&self, n: usize) {
        let mut chose = false;
        let unchosen = self
            .inner()
            .waiters
            .iter()
            .filter(|ticket| !ticket.load(Relaxed));
        for ticket in unchosen.take(n) {
            ticket.store(true, Relaxed);
            chose = true;
        }
        if chose {
            self.wakeup.notify_all();
        }
    }

    /// Wakes every waiting thread.
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }

    /// The wait loop: queue a ticket, sleep until it is chosen or `deadline`
    /// passes, leave the queue. Returns whether the ticket was chosen.
    fn wait_until(&mut self, deadline: Option<Instant>) -> bool {
        let ticket = Arc::new(AtomicBool::new(false));
        let mut inner = self.guard.take().expect(HELD);
        inner.waiters.push_back(Arc::clone(&ticket));
        while !ticket.load(Relaxed) {
            match deadline {
                None => inner = self.wakeup.wait(inner),
                Some(deadline) => {
                    let (relocked, timed_out) = self.wakeup.wait_until(inner, deadline);
                    inner = relocked;
                    if timed_out {
                        // Decided under the lock: a notify that came first wins.
                        break;
                    }
                }
            }
        }
        let at = inner
            .waiters
            .iter()
            .position(|queued| Arc::ptr_eq(queued, &ticket))
            .expect("a ticket stays queued until its waiter leaves");
        inner.waiters.remove(at);
        self.guard = Some(inner);
        ticket.load(Relaxed)
    }
}

impl<T> Deref for ConditionGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner().value
    }
}

impl<T> DerefMut for ConditionGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard.as_mut().expect(HELD).value
    }
}

/// What the demo's consumers and producer share.
#[derive(Default)]
struct Shelf {
    items: Vec<u32>,
}

fn main() {
    let shelf = Arc::new(Condition::new(Shelf::default()));
    let (done_tx, done_rx) = mpsc::channel();
    let mut consumers = Vec::new();
    for id in 0..3 {
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let (mine, done_tx) = (Arc::clone(&shelf), done_tx.clone());
        consumers.push(std::thread::spawn(move || {
            let mut guard = mine.lock();
            println!("consumer {id}: waiting for an item");
            waiting_tx.send(()).unwrap();
            guard.wait_for(|shelf| !shelf.items.is_empty());
            let item = guard.items.pop().expect("the predicate said so");
            println!("consumer {id}: got item {item}");
            done_tx.send(()).unwrap();
        }));
        waiting_rx.recv().unwrap();
        // The consumer holds the lock until its wait releases it: once we
        // get it, it is queued, so the consumers queue in order.
        drop(shelf.lock());
    }
    for item in 0..3 {
        {
            let mut guard = shelf.lock();
            guard.items.push(item);
            println!("producer: item {item} is there; notify(1)");
            guard.notify(1);
        }
        done_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    for consumer in consumers {
        consumer.join().unwrap();
    }
}

#[cfg(test)]
synclings_suites::condition_suite!(crate::Condition);
