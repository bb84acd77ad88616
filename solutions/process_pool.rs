//! # Solution 21 — a pool of worker processes
//!
//! A `synclings::ipc::Pool` of `workers` processes, started once, runs the
//! registered tasks chunk by chunk. A panic inside a task is caught in the
//! worker and comes back as that item's `PoolError::Panicked(message)`; the
//! worker goes on with the next item.
//!
//! `cargo run -p solutions --bin process_pool` prints the squares, how many
//! worker processes ran 40 tasks (2), and a panic caught as a result.

use synclings::ipc::{pool_task, Entry, Pool, PoolError};

/// The functions the pool's workers may run, by name.
pub static ENTRIES: &[Entry] = &[
    pool_task!(square),
    pool_task!(worker_pid),
    pool_task!(checked_root),
];

/// Task: `x * x`.
fn square(x: u64) -> u64 {
    x * x
}

/// Task: the process id of the worker running it.
fn worker_pid(_: u64) -> u32 {
    std::process::id()
}

/// Task: the integer square root of a perfect square; panics otherwise.
fn checked_root(x: u64) -> u64 {
    let root = x.isqrt();
    if root * root != x {
        panic!("{x} is not a perfect square");
    }
    root
}

/// Runs `f` on a fresh pool of `workers`, then closes and joins it.
fn with_pool<T>(workers: usize, f: impl FnOnce(&Pool) -> T) -> T {
    let pool = Pool::new(workers).expect("start the pool");
    let out = f(&pool);
    pool.close();
    pool.join().expect("join the pool");
    out
}

/// `0², 1², …, (n-1)²` from a pool of `workers` processes, in order.
pub fn squares(workers: usize, n: u64) -> Vec<u64> {
    with_pool(workers, |pool| {
        pool.map("square", 0..n, 10).expect("square")
    })
}

/// The worker pid of each of `n` tasks, one item per chunk.
pub fn pids(workers: usize, n: u64) -> Vec<u32> {
    with_pool(workers, |pool| {
        pool.map("worker_pid", 0..n, 1).expect("worker_pid")
    })
}

/// Each item's root, or its panic message.
pub fn roots(workers: usize, xs: &[u64]) -> Vec<Result<u64, String>> {
    with_pool(workers, |pool| {
        pool.imap("checked_root", xs.iter(), 1)
            .expect("checked_root")
            .map(|r| match r {
                Ok(root) => Ok(root),
                Err(PoolError::Panicked(message)) => Err(message),
                Err(other) => Err(other.to_string()),
            })
            .collect()
    })
}

#[cfg(not(test))]
fn main() {
    // In a pool worker this serves tasks and exits.
    synclings::ipc::init(ENTRIES);
    println!("{:?}", squares(2, 10));
    let mut distinct = pids(2, 40);
    distinct.sort_unstable();
    distinct.dedup();
    println!("40 tasks ran in {} worker processes", distinct.len());
    println!("{:?}", roots(2, &[16, 17, 25]));
}

#[cfg(test)]
synclings_suites::process_pool_suite! {
    entries: crate::ENTRIES,
    squares: crate::squares,
    pids: crate::pids,
    roots: crate::roots,
}
