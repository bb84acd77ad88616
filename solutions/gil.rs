//! # Solution 22 — the same CPU-bound work on threads and on processes
//!
//! Rust threads run in parallel (no GIL), so `on_threads` and
//! `on_processes` both speed up with a second worker; in CPython only the
//! processes would. `cargo run --release -p solutions --bin gil` times both
//! on 1 and 2 workers; `bash bench/run.sh` measures Python's threads and
//! processes against them (BENCHMARKS.md, "Process pools and the GIL").

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use synclings::ipc::{pool_task, Entry, Pool};

/// The functions the pool's workers may run, by name.
pub static ENTRIES: &[Entry] = &[pool_task!(count_primes)];

/// How many primes `p` with `lo <= p < hi`, by trial division.
pub fn count_primes((lo, hi): (u64, u64)) -> u64 {
    (lo.max(2)..hi)
        .filter(|&p| (2..).take_while(|d| d * d <= p).all(|d| p % d != 0))
        .count() as u64
}

/// `0..below` in `parts` contiguous ranges, in order.
pub fn split(below: u64, parts: u64) -> Vec<(u64, u64)> {
    (0..parts)
        .map(|k| (k * below / parts, (k + 1) * below / parts))
        .collect()
}

/// The primes of every range, counted by `workers` threads taking the next
/// range not yet taken.
pub fn on_threads(workers: usize, ranges: &[(u64, u64)]) -> u64 {
    let next = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(&range) = ranges.get(next.fetch_add(1, Relaxed)) {
                    total.fetch_add(count_primes(range), Relaxed);
                }
            });
        }
    });
    // The scope joined every thread: their additions are visible.
    total.into_inner()
}

/// The primes of every range, counted by a pool of `workers` processes.
pub fn on_processes(workers: usize, ranges: &[(u64, u64)]) -> u64 {
    let pool = Pool::new(workers).expect("start the pool");
    let counts: Vec<u64> = pool
        .map("count_primes", ranges.iter(), 1)
        .expect("count_primes");
    pool.close();
    pool.join().expect("join the pool");
    counts.iter().sum()
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
