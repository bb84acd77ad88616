//! # Exercise 21 — a waker and `block_on`: run one future to completion
//!
//! **What to build.** `block_on(future)`: drive one future on the calling
//! thread until it is ready, and return its output.
//!
//! - A `Future` is polled: `Poll::Ready(value)` when done, `Poll::Pending`
//!   when it must wait. A future that says `Pending` has kept the `Waker`
//!   of the `Context` it was polled with, and calls `wake` when it is worth
//!   polling again, maybe from another thread.
//! - Your waker is the waiting thread itself: `ThreadWaker` holds the
//!   thread (`std::thread::current()`) and its `wake` unparks it.
//! - `block_on` pins the future (`std::pin::pin!`), makes a `Waker` from an
//!   `Arc<ThreadWaker>` (`Waker::from`), and loops: poll; `Ready` → return;
//!   `Pending` → `std::thread::park()`, then poll again.
//!
//! **The Python it mirrors**: `asyncio.run(coro)` for a single coroutine,
//! without the other tasks (exam question 34: the event loop drives
//! coroutines; here, one). A Python coroutine is resumed with `send`, as the
//! generator of exercise 13; a Rust future with `poll`, and the `Waker` is
//! how it tells the driver "resume me now".
//!
//! **Why it cannot lose a wake-up.** `park` and `unpark` keep a token: an
//! `unpark` that comes *before* the `park` (the future woke itself, or the
//! other thread was quick) makes that `park` return at once.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin block_on` runs the suite (it checks
//!   that the thread sleeps, not spins, while the future waits);
//! - `cargo run -p exercises --bin block_on` runs the `main` below.
//! - Stuck? `cargo run -- hint block_on`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Wakes the thread that runs [`block_on`].
pub struct ThreadWaker {
    // TODO: the thread to wake.
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        // TODO: unpark the thread.
        todo!()
    }
}

/// Polls `future` on this thread until it is ready, parking the thread
/// whenever the future waits; returns its output.
pub fn block_on<F: Future>(future: F) -> F::Output {
    // TODO: pin the future, build a Waker from an Arc<ThreadWaker> of this
    // thread, and loop: poll with a Context of that waker; Ready: return;
    // Pending: park.
    todo!()
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
