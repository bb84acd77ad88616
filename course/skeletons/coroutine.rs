//! # Exercise 13 — a coroutine-style producer and consumer, no threads
//!
//! **What to build.** Seed program 3 without any thread: a consumer that is
//! *resumed* by the producer, like a Python generator.
//!
//! - `Consumer::new()` returns a consumer ready to receive.
//! - `consumer.send(item)` runs the consumer until it waits again, and
//!   returns the line it logged: `"consume: {item}"`.
//! - `consumer.count()` says how many items it consumed so far: state that
//!   the consumer keeps between sends.
//! - `producer(n)` makes the items `0..n`, handing each to one consumer as
//!   soon as it is made, and returns the interleaved log: `"produce: 0"`,
//!   `"consume: 0"`, `"produce: 1"`, `"consume: 1"`, ...
//!
//! **The Python it mirrors** (seed program 3):
//!
//! ```python
//! def consumer():
//!     while True:
//!         x = yield
//!         print('消费:', x)      # consume
//! def producter():
//!     c = consumer()
//!     next(c)
//!     for i in range(10):
//!         print('生产:', i)      # produce
//!         c.send(i)
//! producter()
//! ```
//!
//! **How it relates to Rust.** `c = consumer()` creates the generator's
//! frame; `next(c)` runs it to the first `yield`; `c.send(i)` resumes it with
//! `x = i` until the next `yield`, then control returns to the producer. It
//! is all one thread: `send` is a call and `yield` is its return. Rust has no
//! stable generators, so write the frame by hand: the generator's locals
//! that live across a `yield` become the struct's fields, and the code
//! between two `yield`s becomes the `send` method. (A generator with several
//! `yield`s would also store *where* it stopped, as an enum: that is what the
//! compiler builds for an `async fn`, and what an `Iterator` keeps between
//! two calls of `next`. `Iterator` pulls values out; `send` pushes them in.)
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin coroutine` runs the suite (it also checks
//!   that no thread is started);
//! - `cargo run -p exercises --bin coroutine` runs the `main` below.
//! - Stuck? `cargo run -- hint coroutine`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

/// The consumer coroutine, suspended where it waits for the next item.
#[derive(Debug)]
pub struct Consumer {
    // TODO: the generator's locals that must survive between two sends
    // (how many items it consumed).
}

impl Consumer {
    /// A consumer ready to receive (Python: `c = consumer(); next(c)`).
    pub fn new() -> Self {
        todo!()
    }

    /// Resumes the consumer with `item` (Python's `c.send(item)`); returns
    /// the line it logged, `"consume: {item}"`.
    pub fn send(&mut self, item: u32) -> String {
        // TODO: the loop body of the generator, from one `yield` to the next.
        todo!()
    }

    /// Items consumed so far.
    pub fn count(&self) -> usize {
        todo!()
    }
}

impl Default for Consumer {
    fn default() -> Self {
        Self::new()
    }
}

/// Makes the items `0..n`, sending each to one consumer as soon as it is
/// made; returns the log: `"produce: i"` then `"consume: i"`, for each `i`.
pub fn producer(n: u32) -> Vec<String> {
    // TODO: one consumer, and a plain loop.
    todo!()
}

fn main() {
    for line in producer(10) {
        println!("{line}");
    }
}

#[cfg(test)]
synclings_suites::coroutine_suite!(crate::Consumer, crate::producer);
