//! # Exercise 2 — a `name` of each thread's own (`threading.local()`)
//!
//! **What to build.** A per-thread variable `NAME`: every thread sees its
//! own copy, starting empty. `set_name` and `name` write and read the
//! calling thread's copy. `run(n)` starts `n` threads; thread `i` sets its
//! `NAME` to `alex_i`, waits until *all* have set theirs, then reads its own
//! back, prints `alex_i is running` and returns it. A single shared variable
//! would hold the last write for everybody by then; a thread-local one
//! gives each thread its own.
//!
//! **The Python it mirrors.** Seed program 2 answers "give each of ten
//! threads a private variable `name`" by passing the name as an argument:
//!
//! ```python
//! from threading import Thread
//! def task(name):
//!     print('%s is running' % name)
//! if __name__ == '__main__':
//!     for i in range(10):
//!         t = Thread(target=task, args=('alex_%s' % i, ))
//!         t.start()
//!     print('----主-----')
//! ```
//!
//! It printed `alex_0 is running` .. `alex_9 is running`, then
//! `----主-----` ("main"). Python's tool for a variable private to each
//! thread is `threading.local()`: `local = threading.local()` once, then
//! `local.name = 'alex_%s' % i` in a thread sets that thread's `name` only.
//!
//! **Use** Rust's `thread_local!` macro with a `RefCell<String>` inside:
//! `NAME.with(|name| ...)` hands you the calling thread's `RefCell`
//! (`borrow()` to read, `borrow_mut()` to write). For `run`, a
//! `std::sync::Barrier::new(n)` makes every thread wait at `wait()` until
//! all `n` got there, and `std::thread::scope` starts threads that may
//! borrow it (all are joined when the scope ends).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin thread_local` runs the suite against your code;
//! - `cargo run -p exercises --bin thread_local` runs the `main` below.
//! - Stuck? `cargo run -- hint thread_local`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::cell::RefCell;
use std::sync::Barrier;

// TODO: declare the thread-local variable, starting as an empty String:
// thread_local! {
//     static NAME: RefCell<String> = ...;
// }

/// Sets the calling thread's own `NAME` (Python: `local.name = name`).
pub fn set_name(name: &str) {
    todo!()
}

/// The calling thread's own `NAME`; empty if it never set one.
pub fn name() -> String {
    todo!()
}

/// `n` threads: thread `i` sets its `NAME` to `alex_i`, waits until all
/// have set theirs, reads its own back and prints `alex_i is running`.
/// Returns what each read, in thread order.
pub fn run(n: usize) -> Vec<String> {
    // TODO: one Barrier for n threads; in a `std::thread::scope`, start the
    // n threads (keep the handles), then join them in order.
    todo!()
}

fn main() {
    let names = run(10);
    println!("----main----- (its own name: {:?})", name());
    assert_eq!(names.len(), 10);
}

#[cfg(test)]
synclings_suites::thread_local_suite!(crate);
