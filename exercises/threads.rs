//! # Exercise 1 — ten threads, and a main thread that waits for them all
//!
//! **What to build.** `run(n)`: start `n` threads named `Thread-1` ..
//! `Thread-n`. Each prints its name and index, pauses a moment, then prints
//! how many threads are alive (`active_count()`) and reports all three. The
//! calling thread waits for every one of them (`join`) and returns their
//! reports in thread order. Start them *all* before joining *any*: joining
//! each thread right after starting it runs them one after another.
//!
//! **The Python it mirrors** (seed program 1; the Chinese strings read
//! "thread name", "active thread count" and "main"):
//!
//! ```python
//! from threading import Thread, currentThread, activeCount
//! import time
//! def task(n):
//!     print('线程名:%s %s' % (currentThread(), n))
//!     time.sleep(2)
//!     print('当前活跃线程数量:%s' % activeCount())
//! if __name__ == '__main__':
//!     t_li = []
//!     for i in range(10):
//!         t = Thread(target=task, args=(i, ))
//!         t.start()
//!         t_li.append(t)
//!     for t in t_li:
//!         t.join()
//!     print('主,---end---')
//! ```
//!
//! It printed ten names first (`<Thread(Thread-1, started 6212)> 0` ..),
//! then the counts, `11` (ten threads and the main thread), `10`, `9`, ..
//! as the threads finished.
//!
//! **Use** `synclings::thread`: `spawn_named(name, f)` starts a thread
//! (Python's `Thread(target=f, name=name).start()`) and hands back an
//! `io::Result<JoinHandle<T>>`; `handle.join()` waits for it and gives back
//! what `f` returned; `current_name()` is Python's `currentThread().name`;
//! `active_count()` is Python's `activeCount()`. Name the threads yourself:
//! `run` may be called more than once, and each call's threads are
//! `Thread-1` .. `Thread-n`.
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin threads` runs the suite against your code;
//! - `cargo run -p exercises --bin threads` runs the `main` below.
//! - Stuck? `cargo run -- hint threads`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::sync::Duration;
use synclings::thread::{active_count, current_name, spawn_named, JoinHandle};

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
    // TODO: first start all n threads, keeping the handles in a Vec
    // (`spawn_named(format!("Thread-{}", i + 1), move || task(i))`);
    // then join each handle and collect what it returns.
    todo!()
}

/// The body of thread `index` (Python's `task(n)`).
fn task(index: usize) -> Report {
    // TODO: print the thread's name and index, pause a little (the seed's
    // `time.sleep(2)`: a few milliseconds do), print `active_count()`,
    // and return the Report.
    todo!()
}

fn main() {
    let reports = run(10);
    println!("main, ---end--- ({} threads joined)", reports.len());
}

#[cfg(test)]
synclings_suites::threads_suite!(crate);
