//! # Solution 7 — ten threads, at most five at a time
//!
//! A `Semaphore` with `limit` permits guards the way into `work`: a thread
//! takes a permit on the way in and gives it back on the way out (the
//! `Permit` guard's drop), so at most `limit` are inside at once and the
//! others sleep in `acquire`. Inside, an atomic counter tracks how many are
//! in, and `fetch_max` records the peak.
//!
//! The order on the way out matters: count yourself out *before* giving the
//! permit back. The other way round, the next thread could get in and count
//! `limit + 1` while you are still counted.
//!
//! `cargo run -p solutions --bin bounded_concurrency` prints what seed
//! program 5 prints: five threads get in at once, then one more each time
//! one of them prints `end`.

use std::sync::atomic::AtomicUsize;
// Relaxed: read-modify-writes of one atomic never lose a count, and the
// permit's hand-over (release, then acquire) orders one thread's leaving
// before the next one's entering.
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use synclings::sync::Duration;
use synclings::thread::{current_name, spawn_named};
use synclings::Semaphore;

/// What the threads share.
struct Room<W> {
    /// `limit` permits: Python's `Semaphore(5)`.
    seats: Semaphore,
    /// Threads inside `work` now.
    inside: AtomicUsize,
    /// The most that were inside at once.
    peak: AtomicUsize,
    work: W,
}

impl<W: Fn(usize)> Room<W> {
    /// Thread `i`'s whole life: wait for a seat, work, leave.
    fn enter(&self, i: usize) {
        let seat = self.seats.acquire(); // Python: sm.acquire()
        let now_inside = self.inside.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(now_inside, Relaxed);
        (self.work)(i);
        self.inside.fetch_sub(1, Relaxed);
        drop(seat); // Python: sm.release(), after counting ourselves out
    }
}

/// Runs `work(0)` .. `work(threads - 1)`, each on its own thread, at most
/// `limit` at once; returns the most that were inside `work` at once.
pub fn run(threads: usize, limit: usize, work: impl Fn(usize) + Send + Sync + 'static) -> usize {
    assert!(limit > 0, "a limit of 0 would let no thread in, ever");
    let room = Arc::new(Room {
        seats: Semaphore::new(limit),
        inside: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        work,
    });
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let room = Arc::clone(&room);
            spawn_named(format!("Thread-{}", i + 1), move || room.enter(i))
                .expect("the OS refused a new thread")
        })
        .collect();
    for handle in handles {
        handle.join().expect("a thread panicked");
    }
    // Every thread was joined: their updates are visible.
    room.peak.load(Relaxed)
}

fn main() {
    let peak = run(10, 5, |i| {
        println!("{i}-- {}", current_name());
        std::thread::sleep(Duration::from_millis(200)); // the seed sleeps 1 s
        println!("end");
    });
    println!("at most {peak} threads were inside at once");
}

#[cfg(test)]
synclings_suites::bounded_concurrency_suite!(crate);
