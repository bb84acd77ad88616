//! # Exercise 3 — lost updates, and the `Lock` that prevents them
//!
//! **What to build.**
//! - `count_racy(threads, per_thread)`: `threads` threads each add 1 to a
//!   shared counter `per_thread` times, in two steps: read it, then write
//!   the value read plus one. Two threads that read the same value both
//!   write the same result: one of the two additions is lost. (The counter
//!   is an atomic, so each step on its own is safe; it is the gap *between*
//!   the steps that loses updates, exactly as in Python.)
//! - `count_locked(threads, per_thread)`: the same with the counter inside a
//!   `synclings::Lock<usize>`: `*counter.acquire() += 1` reads and writes
//!   while holding the lock, and no addition is lost.
//! - `a` and `b` of exam question 18 (below), each appending to `li` under
//!   its lock, and `append_both(li, times)`: one thread calling
//!   `a(li, 0)`, `a(li, 1)`, .. `a(li, times - 1)` while another calls
//!   `b(li, -1)`, `b(li, -2)`, .. `b(li, -times)`.
//!
//! **The Python it mirrors.** Exam question 18 of the seed: *a program has a
//! list `li = [1, 2, 3, 4]` and two functions `a` and `b` that append to it;
//! `a` takes a `threading.Lock` before modifying `li`, `b` does not. Thread
//! t1 runs `a`, takes the lock and does not release it; can thread t2,
//! running `b`, modify `li`, and why?* The seed's answer:
//!
//! > 可以,线程的数据是共享的,a 函数虽然上了锁,没有释放。由于b 函数不需要上锁,就可以访问资源。
//!
//! ("Yes: threads share data. `a` took the lock and did not release it, but
//! `b` does not need the lock, so it can access the resource.") In Python:
//!
//! ```python
//! li = [1, 2, 3, 4]
//! lock = threading.Lock()
//! def a(x):
//!     lock.acquire()
//!     li.append(x)      # ... and t1 never releases
//! def b(x):
//!     li.append(x)      # no lock: runs while t1 holds it
//! ```
//!
//! **Why Rust refuses the seed's `b`.** A Python lock and the data it guards
//! are two separate objects, tied together only by the programmer's
//! discipline. A `synclings::Lock<T>` *owns* its data: the only way to the
//! `Vec` inside `Lock<Vec<i32>>` is the guard that `acquire()` returns. So
//! the seed's `b` does not compile (see `b_without_the_lock` below), and
//! neither does a plain `Vec` shared by two threads: Rust lends `&mut`
//! access to one place at a time. In Rust, question 18's answer is "no: t2
//! waits until t1 releases the lock". The race of `count_racy` needs an
//! atomic precisely because Rust lets threads share nothing else mutably
//! without a lock.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin shared_counter` runs the suite against your code;
//! - `cargo run -p exercises --bin shared_counter` runs the `main` below.
//! - Stuck? `cargo run -- hint shared_counter`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::thread;

use synclings::Lock;

/// Adds 1 to a shared counter `threads * per_thread` times without a lock,
/// by a separate load and store: the result may fall short.
pub fn count_racy(threads: usize, per_thread: usize) -> usize {
    // TODO: an `AtomicUsize` counter; in a `thread::scope`, start `threads`
    // threads, each doing `per_thread` times:
    //     let seen = counter.load(Relaxed);
    //     counter.store(seen + 1, Relaxed);
    // and return the final value.
    todo!()
}

/// The same count with the counter inside a `Lock`: exact.
pub fn count_locked(threads: usize, per_thread: usize) -> usize {
    // TODO: a `Lock::new(0)`; each increment is `*counter.acquire() += 1`.
    todo!()
}

/// Python's `a`: appends `x` to `li`, holding the lock.
pub fn a(li: &Lock<Vec<i32>>, x: i32) {
    todo!()
}

/// Python's `b`: appends `x` to `li`. The seed's `b` skips the lock; yours
/// cannot.
pub fn b(li: &Lock<Vec<i32>>, x: i32) {
    todo!()
}

// The seed's `b`, which writes `li` without taking the lock. Uncomment it
// to see Rust refuse it:
//
// pub fn b_without_the_lock(li: &Lock<Vec<i32>>, x: i32) {
//     li.push(x);
// }
//
// error[E0599]: no method named `push` found for reference `&Lock<Vec<i32>>`
//   in the current scope: the `Vec` is inside the Lock, reachable only
//   through `li.acquire()`.
//
// Nor can two threads share a plain Vec, lock or no lock:
//
// fn shared_without_a_lock() {
//     let mut li = vec![1, 2, 3, 4];
//     thread::scope(|s| {
//         s.spawn(|| li.push(5));
//         s.spawn(|| li.push(6));
//     });
// }
//
// error[E0499]: cannot borrow `li` as mutable more than once at a time

/// Two threads at once: t1 calls `a(li, 0)` .. `a(li, times - 1)`, t2
/// calls `b(li, -1)` .. `b(li, -times)`.
pub fn append_both(li: &Lock<Vec<i32>>, times: usize) {
    // TODO: a `thread::scope` with two threads; each one's values in order.
    todo!()
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
