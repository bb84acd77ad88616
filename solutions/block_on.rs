//! # Solution 21 — a waker and `block_on`: run one future to completion
//!
//! A future is a state machine that the caller drives with `poll`: `Ready`
//! when done, `Pending` when it must wait, and then it promises to call
//! the `Waker` it found in the `Context` once it is worth polling again.
//! `block_on` is the smallest driver there is (what `asyncio.run` does for
//! one coroutine, without the loop's other tasks):
//!
//! - the waker is the blocked thread itself: `wake` unparks it;
//! - poll; `Ready` ends it; on `Pending`, park until unparked, poll again.
//!
//! `thread::park` keeps a token: an `unpark` that comes before the `park`
//! (the future woke itself, or the other thread was quick) makes the
//! `park` return at once, so no wake-up is lost between "poll said
//! Pending" and "park". A spurious return from `park` only costs one more
//! poll: a future must tolerate that.
//!
//! `cargo run -p solutions --bin block_on` runs the `main` below.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread that runs [`block_on`].
pub struct ThreadWaker {
    thread: Thread,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.thread.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.thread.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking the thread
/// whenever the future waits; returns its output.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker {
        thread: thread::current(),
    }));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

fn main() {
    let greeting = block_on(async {
        let part = async { "a future" }.await;
        format!("hello from {part}, driven by block_on")
    });
    println!("{greeting}");
}

#[cfg(test)]
synclings_suites::block_on_suite!(crate::block_on);
