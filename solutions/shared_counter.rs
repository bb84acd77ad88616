//! # Solution 3 — lost updates, and the `Lock` that prevents them
//!
//! - `count_racy` reads, then writes: between the two, another thread can
//!   write, and one of the two additions is lost. How many are lost depends
//!   on the scheduler; none are *gained*.
//! - `count_locked` reads and writes under one `acquire()`: the guard keeps
//!   every other thread out from the read to the write.
//! - Exam question 18: `a` and `b` can only reach `li` through the lock, so
//!   while t1 holds it, t2 waits. The seed's `b`, which skips the lock, does
//!   not compile in Rust (see `exercises/shared_counter.rs`).
//!
//! `cargo run -p solutions --bin shared_counter` prints the two counts (the
//! racy one usually short of the total on a multi-core machine) and the
//! list after `a` and `b` appended to it at the same time.

use std::sync::atomic::AtomicUsize;
// Relaxed: each load and store is indivisible whatever the ordering; the
// updates are lost in the gap between them, which no ordering closes.
use std::sync::atomic::Ordering::Relaxed;
use std::thread;

use synclings::Lock;

/// Adds 1 to a shared counter `threads * per_thread` times without a lock,
/// by a separate load and store: the result may fall short.
pub fn count_racy(threads: usize, per_thread: usize) -> usize {
    let counter = AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    // Python's `n = counter; counter = n + 1`.
                    let seen = counter.load(Relaxed);
                    counter.store(seen + 1, Relaxed);
                }
            });
        }
    });
    counter.into_inner()
}

/// The same count with the counter inside a `Lock`: exact.
pub fn count_locked(threads: usize, per_thread: usize) -> usize {
    let counter = Lock::new(0);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    *counter.acquire() += 1;
                }
            });
        }
    });
    counter.into_inner()
}

/// Python's `a`: appends `x` to `li`, holding the lock.
pub fn a(li: &Lock<Vec<i32>>, x: i32) {
    li.acquire().push(x);
}

/// Python's `b`: appends `x` to `li`. The seed's `b` skips the lock; in
/// Rust it cannot.
pub fn b(li: &Lock<Vec<i32>>, x: i32) {
    li.acquire().push(x);
}

/// Two threads at once: t1 calls `a(li, 0)` .. `a(li, times - 1)`, t2
/// calls `b(li, -1)` .. `b(li, -times)`.
pub fn append_both(li: &Lock<Vec<i32>>, times: usize) {
    let times = i32::try_from(times).expect("times fits in an i32");
    thread::scope(|scope| {
        scope.spawn(|| (0..times).for_each(|x| a(li, x)));
        scope.spawn(|| (1..=times).for_each(|x| b(li, -x)));
    });
}

fn main() {
    let (threads, per_thread) = (4, 1_000_000);
    println!(
        "without a lock: {} of {}",
        count_racy(threads, per_thread),
        threads * per_thread
    );
    println!(
        "with a Lock:    {} of {}",
        count_locked(threads, per_thread),
        threads * per_thread
    );
    // Question 18: t1 holds the lock; t2 runs `b` meanwhile.
    let li = Lock::new(vec![1, 2, 3, 4]);
    thread::scope(|scope| {
        let held = li.acquire(); // t1, inside `a`, not releasing yet
        scope.spawn(|| b(&li, 6));
        thread::sleep(std::time::Duration::from_millis(100));
        println!("t1 holds the lock, t2 waits in b: li = {:?}", *held);
        drop(held);
    });
    println!("t1 released it, t2 appended:    li = {:?}", *li.acquire());
    append_both(&li, 3);
    println!("after append_both(li, 3):       li = {:?}", *li.acquire());
}

#[cfg(test)]
synclings_suites::shared_counter_suite!(crate);
