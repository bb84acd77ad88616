//! # Solution 15 — producer and consumer processes over a process `Queue`
//!
//! Exercise 12's program with processes instead of threads. What changes:
//!
//! - The queue crosses process boundaries: `synclings::ipc::Queue` ("a pipe
//!   plus a lock" in shared memory) is passed to each child in its
//!   arguments; every message reaches exactly one `get`, whole.
//! - A child cannot return a value: each consumer sends its report (its id
//!   and the items it took) on a second queue, and the parent collects one
//!   report per consumer.
//! - A child's panic is not lost: `join` reports it, and `run` fails with
//!   the child's message.
//!
//! What stays: the sentinels (`None`) are put by the parent once every
//! producer has been joined (so they come after the last item), one per
//! consumer (each consumer swallows exactly one).
//!
//! `cargo run -p solutions --bin process_queue` replays seed program 7: two
//! producers of five items, three consumers (生产 = produce, 消费了 =
//! consumed, 主 = main).

use std::time::Duration;

use synclings::ipc::{entry, Entry, Process, Queue};

/// The work: `Some(item)`, or `None`, the sentinel that stops a consumer.
type Jobs = Queue<Option<u64>>;

/// Each consumer's report: its id and the items it took, in order.
type Results = Queue<(u64, Vec<u64>)>;

/// The functions a child process may run (Python's `target=`), by name.
pub static ENTRIES: &[Entry] = &[entry!(producer), entry!(consumer)];

/// Set by `main` to narrate like the seed; children inherit the parent's
/// environment, so they narrate too. The tests leave it unset (quiet).
const TALK: &str = "SYNCLINGS_PROCESS_QUEUE_TALK";

fn talk() -> bool {
    std::env::var_os(TALK).is_some()
}

/// Child: puts `Some(id * per_producer + i)` for each `i`, in order.
fn producer((jobs, id, per_producer): (Jobs, u64, u64)) {
    for i in 0..per_producer {
        let item = id * per_producer + i;
        if talk() {
            println!("produce: {item} --- producer-{id}");
            // The seed sleeps 1 s before each put; 10 ms shows the same
            // interleaving.
            std::thread::sleep(Duration::from_millis(10));
        }
        jobs.put(&Some(item)).expect("put an item");
    }
}

/// Child: takes items until the first `None`, then reports `(id, items)` on
/// `results`.
fn consumer((jobs, results, id): (Jobs, Results, u64)) {
    let mut items = Vec::new();
    while let Some(item) = jobs.get().expect("get an item") {
        if talk() {
            println!("consumed: {item} --- consumer-{id}");
        }
        items.push(item);
    }
    results.put(&(id, items)).expect("put the report");
}

/// Waits for `child` and panics with its status if it did not end well.
fn join(mut child: Process, what: &str) {
    let status = child.join().expect("wait for a child");
    assert!(status.success(), "{what} did not end well: {status}");
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
    let jobs = Jobs::new(capacity).expect("make the jobs queue");
    let results = Results::new(0).expect("make the results queue");
    let consumer_processes: Vec<Process> = (0..consumers as u64)
        .map(|id| Process::spawn("consumer", &(&jobs, &results, id)).expect("start a consumer"))
        .collect();
    let producer_processes: Vec<Process> = (0..producers as u64)
        .map(|id| Process::spawn("producer", &(&jobs, id, per_producer)).expect("start a producer"))
        .collect();
    for p in producer_processes {
        join(p, "a producer");
    }
    // Every item is in (or through) the queue: one sentinel per consumer.
    for _ in 0..consumers {
        jobs.put(&None).expect("put a sentinel");
    }
    if talk() {
        println!("main");
    }
    // Read the reports before joining: a report too large for the socket's
    // buffer would keep its consumer from exiting until someone reads it.
    let mut received = vec![Vec::new(); consumers];
    for _ in 0..consumers {
        let (id, items) = results.get().expect("a consumer's report");
        received[id as usize] = items;
    }
    for c in consumer_processes {
        join(c, "a consumer");
    }
    received
}

// Under `cargo test` the suite brings its own `main` (which also calls
// `ipc::init` first): this one is for `cargo run`.
#[cfg(not(test))]
fn main() {
    // In a child process this runs the requested entry and exits.
    synclings::ipc::init(ENTRIES);
    // Edition 2021: safe to call; no other thread runs yet.
    std::env::set_var(TALK, "1");
    let received = run(2, 3, 5, 0);
    for (id, items) in received.iter().enumerate() {
        println!("consumer-{id} received {items:?}");
    }
}

#[cfg(test)]
synclings_suites::process_queue_suite! {
    entries: crate::ENTRIES,
    run: crate::run,
}
