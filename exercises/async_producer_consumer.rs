//! # Exercise 25 — seed program 3 again, with an event loop: producer and
//! consumer tasks over the async Queue
//!
//! **What to build.** Exercise 13's producer and consumer as two tasks of
//! one event loop, talking through `synclings::asyncio::Queue`:
//!
//! - `consumer(queue, log)`: loop on `queue.get().await` until `None` (the
//!   end marker); for each `Some(i)` push `"consume: i"` to the log and call
//!   `queue.task_done()`; call `task_done()` for the `None` too.
//! - `producer(queue, n, log)`: for each `i` in `0..n` push `"produce: i"`,
//!   `queue.put(Some(i)).await`, then `queue.join().await` (wait until the
//!   consumer marked it done: that is what `c.send(i)` did, and it gives the
//!   strict alternation); at the end `put(None)`.
//! - `run(n)`: `asyncio::run(async { .. })` with an `Rc<Queue::new(1)>` and
//!   a shared log: `asyncio::create_task(consumer(..))`, await the producer,
//!   await the consumer's task, return the log.
//!
//! **The Python it mirrors** (seed program 3, exam question 33), now with
//! asyncio:
//!
//! ```python
//! async def consumer(q):
//!     while (x := await q.get()) is not None:
//!         print('消费:', x); q.task_done()
//!     q.task_done()
//! async def producer(q):
//!     for i in range(10):
//!         print('生产:', i); await q.put(i); await q.join()
//!     await q.put(None)
//! ```
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin async_producer_consumer` runs the suite;
//! - `cargo run -p exercises --bin async_producer_consumer` runs the `main`.
//! - Stuck? `cargo run -- hint async_producer_consumer`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables, unreachable_code)]

use std::cell::RefCell;
use std::rc::Rc;

use synclings::asyncio::{self, Queue};

/// The lines logged so far, shared by the two tasks.
pub type Log = Rc<RefCell<Vec<String>>>;

/// Puts `0..n`, each followed by a wait until it is consumed; then the
/// end marker.
pub async fn producer(queue: Rc<Queue<Option<u32>>>, n: u32, log: Log) {
    // TODO: log, put, join, for each item; then the end marker.
    todo!()
}

/// Takes items until the end marker, logging each; marks every item done.
pub async fn consumer(queue: Rc<Queue<Option<u32>>>, log: Log) {
    // TODO: get until None, logging and marking each item done.
    todo!()
}

/// Runs a producer of `n` items and a consumer on a fresh event loop;
/// returns the interleaved log.
pub fn run(n: u32) -> Vec<String> {
    // TODO: asyncio::run: a Queue::new(1), the consumer as a task, the
    // producer awaited, then the consumer's task; the log.
    todo!()
}

fn main() {
    for line in run(10) {
        let (what, i) = line.split_once(": ").expect("a log line");
        match what {
            "produce" => println!("生产: {i}"),
            _ => println!("消费: {i}"),
        }
    }
}

#[cfg(test)]
synclings_suites::async_producer_consumer_suite!(crate::run, crate::consumer);
