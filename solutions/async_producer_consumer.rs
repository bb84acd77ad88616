//! # Solution 25 — seed program 3 again, with an event loop: producer and
//! consumer tasks over the async Queue
//!
//! Exercise 13 wrote the generator by hand: `c.send(i)` resumed the
//! consumer until its next `yield`. With an event loop the consumer is a
//! **task** of its own and the hand-over is an `asyncio::Queue`:
//!
//! - the consumer loops on `queue.get().await` until the end marker
//!   (`None`, the pill of exercise 12), logging `consume: i` and calling
//!   `task_done()` for every item (the pill included);
//! - the producer logs `produce: i`, `put(Some(i)).await`s it, and then
//!   `join().await`s: it waits until the consumer marked the item done,
//!   as `c.send(i)` returned only once the consumer reached its next
//!   `yield`. That gives the seed's strict alternation;
//! - both are tasks of one loop on one thread: no thread is started, and
//!   each switch happens at an `.await` (exam question 33).
//!
//! `cargo run -p solutions --bin async_producer_consumer` prints what seed
//! program 3 prints (生产 = produce, 消费 = consume).

use std::cell::RefCell;
use std::rc::Rc;

use synclings::asyncio::{self, Queue};

/// The lines logged so far, shared by the two tasks.
pub type Log = Rc<RefCell<Vec<String>>>;

/// Puts `0..n`, each followed by a wait until it is consumed; then the
/// end marker.
pub async fn producer(queue: Rc<Queue<Option<u32>>>, n: u32, log: Log) {
    for i in 0..n {
        log.borrow_mut().push(format!("produce: {i}"));
        queue
            .put(Some(i))
            .await
            .expect("the queue is not shut down");
        queue.join().await;
    }
    queue.put(None).await.expect("the queue is not shut down");
}

/// Takes items until the end marker, logging each; marks every item done.
pub async fn consumer(queue: Rc<Queue<Option<u32>>>, log: Log) {
    while let Some(item) = queue.get().await.expect("the queue is not shut down") {
        log.borrow_mut().push(format!("consume: {item}"));
        queue.task_done().expect("one task_done per get");
    }
    queue.task_done().expect("one task_done per get");
}

/// Runs a producer of `n` items and a consumer on a fresh event loop;
/// returns the interleaved log.
pub fn run(n: u32) -> Vec<String> {
    asyncio::run(async move {
        let queue = Rc::new(Queue::new(1));
        let log = Log::default();
        let consuming = asyncio::create_task(consumer(queue.clone(), log.clone()));
        producer(queue, n, log.clone()).await;
        consuming.await.expect("the consumer finishes");
        let lines = log.borrow().clone();
        lines
    })
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
