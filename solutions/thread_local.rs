//! # Solution 2 — a `name` of each thread's own
//!
//! `thread_local!` declares one `NAME` per thread: each thread that touches
//! it gets a fresh `RefCell` holding an empty `String`, dropped when the
//! thread exits. No lock is needed: no other thread can reach it. The
//! barrier in `run` is there to prove it: all ten threads have written
//! before any reads, and each still reads its own.
//!
//! `cargo run -p solutions --bin thread_local` prints what seed program 2
//! prints: `alex_0 is running` .. `alex_9 is running` (in whatever order
//! the threads get there), then `----main-----`.

use std::cell::RefCell;
use std::sync::Barrier;

thread_local! {
    /// This thread's own name (Python: the `name` attribute of a
    /// `threading.local()`); empty until the thread sets it.
    static NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Sets the calling thread's own `NAME` (Python: `local.name = name`).
pub fn set_name(name: &str) {
    NAME.with_borrow_mut(|mine| name.clone_into(mine));
}

/// The calling thread's own `NAME`; empty if it never set one.
pub fn name() -> String {
    NAME.with_borrow(String::clone)
}

/// `n` threads: thread `i` sets its `NAME` to `alex_i`, waits until all
/// have set theirs, reads its own back and prints `alex_i is running`.
/// Returns what each read, in thread order.
pub fn run(n: usize) -> Vec<String> {
    let all_named = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let all_named = &all_named;
                scope.spawn(move || {
                    set_name(&format!("alex_{i}"));
                    all_named.wait();
                    let mine = name();
                    println!("{mine} is running");
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a thread panicked"))
            .collect()
    })
}

fn main() {
    let names = run(10);
    println!("----main----- (its own name: {:?})", name());
    assert_eq!(names.len(), 10);
}

#[cfg(test)]
synclings_suites::thread_local_suite!(crate);
