//! # Solution 12 — producers and consumers over a `Queue`, poison pills
//!
//! Producers put `Some(item)`; once every producer has finished, the main
//! thread puts one `None` (the poison pill) per consumer. A consumer stops at
//! the first `None` it gets, so each consumer takes exactly one pill and no
//! consumer is left waiting.
//!
//! - Why after the producers: a pill put while a producer still works could
//!   stop a consumer before the last items, which another consumer then
//!   takes (nothing is lost, but that consumer stopped early). Putting the
//!   pills after `join`ing the producers keeps the seed's order of events.
//! - Why one per consumer: a consumer that takes a pill stops; with fewer
//!   pills than consumers the rest block in `get` for ever.
//! - Why nothing is lost or taken twice: the queue hands every item to
//!   exactly one `get`.
//!
//! `std::thread::scope` lets the threads borrow the queue: no `Arc` needed,
//! and every thread is joined when the scope ends.
//!
//! `cargo run -p solutions --bin producer_consumer` replays seed program 7:
//! two producers of five items, three consumers (生产 = produce,
//! 消费了 = consumed).

use std::thread;
use std::time::Duration;

use synclings::Queue;

/// A producer: puts its items, tagged `Some`.
fn producer(queue: &Queue<Option<u64>>, id: u64, per_producer: u64, verbose: bool) {
    for i in 0..per_producer {
        let item = id * per_producer + i;
        if verbose {
            println!("produce: {item} --- producer-{id}");
            // The seed sleeps 1 s before each put; 10 ms shows the same
            // interleaving.
            thread::sleep(Duration::from_millis(10));
        }
        queue.put(Some(item)).expect("the queue is never shut down");
    }
}

/// A consumer: takes items until it takes a pill; returns what it got.
fn consumer(queue: &Queue<Option<u64>>, id: usize, verbose: bool) -> Vec<u64> {
    let mut received = Vec::new();
    while let Some(item) = queue.get().expect("the queue is never shut down") {
        if verbose {
            println!("consumed: {item} --- consumer-{id}");
        }
        received.push(item);
    }
    received
}

/// Runs `producers` producers of `per_producer` items each and `consumers`
/// consumers over one queue of maxsize `capacity` (0 = unbounded); returns
/// what each consumer received, in order. Producer `p` makes the items
/// `p * per_producer .. (p + 1) * per_producer`.
pub fn run(
    producers: usize,
    consumers: usize,
    per_producer: u64,
    capacity: usize,
) -> Vec<Vec<u64>> {
    run_logged(producers, consumers, per_producer, capacity, false)
}

/// `run`, printing every item produced and consumed when `verbose`.
fn run_logged(
    producers: usize,
    consumers: usize,
    per_producer: u64,
    capacity: usize,
    verbose: bool,
) -> Vec<Vec<u64>> {
    let queue = Queue::new(capacity);
    thread::scope(|s| {
        let queue = &queue;
        let consumer_threads: Vec<_> = (0..consumers)
            .map(|id| s.spawn(move || consumer(queue, id, verbose)))
            .collect();
        let producer_threads: Vec<_> = (0..producers as u64)
            .map(|id| s.spawn(move || producer(queue, id, per_producer, verbose)))
            .collect();
        for p in producer_threads {
            p.join().expect("a producer panicked");
        }
        // Every item is in (or through) the queue: one pill per consumer.
        for _ in 0..consumers {
            queue.put(None).expect("the queue is never shut down");
        }
        consumer_threads
            .into_iter()
            .map(|c| c.join().expect("a consumer panicked"))
            .collect()
    })
}

fn main() {
    let received = run_logged(2, 3, 5, 0, true);
    println!("main");
    for (id, items) in received.iter().enumerate() {
        println!("consumer-{id} received {items:?}");
    }
}

#[cfg(test)]
synclings_suites::producer_consumer_suite!(crate::run);
