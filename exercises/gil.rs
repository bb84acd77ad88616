//! # Exercise 22 — the GIL: the same CPU-bound work on threads and on processes
//!
//! **What to build.** Count the primes below N, cut into ranges, two ways:
//!
//! - `count_primes((lo, hi))`: how many primes `p` with `lo <= p < hi`, by
//!   trial division (`p` is prime if `p >= 2` and no `d` with `d * d <= p`
//!   divides it); registered in `ENTRIES` with `pool_task!`;
//! - `split(below, parts)`: `0..below` cut into `parts` contiguous ranges
//!   `(lo, hi)`, in order (range `k` is `k * below / parts .. (k + 1) *
//!   below / parts`);
//! - `on_threads(workers, ranges)`: `workers` threads of this process count
//!   the ranges (each takes the next range not yet taken) and the total is
//!   returned;
//! - `on_processes(workers, ranges)`: a `synclings::ipc::Pool` of `workers`
//!   processes maps `count_primes` over the ranges; the total.
//!
//! Why both (exam questions 16 and 19): in CPython a thread runs Python code
//! only while it holds the Global Interpreter Lock, so two threads counting
//! primes take as long as one; Python programs use processes (one
//! interpreter, one GIL each) for CPU-bound work and keep threads for work
//! that waits (a sleep or a blocking read releases the GIL). Rust has no
//! GIL: `on_threads` with 2 workers is about twice as fast as with 1, like
//! `on_processes`, without the processes. `bash bench/run.sh` measures all
//! four (Python threads and processes, Rust threads, `ipc::Pool`) on this
//! machine: see "Process pools and the GIL" in BENCHMARKS.md.
//!
//! **The Python it mirrors:**
//!
//! ```python
//! from concurrent.futures import ThreadPoolExecutor
//! from multiprocessing import Pool
//! def count_primes(bounds): ...
//! ranges = [(k * N // 8, (k + 1) * N // 8) for k in range(8)]
//! with ThreadPoolExecutor(2) as ex: sum(ex.map(count_primes, ranges))  # no faster than 1 thread
//! with Pool(2) as pool: sum(pool.map(count_primes, ranges))            # about 2x faster
//! ```
//!
//! **Use** `std::thread::scope` (threads that borrow `ranges`), an
//! `AtomicUsize` as the "next range" counter; `synclings::ipc::{pool_task,
//! Pool}`: `Pool::new(workers)`, `pool.map("count_primes", ranges.iter(), 1)`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin gil` runs the suite against your code;
//! - `cargo run --release -p exercises --bin gil` times both ways on 1 and 2
//!   workers.
//! - Stuck? `cargo run -- hint gil`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use synclings::ipc::{pool_task, Entry, Pool};

/// The functions the pool's workers may run, by name.
// TODO: list `pool_task!(count_primes)`.
pub static ENTRIES: &[Entry] = &[];

/// How many primes `p` with `lo <= p < hi`.
pub fn count_primes((lo, hi): (u64, u64)) -> u64 {
    todo!()
}

/// `0..below` in `parts` contiguous ranges, in order.
pub fn split(below: u64, parts: u64) -> Vec<(u64, u64)> {
    todo!()
}

/// The primes of every range, counted by `workers` threads.
pub fn on_threads(workers: usize, ranges: &[(u64, u64)]) -> u64 {
    // TODO: std::thread::scope; `workers` threads loop: take the next index
    // from an AtomicUsize, count that range, add it to an AtomicU64 total.
    todo!()
}

/// The primes of every range, counted by a pool of `workers` processes.
pub fn on_processes(workers: usize, ranges: &[(u64, u64)]) -> u64 {
    todo!()
}

#[cfg(not(test))]
fn main() {
    synclings::ipc::init(ENTRIES);
    let ranges = split(300_000, 16);
    for workers in [1, 2] {
        let t = std::time::Instant::now();
        let n = on_threads(workers, &ranges);
        println!("threads   x{workers}: {n} primes in {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let n = on_processes(workers, &ranges);
        println!(
            "processes x{workers}: {n} primes in {:?} (pool start-up included)",
            t.elapsed()
        );
    }
}

#[cfg(test)]
synclings_suites::gil_suite! {
    entries: crate::ENTRIES,
    count_primes: crate::count_primes,
    split: crate::split,
    on_threads: crate::on_threads,
    on_processes: crate::on_processes,
}
