//! # Solution 1 — ten threads, joined by the main thread
//!
//! Start every thread first, keeping its `JoinHandle`; then join them in
//! order. Collecting the handles into a `Vec` is what makes the threads run
//! at the same time: `(0..n).map(spawn).map(join)` without the `collect` in
//! between is lazy, and would start each thread only after the previous one
//! was joined.
//!
//! `cargo run -p solutions --bin threads` prints what seed program 1 prints:
//! ten names first, then the live thread counts, `11` while all ten and the
//! main thread are alive, dropping as they finish; then `main, ---end---`.

use synclings::sync::Duration;
use synclings::thread::{active_count, current_name, spawn_named};

/// The seed's `time.sleep(2)`, shortened: long enough for all ten threads
/// to have started before the first one counts.
const PAUSE: Duration = Duration::from_millis(50);

/// What one thread saw.
#[derive(Debug)]
pub struct Report {
    /// The thread's index, `0..n` (Python's `args=(i, )`).
    pub index: usize,
    /// Its name, `Thread-1` for index 0 (Python's `currentThread().name`).
    pub name: String,
    /// `active_count()` as it saw it, after its pause.
    pub active: usize,
}

/// Starts `n` threads named `Thread-1` .. `Thread-n`, each running
/// `task(i)`, waits for all of them, and returns their reports in order.
pub fn run(n: usize) -> Vec<Report> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            spawn_named(format!("Thread-{}", i + 1), move || task(i))
                .expect("the OS refused a new thread")
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("a thread panicked"))
        .collect()
}

/// The body of thread `index` (Python's `task(n)`).
fn task(index: usize) -> Report {
    let name = current_name();
    println!("thread name: {name} {index}");
    std::thread::sleep(PAUSE);
    let active = active_count();
    println!("active threads: {active}");
    Report {
        index,
        name,
        active,
    }
}

fn main() {
    let reports = run(10);
    println!("main, ---end--- ({} threads joined)", reports.len());
}

#[cfg(test)]
synclings_suites::threads_suite!(crate);
