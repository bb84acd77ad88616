//! # Exercise 21 — a pool of worker processes
//!
//! **What to build.** Three pool tasks and three functions that run them on
//! a `synclings::ipc::Pool` (Python's `multiprocessing.Pool`):
//!
//! - the tasks, registered in `ENTRIES` with `pool_task!`: `square(x)` →
//!   `x * x`; `worker_pid(_)` → `std::process::id()` (which worker ran it);
//!   `checked_root(x)` → the integer square root of `x`, or a panic with the
//!   message `"{x} is not a perfect square"`;
//! - `squares(workers, n)`: a pool of `workers` processes maps `square` over
//!   `0..n` (chunks of 10 items), returns the results in order, then closes
//!   and joins the pool;
//! - `pids(workers, n)`: maps `worker_pid` over `0..n`, one item per chunk;
//! - `roots(workers, xs)`: runs `checked_root` on every item with `imap`
//!   and keeps each item's outcome: `Ok(root)` or `Err(panic message)`.
//!
//! Why a pool (exam question 23): starting a process costs milliseconds; a
//! pool starts `workers` processes once and sends them task after task, in
//! chunks (one message carries many items). `pids` shows it: 40 tasks, at
//! most 2 distinct process ids. Processes, not threads, because in CPython
//! only one thread runs Python code at a time (the GIL, exercise 22); and a
//! task that panics fails alone: its worker catches it and goes on.
//!
//! **The Python it mirrors:**
//!
//! ```python
//! from multiprocessing import Pool
//! import os
//! def square(x): return x * x
//! def worker_pid(_): return os.getpid()
//! if __name__ == '__main__':
//!     with Pool(2) as pool:
//!         print(pool.map(square, range(10), chunksize=10))
//!         print(len(set(pool.map(worker_pid, range(40), chunksize=1))))  # 2, not 40
//! ```
//!
//! **Use** `synclings::ipc`: `pool_task!(f)` in `ENTRIES`; `Pool::new(workers)
//! -> Result<Pool, PoolError>`; `pool.map("task", items, chunksize) ->
//! Result<Vec<R>, PoolError>`; `pool.imap("task", items, chunksize)` (an
//! iterator of `Result<R, PoolError>`; a panic is `PoolError::Panicked(message)`);
//! `pool.close()`, `pool.join()`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin process_pool` runs the suite against your
//!   code (the suite brings its own `main`, which calls `ipc::init` first);
//! - `cargo run -p exercises --bin process_pool` runs the `main` below.
//! - Stuck? `cargo run -- hint process_pool`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::ipc::{pool_task, Entry, Pool, PoolError};

/// The functions the pool's workers may run, by name.
// TODO: list `pool_task!(square)`, `pool_task!(worker_pid)` and
// `pool_task!(checked_root)`.
pub static ENTRIES: &[Entry] = &[];

/// Task: `x * x`.
fn square(x: u64) -> u64 {
    todo!()
}

/// Task: the process id of the worker running it.
fn worker_pid(_: u64) -> u32 {
    todo!()
}

/// Task: the integer square root of a perfect square; panics with
/// `"{x} is not a perfect square"` otherwise.
fn checked_root(x: u64) -> u64 {
    todo!()
}

/// `0², 1², …, (n-1)²` from a pool of `workers` processes, in order.
pub fn squares(workers: usize, n: u64) -> Vec<u64> {
    // TODO: Pool::new, map "square" over 0..n with chunksize 10, close, join.
    todo!()
}

/// The worker pid of each of `n` tasks, one item per chunk.
pub fn pids(workers: usize, n: u64) -> Vec<u32> {
    todo!()
}

/// Each item's root, or its panic message.
pub fn roots(workers: usize, xs: &[u64]) -> Vec<Result<u64, String>> {
    // TODO: pool.imap("checked_root", xs.iter(), 1) and map each
    // `Err(PoolError::Panicked(message))` to `Err(message)`.
    todo!()
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
