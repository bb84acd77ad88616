//! # Exercise 7 — ten threads, at most five at a time
//!
//! **What to build.** `run(threads, limit, work)`: start `threads` threads;
//! thread `i` calls `work(i)` once, but never more than `limit` threads are
//! inside `work` at the same moment: the others wait their turn. Count the
//! threads inside (one more on the way in, one fewer on the way out), keep
//! the highest count seen, join every thread and return that peak. The
//! suite checks that the peak reaches the limit and never passes it.
//!
//! **The Python it mirrors** (seed program 5: "ten threads, at most five
//! running at once"):
//!
//! ```python
//! from threading import Thread, Semaphore, currentThread
//! import time
//! def task(n):
//!     sm.acquire()
//!     print('%s--' % n, currentThread().name)
//!     time.sleep(1)
//!     print('end')
//!     sm.release()
//! if __name__ == '__main__':
//!     sm = Semaphore(5)
//!     for i in range(10):
//!         t = Thread(target=task, args=(i, ))
//!         t.start()
//! ```
//!
//! It printed `0-- Thread-1` .. `4-- Thread-5` at once; then, as each of
//! those printed `end`, one more thread got in.
//!
//! **Use** `synclings::Semaphore::new(limit)`: `acquire()` takes a permit,
//! blocking while all `limit` are taken, and returns a `Permit` that gives
//! it back when dropped (Python's `with sm:`). Count the threads inside with
//! an `AtomicUsize` (`fetch_add` returns the value before the addition);
//! `fetch_max` keeps a peak. Share the semaphore, the counters and `work`
//! with the threads through one `Arc`. `limit` is at least 1 (with 0,
//! nobody would ever get in).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin bounded_concurrency` runs the suite against your code;
//! - `cargo run -p exercises --bin bounded_concurrency` runs the `main` below.
//! - Stuck? `cargo run -- hint bounded_concurrency`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use synclings::sync::Duration;
use synclings::thread::{current_name, spawn_named};
use synclings::Semaphore;

/// What the threads share.
struct Room<W> {
    // TODO: the semaphore with `limit` permits, the number of threads
    // inside `work` now, the peak, and `work` itself.
    work: W,
}

/// Runs `work(0)` .. `work(threads - 1)`, each on its own thread, at most
/// `limit` at once; returns the most that were inside `work` at once.
pub fn run(threads: usize, limit: usize, work: impl Fn(usize) + Send + Sync + 'static) -> usize {
    // TODO: one `Arc<Room>`; start the threads, each: acquire a permit,
    // count itself in (update the peak), call `work(i)`, count itself out,
    // drop the permit. Join them all, return the peak.
    todo!()
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
