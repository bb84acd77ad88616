//! # Exercise 12 — producers and consumers with poison pills
//!
//! **What to build.** `run(producers, consumers, per_producer, capacity)`:
//! start `producers` producer threads and `consumers` consumer threads that
//! share one `synclings::Queue` of maxsize `capacity` (0 = unbounded), and
//! return what each consumer received, in the order it received it (one
//! `Vec` per consumer).
//!
//! - Producer `p` (counting from 0) puts the items `p * per_producer + i`
//!   for `i` in `0..per_producer`, in that order.
//! - A consumer takes items until it takes a *poison pill*, then stops.
//!   After every producer has finished, put one pill per consumer: each
//!   consumer takes exactly one and nobody is left waiting.
//! - Nothing lost, nothing received twice, whatever the shape (1×1, 4×4,
//!   2×3, a capacity of 1, more consumers than items...).
//!
//! **The Python it mirrors** (seed program 7, abridged; the seed uses
//! processes, we use threads):
//!
//! ```python
//! def consumer(q):
//!     while True:
//!         res = q.get()
//!         if not res: break
//!         print('消费了:', res, '---', current_process().name)
//! def producter(q):
//!     for i in range(5):
//!         print('生产:', i)
//!         q.put(i)
//! q = Queue()
//! p1 = Process(target=producter, args=(q,)); p2 = ...  # 2 producers
//! c1 = Process(target=consumer, args=(q,)); c2 = ...; c3 = ...  # 3 consumers
//! p1.start(); p2.start(); c1.start(); c2.start(); c3.start()
//! p1.join(); p2.join()
//! q.put(None); q.put(None); q.put(None)  # one end signal per consumer,
//!                                        # after every producer finished
//! print('主')
//! ```
//!
//! (The seed has a bug: its item `0` is falsy, so `if not res: break` treats
//! it as a pill. In Rust the pill is `None` and an item is `Some(item)`: the
//! type keeps them apart.)
//!
//! **Use** `synclings::Queue<Option<u64>>` (`put`, `get`) and threads:
//! `std::thread::scope` lets the threads borrow the queue and joins them
//! for you.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin producer_consumer` runs the suite;
//! - `cargo run -p exercises --bin producer_consumer` runs the `main` below.
//! - Stuck? `cargo run -- hint producer_consumer`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::thread;

use synclings::Queue;

/// A producer: puts its items `id * per_producer + i`, tagged `Some`.
fn producer(queue: &Queue<Option<u64>>, id: u64, per_producer: u64) {
    // TODO: put `Some(item)` for each of its items, in order.
    todo!()
}

/// A consumer: takes items until it takes a pill; returns what it got.
fn consumer(queue: &Queue<Option<u64>>) -> Vec<u64> {
    // TODO: loop on `queue.get()`; stop at the first `None`.
    todo!()
}

/// Runs the producers and the consumers over one queue; returns what each
/// consumer received, in order (one `Vec` per consumer).
pub fn run(
    producers: usize,
    consumers: usize,
    per_producer: u64,
    capacity: usize,
) -> Vec<Vec<u64>> {
    // TODO: a `Queue::new(capacity)`; in a `thread::scope`, spawn the
    // consumers and the producers; join the producers; put one `None` per
    // consumer; join the consumers and collect what they returned.
    todo!()
}

fn main() {
    let received = run(2, 3, 5, 0);
    println!("main");
    for (id, items) in received.iter().enumerate() {
        println!("consumer-{id} received {items:?}");
    }
}

#[cfg(test)]
synclings_suites::producer_consumer_suite!(crate::run);
