// The course manifest: the exercises in order, each with its hint.
//
// This file is plain Rust data, read by the course runner (`cargo run`) and
// by CI (`cargo run -- verify`). Every entry needs:
// - `exercises/NAME.rs` (the skeleton you edit) and `course/skeletons/NAME.rs`
//   (its pristine copy, used by `cargo run -- reset NAME`);
// - `solutions/NAME.rs` (the reference solution, a runnable binary);
// - a suite `synclings_suites::NAME_suite!` used by both, with at least one test;
// - for the "build X" exercises, `library`: the library's own type, which
//   passes the same suite (suites/tests/library.rs).

/// The exercises, in the order a learner takes them.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "threads",
        number: 1,
        title: "start ten named threads and join them all",
        mirrors: "threading.Thread, current_thread, active_count, join (seed program 1, exam question 10)",
        library: None,
        hint: "Two loops, not one. First start every thread with \
`synclings::thread::spawn_named(format!(\"Thread-{}\", i + 1), move || task(i))` and keep the \
`JoinHandle`s in a `Vec` (`.collect()` them: an iterator is lazy, and `map(spawn).map(join)` would \
run the threads one after another). Then `join()` each handle in order: it waits for the thread and \
hands back what its closure returned, your `Report`. Inside `task`, `current_name()` and \
`active_count()` are Python's `currentThread().name` and `activeCount()`.",
    },
    Exercise {
        name: "thread_local",
        number: 2,
        title: "give each thread its own `name` with thread_local!",
        mirrors: "threading.local() (seed program 2)",
        library: None,
        hint: "Declare `thread_local! { static NAME: RefCell<String> = const { RefCell::new(String::new()) }; }`. \
`NAME.with_borrow_mut(|name| ...)` and `NAME.with_borrow(|name| name.clone())` write and read the \
calling thread's own copy. In `run`, make one `std::sync::Barrier::new(n)` and start the threads in \
`std::thread::scope` so that they can borrow it: each sets `alex_i`, calls `barrier.wait()`, then \
reads its own back. Keep the handles and join them in order to return the names in thread order.",
    },
    Exercise {
        name: "shared_counter",
        number: 3,
        title: "lose updates without a lock, keep them with synclings::Lock",
        mirrors: "threading.Lock (exam question 18)",
        library: None,
        hint: "`count_racy`: an `AtomicUsize` and `std::thread::scope`; each thread does `per_thread` times \
`let seen = counter.load(Relaxed); counter.store(seen + 1, Relaxed);` (two steps: another thread's \
store can fall between them). `count_locked`: `let counter = Lock::new(0);` and \
`*counter.acquire() += 1` (the guard holds the lock from the read to the write); \
`counter.into_inner()` at the end. `a` and `b` are both `li.acquire().push(x)`: there is no other way \
to reach the Vec. `append_both`: a scope with two threads, one looping over `a`, the other over `b`.",
    },
    Exercise {
        name: "event",
        number: 4,
        title: "build Event from the facade's Mutex + Condvar",
        mirrors: "threading.Event (seed program 4, exam question 7)",
        library: Some("synclings::Event"),
        hint: "Keep two things under one Mutex: the flag and a generation counter that `set` bumps when the \
flag goes from false to true. A waiter remembers the generation when it starts and loops on \
`cond.wait(guard)` until the flag is set or the generation moved: that is how a waiter still returns \
true when `clear` follows `set` at once. `set` must call `notify_all` (every waiter wakes). For \
`wait_timeout`, compute `deadline = Instant::now() + timeout` once, loop on `wait_until(guard, deadline)` \
and leave when it says `timed_out`; return whether the generation moved.",
    },
    Exercise {
        name: "event_gate",
        number: 5,
        title: "hold ten threads at a gate (synclings::Event) until the main thread opens it",
        mirrors: "threading.Event (seed program 4, exam question 17)",
        library: None,
        hint: "In `spawn_waiters`, give each thread its own `Arc::clone(&gate)` and have it call `gate.wait()` \
(no timeout: the gate must be the only way through), then take `Instant::now()`, print it and return \
it; collect the `JoinHandle`s and return them without joining. In `run`: make the gate, spawn the \
waiters, `std::thread::sleep(open_after)`, then `let opened = Instant::now();` BEFORE `gate.set()` \
(every waiter's instant then comes after it), and join the waiters in order.",
    },
    Exercise {
        name: "bounded_concurrency",
        number: 7,
        title: "ten threads, at most five at a time, with synclings::Semaphore",
        mirrors: "threading.Semaphore (seed program 5, exam question 17)",
        library: None,
        hint: "Put a `Semaphore::new(limit)`, two `AtomicUsize`s (inside now, peak) and `work` in one \
struct behind an `Arc`. Each thread: `let permit = room.seats.acquire();`, then \
`let now = room.inside.fetch_add(1, Relaxed) + 1; room.peak.fetch_max(now, Relaxed);`, then \
`(room.work)(i)`, then `fetch_sub(1, Relaxed)` and only then `drop(permit)`: count yourself out before \
giving the seat back, or the next thread counts limit + 1. Join every thread, return the peak.",
    },
];

/// One exercise of the course.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// The file stem and binary name: `exercises/NAME.rs`, `--bin NAME`.
    pub name: &'static str,
    /// The exercise's number in the course (the order).
    pub number: u32,
    /// What to do, in a line.
    pub title: &'static str,
    /// The Python (and the seed program or exam question) it mirrors.
    pub mirrors: &'static str,
    /// For "build X" exercises: the library type that passes the same suite.
    pub library: Option<&'static str>,
    /// The hint `cargo run -- hint NAME` prints.
    pub hint: &'static str,
}
