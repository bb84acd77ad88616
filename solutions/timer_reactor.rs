//! # Solution 23 — `sleep` on a timer heap, and a reactor turn over the Selector
//!
//! Exercise 22's executor runs tasks that wake each other; nothing in it
//! waits for *time* or for a *socket*. A **reactor** does: one `turn`
//!
//! 1. computes how long it may sleep: until the earliest timer of the
//!    **timer heap** (a `BinaryHeap` of `Reverse((deadline, id))`:
//!    Python's `loop._scheduled`, a `heapq`), or for ever if there is none;
//! 2. sleeps in `Selector::select_ready(timeout)` (epoll): the thread is
//!    asleep in the kernel until a registered descriptor is ready, the
//!    timeout passes, or the selector's `Notifier` rings;
//! 3. wakes the tasks whose descriptors are ready, then those whose timers
//!    are due (Python's `_run_once`).
//!
//! `Sleep` puts one entry in the heap on its first poll and keeps its
//! waker in a map by timer id; a dropped `Sleep` removes its waker, and
//! its heap entry, now stale, is skipped when it comes up. `Readable`
//! registers its descriptor for `READ` with its waker, and unregisters it
//! when it is done or dropped. `block_on` polls the future, then turns the
//! reactor until the future's waker was called.
//!
//! `cargo run -p solutions --bin timer_reactor` runs the `main` below.

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
        let mut wakers = Vec::new();
        {
            let mut r = self.reactor.borrow_mut();
            let r = &mut *r;
            // The earliest live deadline; stale entries go.
            let mut timeout = None;
            while let Some(&Reverse((deadline, id))) = r.timers.peek() {
                if r.timer_wakers.contains_key(&id) {
                    timeout = Some(deadline.saturating_duration_since(Instant::now()));
                    break;
                }
                r.timers.pop();
            }
            for (fd, _events) in r.sel.select_ready(timeout)? {
                if let Some(waker) = r.readers.remove(&fd) {
                    r.readable.insert(fd);
                    wakers.push(waker);
                }
            }
            let now = Instant::now();
            while let Some(&Reverse((deadline, id))) = r.timers.peek() {
                if deadline > now {
                    break;
                }
                r.timers.pop();
                if let Some(waker) = r.timer_wakers.remove(&id) {
                    wakers.push(waker);
                }
            }
        }
        // Outside the borrow: a waker may poll or touch the reactor.
        for waker in wakers {
            waker.wake();
        }
        Ok(())
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
        let this = self.get_mut();
        let mut r = this.runtime.reactor.borrow_mut();
        match this.timer {
            _ if Instant::now() >= this.deadline => {
                if let Some(id) = this.timer.take() {
                    r.timer_wakers.remove(&id);
                }
                Poll::Ready(())
            }
            None => {
                let id = r.next_timer;
                r.next_timer += 1;
                r.timers.push(Reverse((this.deadline, id)));
                r.timer_wakers.insert(id, cx.waker().clone());
                this.timer = Some(id);
                Poll::Pending
            }
            Some(id) => {
                r.timer_wakers.insert(id, cx.waker().clone());
                Poll::Pending
            }
        }
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
        let this = self.get_mut();
        let fd = this.source.as_fd().as_raw_fd();
        let mut r = this.runtime.reactor.borrow_mut();
        if this.registered && r.readable.remove(&fd) {
            this.registered = false;
            r.sel.unregister(this.source)?;
            return Poll::Ready(Ok(()));
        }
        if !this.registered {
            r.sel.register(this.source, Interest::READ, ())?;
            this.registered = true;
        }
        r.readers.insert(fd, cx.waker().clone());
        Poll::Pending
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
