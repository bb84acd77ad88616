//! # Solution 13 — a coroutine-style producer and consumer, no threads
//!
//! Seed program 3's consumer is a Python generator:
//!
//! ```python
//! def consumer():
//!     while True:
//!         x = yield
//!         print('消费:', x)
//! ```
//!
//! `c = consumer()` only creates its frame; `next(c)` runs it to the first
//! `yield`; each `c.send(i)` resumes it there with `x = i`, runs the loop
//! body and suspends at the `yield` again, returning to the producer. One
//! thread does everything: `send` is a call and `yield` is its return (exam
//! question 33: a coroutine is concurrency inside one thread, scheduled by
//! the program, not by the operating system).
//!
//! Rust has no stable generators, so we write the frame by hand:
//!
//! - **The locals that live across a `yield` become fields** (`count` here:
//!   the state kept between sends).
//! - **The code between two `yield`s becomes a method** (`send`): it runs to
//!   the next suspension point and returns.
//! - **Where it stopped** would be one more field, an enum with a variant
//!   per `yield`, if the generator had several; ours always stops at the
//!   same one. That enum is exactly what the compiler generates for an
//!   `async fn` (one variant per `.await`, resumed by `Future::poll`), and
//!   what `Iterator` implementations write by hand (resumed by `next`).
//!   `Iterator` is the *pull* direction (Python's `for x in gen`); a
//!   `send(&mut self, x)` method is the *push* direction (`gen.send(x)`).
//! - **Priming** (`next(c)` before the first `send`) is `Consumer::new()`:
//!   the constructor returns a consumer ready to receive, so Python's
//!   "can't send non-None value to a just-started generator" cannot happen.
//!
//! `cargo run -p solutions --bin coroutine` prints what seed program 3
//! prints (生产 = produce, 消费 = consume).

/// The consumer coroutine: seed program 3's `consumer()` generator,
/// primed and suspended at its `yield`.
#[derive(Debug, Default)]
pub struct Consumer {
    /// Items consumed so far: a local of the generator, kept between sends.
    count: usize,
}

impl Consumer {
    /// A consumer ready to receive (Python: `c = consumer(); next(c)`).
    pub fn new() -> Self {
        Consumer { count: 0 }
    }

    /// Resumes the consumer with `item` (Python's `c.send(item)`): it
    /// consumes the item and suspends again, returning the line it logged.
    pub fn send(&mut self, item: u32) -> String {
        self.count += 1;
        format!("consume: {item}")
    }

    /// Items consumed so far.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The producer: makes `n` items, handing each to the consumer as soon as
/// it is made; returns the interleaved log.
pub fn producer(n: u32) -> Vec<String> {
    let mut consumer = Consumer::new();
    let mut log = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        log.push(format!("produce: {i}"));
        log.push(consumer.send(i));
    }
    log
}

fn main() {
    for line in producer(10) {
        println!("{line}");
    }
}

#[cfg(test)]
synclings_suites::coroutine_suite!(crate::Consumer, crate::producer);
