//! # Exercise 23 — `sleep` on a timer heap, and a reactor turn over the Selector
//!
//! **What to build.** The part of an event loop that waits: a `Runtime`
//! whose `block_on` sleeps in a `Selector` while its future waits for time
//! (`sleep`) or for a socket (`readable`). `block_on`, the waker and the
//! `Drop`s are given; write the three marked `TODO`:
//!
//! - `Runtime::turn`: the timeout is the time to the earliest *live* timer
//!   of the heap (pop the stale entries first: their id has no waker in
//!   `timer_wakers`; no timer: `None`, wait for ever); then
//!   `sel.select_ready(timeout)?`: for each ready fd with a waker in
//!   `readers`, take the waker and put the fd in `readable`; then pop every
//!   timer due at `Instant::now()` and take its waker. Wake them all AFTER
//!   the `borrow_mut` ends (a waker may touch the reactor).
//! - `Sleep::poll`: ready once `Instant::now() >= deadline` (remove its
//!   waker if registered); otherwise, the first time, take a new id, push
//!   `Reverse((deadline, id))` on the heap and store the waker; later
//!   polls just store the new waker.
//! - `Readable::poll`: registered and its fd in `readable` → remove it,
//!   `unregister`, ready; otherwise register for `Interest::READ` (once)
//!   and store the waker in `readers`.
//!
//! **The Python it mirrors**: `BaseEventLoop._run_once` (asyncio's
//! `base_events.py`): the timeout from `self._scheduled[0]` (a heap),
//! `self._selector.select(timeout)`, the ready callbacks, then the due
//! timers. `asyncio.sleep` is a timer whose callback wakes the task.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin timer_reactor` runs the suite (it
//!   checks that the thread sleeps in `select`, not in a loop);
//! - `cargo run -p exercises --bin timer_reactor` runs the `main` below.
//! - Stuck? `cargo run -- hint timer_reactor`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables, unused_mut)]

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use synclings::selector::{Interest, Notifier, Selector};

/// The timers and the descriptors the tasks wait for.
struct Reactor {
    sel: Selector<()>,
    /// `(deadline, timer id)`, earliest first; an entry whose id has no
    /// waker any more (fired, or its `Sleep` was dropped) is stale.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    timer_wakers: HashMap<u64, Waker>,
    next_timer: u64,
    /// The waker of the task waiting for each descriptor to be readable.
    readers: HashMap<RawFd, Waker>,
    /// Descriptors reported readable whose task has not looked yet.
    readable: HashSet<RawFd>,
}

/// A reactor and the futures that use it, on one thread. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    reactor: Rc<RefCell<Reactor>>,
    notifier: Notifier,
}

impl Runtime {
    /// A runtime over a new selector.
    pub fn new() -> io::Result<Self> {
        let sel = Selector::new()?;
        let notifier = sel.notifier();
        Ok(Runtime {
            reactor: Rc::new(RefCell::new(Reactor {
                sel,
                timers: BinaryHeap::new(),
                timer_wakers: HashMap::new(),
                next_timer: 0,
                readers: HashMap::new(),
                readable: HashSet::new(),
            })),
            notifier,
        })
    }

    /// A future that is ready once `delay` has passed.
    pub fn sleep(&self, delay: Duration) -> Sleep {
        Sleep {
            runtime: self.clone(),
            deadline: Instant::now() + delay,
            timer: None,
        }
    }

    /// A future that is ready once `source` is readable.
    pub fn readable<'a, S: AsFd>(&self, source: &'a S) -> Readable<'a, S> {
        Readable {
            runtime: self.clone(),
            source,
            registered: false,
        }
    }

    /// One turn: sleep in `select` until the earliest timer (or a
    /// descriptor, or the notifier), then wake the ready readers and the
    /// due timers.
    fn turn(&self) -> io::Result<()> {
        // TODO: the timeout (earliest live timer), select_ready, the ready
        // readers, the due timers; wake outside the borrow.
        todo!()
    }

    /// Runs `future` to completion on this thread: poll it, then turn the
    /// reactor until its waker is called, again and again.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let woken = Arc::new(WakeFlag {
            woken: AtomicBool::new(true),
            notifier: self.notifier.clone(),
        });
        let waker = Waker::from(Arc::clone(&woken));
        let mut cx = Context::from_waker(&waker);
        loop {
            if woken.woken.swap(false, SeqCst) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
                continue;
            }
            self.turn().expect("the selector failed");
        }
    }
}

/// `block_on`'s waker: marks the future as worth polling, and rings the
/// selector in case the call came from another thread.
struct WakeFlag {
    woken: AtomicBool,
    notifier: Notifier,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        let _ = self.notifier.notify();
    }
}

/// The future of [`Runtime::sleep`].
pub struct Sleep {
    runtime: Runtime,
    deadline: Instant,
    /// The timer's id once registered.
    timer: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // TODO: ready once the deadline passed; else register (first poll) or
        // refresh the waker.
        todo!()
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.timer {
            self.runtime.reactor.borrow_mut().timer_wakers.remove(&id);
        }
    }
}

/// The future of [`Runtime::readable`].
pub struct Readable<'a, S: AsFd> {
    runtime: Runtime,
    source: &'a S,
    registered: bool,
}

impl<S: AsFd> Future for Readable<'_, S> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // TODO: reported readable -> unregister, ready; else register once for
        // READ and store the waker.
        todo!()
    }
}

impl<S: AsFd> Drop for Readable<'_, S> {
    fn drop(&mut self) {
        if self.registered {
            let fd = self.source.as_fd().as_raw_fd();
            let mut r = self.runtime.reactor.borrow_mut();
            r.readers.remove(&fd);
            r.readable.remove(&fd);
            let _ = r.sel.unregister(self.source);
        }
    }
}

fn main() -> io::Result<()> {
    let runtime = Runtime::new()?;
    let started = Instant::now();
    runtime.block_on(runtime.sleep(Duration::from_millis(50)));
    println!("slept {:?} on the timer heap", started.elapsed());
    let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        std::io::Write::write_all(&mut b, b"ready").unwrap();
    });
    runtime.block_on(runtime.readable(&a))?;
    println!("the socket became readable after {:?}", started.elapsed());
    writer.join().unwrap();
    Ok(())
}

#[cfg(test)]
synclings_suites::timer_reactor_suite!(crate::Runtime);
