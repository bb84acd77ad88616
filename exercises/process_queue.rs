//! # Exercise 15 — a queue between processes, one sentinel per consumer
//!
//! **What to build.** Exercise 12 again, with *processes*: producer and
//! consumer processes share one `synclings::ipc::Queue`, the parent stops
//! the consumers with sentinels.
//!
//! - The child entry `producer((jobs, id, per_producer))` puts
//!   `Some(id * per_producer + i)` for `i` in `0..per_producer`, in order.
//!   It puts no sentinel: that is the parent's job.
//! - The child entry `consumer((jobs, results, id))` takes items until the
//!   first `None` (the sentinel), then puts ONE message on `results`:
//!   `(id, the items it took, in order)`. It takes nothing after its
//!   sentinel.
//! - `run(producers, consumers, per_producer, capacity)`, in the parent: a
//!   jobs queue of maxsize `capacity` (0 = unbounded) and a results queue;
//!   start the consumers (ids `0..consumers`) and the producers (ids
//!   `0..producers`); join every producer; only then put one `None` per
//!   consumer; take one report per consumer from `results`; join every
//!   consumer; return the lists, consumer `c`'s at index `c`.
//!
//! Why it works (exam questions 9 and 32): a process `Queue` is "a pipe plus
//! a lock": every message reaches exactly one `get`, whole, whichever process
//! asks. A sentinel is a message like any other, so it must come after the
//! last item (join the producers first), and each consumer swallows exactly
//! one (put as many as there are consumers, or the extra consumers wait for
//! ever). A child is a separate program: it cannot return a value to the
//! parent, so it sends its result as a message.
//!
//! **The Python it mirrors** (seed program 7, abridged):
//!
//! ```python
//! from multiprocessing import Process, Queue
//! def consumer(q):
//!     while True:
//!         res = q.get()
//!         if not res: break
//!         print('消费了:', res, '---', current_process().name)
//! def producter(q):
//!     for i in range(5):
//!         print('生产:', i)
//!         time.sleep(1)
//!         q.put(i)
//! if __name__ == '__main__':
//!     q = Queue()
//!     p1 = Process(target=producter, args=(q,)); p2 = ...  # 2 producers
//!     c1 = Process(target=consumer, args=(q,)); c2 = ...; c3 = ...  # 3 consumers
//!     p1.start(); p2.start(); c1.start(); c2.start(); c3.start()
//!     p1.join(); p2.join()
//!     q.put(None); q.put(None); q.put(None)  # one end signal per consumer,
//!                                            # once every producer is done
//!     print('主')
//! ```
//!
//! (The seed's item `0` is falsy, so `if not res: break` takes it for a
//! sentinel. Here a sentinel is `None` and an item `Some(item)`: the type
//! keeps them apart.)
//!
//! **Use** `synclings::ipc`: `Queue::new(maxsize) -> io::Result<Queue<T>>`,
//! `put(&item)`, `get()`; `Process::spawn("entry name", &args)` (a queue in
//! the arguments is shared with the child: pass `&(&jobs, id, per_producer)`),
//! `join() -> io::Result<ExitStatus>` (`status.success()`).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin process_queue` runs the suite against
//!   your code (the suite brings its own `main` under `cargo test`: it calls
//!   `ipc::init` first, like yours);
//! - `cargo run -p exercises --bin process_queue` runs the `main` below.
//! - Stuck? `cargo run -- hint process_queue`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::ipc::{entry, Entry, Process, Queue};

/// The work: `Some(item)`, or `None`, the sentinel that stops a consumer.
type Jobs = Queue<Option<u64>>;

/// Each consumer's report: its id and the items it took, in order.
type Results = Queue<(u64, Vec<u64>)>;

/// The functions a child process may run (Python's `target=`), by name.
pub static ENTRIES: &[Entry] = &[entry!(producer), entry!(consumer)];

/// Child: puts `Some(id * per_producer + i)` for each `i`, in order.
fn producer((jobs, id, per_producer): (Jobs, u64, u64)) {
    // TODO: put each item with `jobs.put(&Some(item))`.
    todo!()
}

/// Child: takes items until the first `None`, then reports
/// `(id, items)` on `results`.
fn consumer((jobs, results, id): (Jobs, Results, u64)) {
    // TODO: loop on `jobs.get()`; stop at the first `None`; then
    // `results.put(&(id, items))`.
    todo!()
}

/// Parent: runs the producer and consumer processes over one queue of
/// maxsize `capacity` (0 = unbounded); returns what each consumer took, in
/// order (consumer `c`'s list at index `c`).
pub fn run(
    producers: usize,
    consumers: usize,
    per_producer: u64,
    capacity: usize,
) -> Vec<Vec<u64>> {
    // TODO: the two queues; spawn the consumers ("consumer" with
    // `&(&jobs, &results, id)`) and the producers ("producer" with
    // `&(&jobs, id, per_producer)`); join the producers (check each status);
    // put one `None` per consumer; get one report per consumer and put its
    // list at its id; join the consumers.
    todo!()
}

// Under `cargo test` the suite brings its own `main` (which also calls
// `ipc::init` first): this one is for `cargo run`.
#[cfg(not(test))]
fn main() {
    // First thing: in a child process this runs the requested entry and
    // exits; in the parent it returns at once.
    synclings::ipc::init(ENTRIES);
    let received = run(2, 3, 5, 0);
    println!("main");
    for (id, items) in received.iter().enumerate() {
        println!("consumer-{id} received {items:?}");
    }
}

#[cfg(test)]
synclings_suites::process_queue_suite! {
    entries: crate::ENTRIES,
    run: crate::run,
}
