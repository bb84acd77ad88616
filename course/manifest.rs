// The course manifest: the exercises in order, each with its hints, and what
// each platform can run.
//
// This file is plain Rust data, read by the course runner (`cargo run`) and by
// CI (`cargo run -- verify`). It is the ONE list of exercises. Adding one means:
// 1. its entry below;
// 2. `exercises/NAME.rs`, the skeleton the learner edits (its pristine copy is
//    that file as committed: `cargo run -- reset NAME` restores it from the
//    copy the runner embeds, recorded in `course/pristine.sum`);
// 3. `solutions/NAME.rs`, the reference solution, a runnable binary;
// 4. `suites/src/NAME.rs`, its suite `synclings_suites::NAME_suite!`, used by
//    both (for a "build X" exercise also by the library: `library` below);
// then `cargo run -- dev update`, which writes everything else from this file:
// the `[[bin]]` lists of exercises/ and solutions/, the suite registry
// (suites/src/lib.rs, suites/tests/library.rs) and course/pristine.sum.
// `cargo run -- dev check` (and `verify`) fail, naming the entry, when any of
// them is out of step.

/// What an exercise may need that not every platform has. Which platforms
/// have it is said once, in [`CAPABILITIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Child processes, pipes and process queues: `synclings::ipc`.
    Processes,
    /// The echo servers' building blocks: `synclings::net` and
    /// `synclings::selector`.
    Net,
    /// Raw Unix file descriptors (`std::os::fd`), as the selector exercises'
    /// connection tables use.
    UnixFds,
    /// The event loop: `synclings::asyncio` (Unix: its reactor keys sources
    /// by file descriptor).
    Asyncio,
}

/// Where a [`Capability`] exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platforms {
    /// The capability.
    pub capability: Capability,
    /// Its Cargo feature of `synclings-suites`: an exercise that needs it is
    /// a `[[bin]]` with `required-features = ["synclings-suites/FEATURE"]`,
    /// so it is built only where the feature is on.
    pub feature: &'static str,
    /// The `cfg(...)` predicate of the targets that have it (it turns the
    /// feature on there, in exercises/ and solutions/).
    pub cfg: &'static str,
    /// Those targets, for the learner: "needs {names}".
    pub names: &'static str,
}

/// Which platforms have each capability, said once for the whole course.
///
/// - `Processes` follows `synclings::ipc` (`#[cfg(unix)]` in src/lib.rs).
/// - `Net` follows `synclings::net` and `synclings::selector`: every target
///   (the selector has a backend everywhere).
/// - `UnixFds`: exercises 19 and 20 key their connections by `RawFd`.
/// - `Asyncio` follows `synclings::asyncio` (`#[cfg(unix)]` in src/lib.rs).
pub const CAPABILITIES: &[Platforms] = &[
    Platforms {
        capability: Capability::Processes,
        feature: "processes",
        cfg: "unix",
        names: "Linux, macOS or a BSD (on Windows: use WSL)",
    },
    Platforms {
        capability: Capability::Net,
        feature: "net",
        cfg: "all()",
        names: "any platform",
    },
    Platforms {
        capability: Capability::UnixFds,
        feature: "unix-fds",
        cfg: "unix",
        names: "Linux, macOS or a BSD (on Windows: use WSL)",
    },
    Platforms {
        capability: Capability::Asyncio,
        feature: "asyncio",
        cfg: "unix",
        names: "Linux, macOS or a BSD (on Windows: use WSL)",
    },
];

/// The exercises, in the order a learner takes them.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "threads",
        number: 1,
        title: "start ten named threads and join them all",
        mirrors: "threading.Thread, current_thread, active_count, join (seed program 1, exam question 10)",
        program: Some(1),
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "Start all ten threads before you join any of them: keep the handles in a Vec, then join them in a second loop.",
        walkthrough: "Two loops, not one. First start every thread with \
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
        program: Some(2),
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "`thread_local!` gives every thread its own copy of a static; a Barrier makes every thread set its name before any of them reads it back.",
        walkthrough: "Declare `thread_local! { static NAME: RefCell<String> = const { RefCell::new(String::new()) }; }`. \
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
        program: None,
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "The racy count must read and write in two separate steps; the locked one must hold the guard from the read to the write.",
        walkthrough: "`count_racy`: an `AtomicUsize` and `std::thread::scope`; each thread does `per_thread` times \
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
        program: None,
        needs: &[],
        own_test_main: false,
        library: Some("synclings::Event"),
        nudge: "A flag under a Mutex and a Condvar to sleep on. What should a waiter see if `clear` comes right after `set`, before it wakes?",
        walkthrough: "Keep two things under one Mutex: the flag and a generation counter that `set` bumps when the \
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
        program: Some(4),
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "Every thread waits on its own clone of one shared Event; take the instant `opened` before you set it.",
        walkthrough: "In `spawn_waiters`, give each thread its own `Arc::clone(&gate)` and have it call `gate.wait()` \
(no timeout: the gate must be the only way through), then take `Instant::now()`, print it and return \
it; collect the `JoinHandle`s and return them without joining. In `run`: make the gate, spawn the \
waiters, `std::thread::sleep(open_after)`, then `let opened = Instant::now();` BEFORE `gate.set()` \
(every waiter's instant then comes after it), and join the waiters in order.",
    },
    Exercise {
        name: "semaphore",
        number: 6,
        title: "build Semaphore (acquire -> Permit, release(n)) from the facade's Mutex + Condvar",
        mirrors: "threading.Semaphore (seed program 5, exam questions 17 and 25)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: Some("synclings::Semaphore"),
        nudge: "A count of free permits under a Mutex; a Permit gives its permit back when dropped. How many sleepers should `release(n)` wake?",
        walkthrough: "Keep the number of free permits (and how many threads sleep waiting for one) under one \
Mutex, with one Condvar `permit_added`. `acquire`: lock, `while available == 0 { guard = cond.wait(guard) }`, \
take one, return `Permit { semaphore: self }`; the Permit's `Drop` calls `release(1)`. `release(n)`: lock, \
add `n`, then `notify_one` once per permit added, but no more times than there are sleepers (Python's \
`self._cond.notify(n)`): one notify for two permits strands a waiter. `try_acquire` never waits. \
`acquire_timeout`: compute `Instant::now().checked_add(timeout)` once, loop on `wait_until(guard, deadline)`, \
and when it reports `timed_out` take a permit if one is there after all, else return None. Build the \
`Option<Permit>` with `.then(|| Permit { .. })`, not `.then_some(..)`: a Permit built for nothing releases \
a permit when dropped.",
    },
    Exercise {
        name: "bounded_concurrency",
        number: 7,
        title: "ten threads, at most five at a time, with synclings::Semaphore",
        mirrors: "threading.Semaphore (seed program 5, exam question 17)",
        program: Some(5),
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "Hold the permit for the whole of the work, and count yourself out before you give the permit back.",
        walkthrough: "Put a `Semaphore::new(limit)`, two `AtomicUsize`s (inside now, peak) and `work` in one \
struct behind an `Arc`. Each thread: `let permit = room.seats.acquire();`, then \
`let now = room.inside.fetch_add(1, Relaxed) + 1; room.peak.fetch_max(now, Relaxed);`, then \
`(room.work)(i)`, then `fetch_sub(1, Relaxed)` and only then `drop(permit)`: count yourself out before \
giving the seat back, or the next thread counts limit + 1. Join every thread, return the peak.",
    },
    Exercise {
        name: "rlock",
        number: 8,
        title: "build RLock from Mutex<(Option<ThreadId>, usize)> + Condvar; catch a plain Lock's re-entry deadlock",
        mirrors: "threading.Lock vs threading.RLock (exam question 12: RLock = Lock + counter)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: Some("synclings::RLock"),
        nudge: "Remember who owns the lock and how many times it entered; only the last release frees it for the others.",
        walkthrough: "`reenter_plain_lock`: `let lock = Lock::new(()); let _held = lock.acquire();` then return \
`lock.acquire_timeout(timeout).is_some()`: false, the deadlock a plain `acquire()` would never return from. \
RLock: the state is `(owner, depth)` under one Mutex; `me = thread::current().id()`. Entering: `(None, _)` \
becomes `(Some(me), 1)`; `(Some(me), n)` becomes `(Some(me), n + 1)`; another owner means wait on the \
condvar and look again (loop). The guard's `Drop` takes one level off; when the depth reaches 0 set the \
owner to None and `notify_one` (only the LAST release frees the lock). `recursion_count` is the depth if \
the owner is `me`, else 0; `is_owned` is `recursion_count() > 0`; `is_locked` is `owner.is_some()`. \
`acquire_timeout`: deadline once, loop on `wait_until`, on `timed_out` try to enter one last time.",
    },
    Exercise {
        name: "condition",
        number: 9,
        title: "build Condition<T> with FIFO notify(n), wait_for and timed waits",
        mirrors: "threading.Condition (exam questions 7 and 17)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: Some("synclings::Condition"),
        nudge: "`notify(n)` wakes the n longest waiters and no more: give each waiter a ticket of its own, in a FIFO.",
        walkthrough: "Do what CPython does: every waiter queues its own ticket. Put the value and a \
`VecDeque<Arc<AtomicBool>>` (false = waiting, true = chosen) under the Mutex; the guard keeps the \
`MutexGuard` in an `Option` so `wait` can hand it to `Condvar::wait(guard)` and put it back. `wait`: \
push a fresh ticket, sleep until it is true (a wake-up with the ticket false is spurious: sleep again), \
then remove your ticket (find it with `Arc::ptr_eq`). `notify(n)`: set the first `n` tickets that are \
still false, then `notify_all` (every sleeper looks at its own ticket). Timed waits: deadline once; when \
`wait_until` says `timed_out`, read your ticket under the lock (true = a notify chose you first: return \
true) and remove it before unlocking, so no later notify counts you. `wait_for`: `while !pred(&value) \
{ wait() }`; `wait_for_timeout` returns `pred(&value)` once more when time is up.",
    },
    Exercise {
        name: "timer",
        number: 10,
        title: "build Timer with cancel: run a callback after a delay on its own thread",
        mirrors: "threading.Timer (seed program 6: say hello after a delay without time.sleep())",
        program: Some(6),
        needs: &[],
        own_test_main: false,
        library: Some("synclings::Timer"),
        nudge: "One thread waits until the deadline or a cancel, whichever comes first: decide under the lock which one wins.",
        walkthrough: "Share an `Arc` of { Mutex<State>, Condvar } between the Timer and its thread; State holds \
started, cancelled, finished, the boxed callback (`Option<Box<dyn FnOnce() + Send>>`) and the JoinHandle. \
`start`: if started, `Err(TimerError::AlreadyStarted)`; compute the deadline once and spawn with \
`synclings::sync::thread::Builder` (map a spawn error to `TimerError::Spawn`). The timer thread: lock, \
`while !cancelled` wait_until the deadline (leave on `timed_out`); then take the callback out of the \
state under the lock (the commit point), unlock, run it unless cancelled, lock, set finished, `notify_all`. \
`cancel`: if the callback is still in the state, set cancelled and `notify_all`; else do nothing. `join`: \
`Err(NotStarted)` before start, else wait while !finished, then join the thread handle outside the lock.",
    },
    Exercise {
        name: "queue",
        number: 11,
        title: "build a bounded Queue<T> with Python's three conditions over one Mutex",
        mirrors: "queue.Queue: put/put_nowait/get/get_nowait, task_done/join, shutdown (exam question 32)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: Some("synclings::Queue"),
        nudge: "One Mutex and three Condvars (Python's `not_empty`, `not_full`, `all_tasks_done`); write one put and one get that take \"how long may I wait\".",
        walkthrough: "One `Mutex<State>` (the `VecDeque`, `unfinished_tasks`, `is_shutdown`) and three `Condvar`s \
used with that same mutex: `not_empty`, `not_full`, `all_tasks_done`. Write ONE put and ONE get taking a \
\"how long may I wait\" parameter (not at all / for ever / until a deadline computed once) and build the \
three public versions on them. In the put loop check, in this order: shut down -> `ShutDown(item)`; room -> \
leave the loop; out of time -> `Full(item)`; else sleep on `not_full` (with `wait_until`, remember its \
`timed_out` and go round once more, so a last check happens). The get loop takes an item first (getters \
drain after a shutdown), then checks shutdown, then Empty. A put does `not_empty.notify_one()`, a get \
`not_full.notify_one()`, the task_done that reaches 0 `all_tasks_done.notify_all()`; `shutdown` wakes \
ALL of them, and with `immediate` also empties the items and lowers `unfinished_tasks` by as many.",
    },
    Exercise {
        name: "producer_consumer",
        number: 12,
        title: "N producers, M consumers over a Queue, one poison pill per consumer",
        mirrors: "multiprocessing producer-consumer with a Queue and None end signals (seed program 7)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "Join the producers before you send the pills, and send exactly one pill per consumer.",
        walkthrough: "Use a `synclings::Queue<Option<u64>>`: `Some(item)` is an item, `None` the pill. Inside \
`std::thread::scope`, spawn the consumers (each loops on `queue.get()` and stops at the first `None`, \
returning its `Vec`) and the producers (producer `p` puts `Some(p * per_producer + i)` for each `i`). \
Join the producers FIRST, then put exactly one `None` per consumer, then join the consumers and collect \
their vectors in order. A missing pill leaves a consumer blocked in `get` for ever; a pill put before the \
producers finish stops a consumer too early.",
    },
    Exercise {
        name: "coroutine",
        number: 13,
        title: "a coroutine-style producer-consumer: a resumable consumer, no threads",
        mirrors: "a generator consumer driven with next(c) and c.send(i) (seed program 3, exam question 33)",
        program: Some(3),
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "A generator's local variables become a struct's fields, and the code between two `yield`s becomes a method.",
        walkthrough: "A Python generator keeps its local variables between two `yield`s; in Rust they become the \
fields of a struct (here a `count: usize`), and the code between two `yield`s becomes a method: `send` \
adds one to the count and returns `format!(\"consume: {item}\")`. `Consumer::new()` is `consumer()` \
followed by `next(c)`: a consumer ready to receive. `producer(n)` makes one consumer and, for each `i` in \
`0..n`, pushes `\"produce: i\"` and then what `send(i)` returned. No thread and no channel: `send` is a \
plain call, the `yield` is its return.",
    },
    Exercise {
        name: "process_pipe",
        number: 14,
        title: "a pipe between two processes: the parent and child halves of three conversations",
        mirrors: "multiprocessing.Pipe, Process, join (seed program 8, exam questions 8, 9, 20, 22)",
        program: Some(8),
        needs: &[Capability::Processes],
        own_test_main: true,
        library: None,
        nudge: "Drop your copy of the child's end right after `spawn`, and read everything before you join.",
        walkthrough: "Every parent half starts the same way: `let (mut conn, child_conn) = pipe(true).unwrap();` \
(`pipe(false)` gives `(reader, writer)`), `let mut child = Process::spawn(\"shout\", &child_conn).unwrap();`, \
then `drop(child_conn)`: the child has its own copy, and yours would keep the pipe open. A child entry \
loops `match conn.recv::<String>() { Ok(line) => .., Err(RecvError::Closed) => return, Err(e) => panic!(\"{e}\") }`: \
the end of the pipe is the only goodbye. In `converse`, `conn.close()` BEFORE `child.join()` (the child \
waits for your goodbye, you would wait for its exit). In `collect_count`, receive until `Closed` first and \
join after: 150 000 numbers do not fit in a pipe, so a child you join before reading never finishes \
writing. Check `child.join().unwrap().success()`: a child's panic shows up there.",
    },
    Exercise {
        name: "process_queue",
        number: 15,
        title: "producer and consumer processes over a process Queue, one sentinel per consumer",
        mirrors: "multiprocessing.Queue and Process with None end signals (seed program 7, exam questions 9 and 32)",
        program: Some(7),
        needs: &[Capability::Processes],
        own_test_main: true,
        library: None,
        nudge: "Exercise 12 with processes: a child cannot return a value, so each consumer sends its list back on a second queue.",
        walkthrough: "The entries are exercise 12's threads as functions of a tuple: `producer` does \
`jobs.put(&Some(id * per_producer + i)).unwrap()` for each `i`; `consumer` collects \
`while let Some(item) = jobs.get().unwrap() { items.push(item) }` and then sends \
`results.put(&(id, items)).unwrap()` (a child cannot return a value). In `run`: \
`let jobs = Queue::<Option<u64>>::new(capacity).unwrap();` and a `Queue::<(u64, Vec<u64>)>::new(0)`; spawn \
with `Process::spawn(\"consumer\", &(&jobs, &results, id))` and `Process::spawn(\"producer\", &(&jobs, id, \
per_producer))`, keeping the `Process` handles in two `Vec`s. Join every producer (assert \
`status.success()`), THEN put one `None` per consumer, then `results.get()` once per consumer (put each list \
at index `id`), then join the consumers.",
    },
    Exercise {
        name: "thread_pool",
        number: 16,
        title: "build a ThreadPool with a bounded backlog on top of Queue",
        mirrors: "concurrent.futures.ThreadPoolExecutor: submit/result/shutdown(wait) (exam question 23)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: Some("synclings::ThreadPool"),
        nudge: "The backlog is a bounded Queue of boxed jobs; a worker loops on `get` until the queue is shut down and drained.",
        walkthrough: "The backlog is an `Arc<Queue<Box<dyn Job>>>` of maxsize `backlog`; each worker (spawned with \
`synclings::sync::thread`) loops `while let Ok(job) = jobs.get() { job.run() }`, which ends only once the \
queue is shut down AND drained. A job holds the closure and an `Arc<Slot<R>>` (a `Mutex<Option<Result<R, \
TaskError>>>` plus a `Condvar`); `run` calls `catch_unwind(AssertUnwindSafe(f))`, turns a panic payload \
(`&str` or `String`) into `TaskError::Panicked(message)`, stores the outcome under the lock and \
`notify_all`s. `TaskHandle::join` loops: outcome there? take it; else wait. `submit` = `put`, \
`try_submit` = `try_put`: on failure the queue hands the boxed job back, and `into_any().downcast::<Task<F, \
R>>()` gives you `f` to return. `shutdown(wait)` = `jobs.shutdown(false)`, then (with `wait`) join every \
worker handle.",
    },
    Exercise {
        name: "echo_blocking",
        number: 17,
        title: "a blocking echo server: one thread per connection, and a graceful shutdown",
        mirrors: "blocking IO, socketserver.ThreadingTCPServer (IO-models article; the seed's question 10 handler)",
        program: None,
        needs: &[Capability::Net],
        own_test_main: false,
        library: None,
        nudge: "Nothing wakes a blocked `accept` but a connection: to stop, connect to yourself.",
        walkthrough: "`serve`: first `let addr = listener.local_addr()?;` and `stop.on_request(move || { let _ = \
TcpStream::connect_timeout(&addr, Duration::from_secs(1)); })`: that connection wakes the blocked \
`accept`. Then `while !stop.is_requested()`: `match listener.accept()`: `ConnectionAborted` or \
`Interrupted` -> `continue`; another error -> sleep 100 ms and `continue` (never `?`: one bad accept must \
not stop the server); `Ok((stream, peer))` -> if `stop.is_requested()` break, else keep \
`stream.try_clone()?` next to the `JoinHandle` of `thread::spawn(move || handle(stream, peer))` in a Vec \
(`retain(|(_, t)| !t.is_finished())` now and then). After the loop: `shutdown(Shutdown::Both)` every clone \
(each blocked `read` returns 0), then join every thread. `handle`: `loop { match stream.read(&mut buf) { \
Ok(0) => break, Ok(n) => { respond(&mut buf[..n], EchoMode::Upper); if stream.write_all(&buf[..n]).is_err() \
{ break } } Err(_) => break } }`, then `stream.shutdown(Both)`: the server's clone keeps the socket open.",
    },
    Exercise {
        name: "echo_nonblocking",
        number: 18,
        title: "a non-blocking echo server that busy-polls, and why it burns a core",
        mirrors: "non-blocking IO: setblocking(False), BlockingIOError (the IO-models article's server)",
        program: None,
        needs: &[Capability::Net],
        own_test_main: false,
        library: None,
        nudge: "Every call returns at once: `WouldBlock` means \"nothing yet\", and what you could not write waits for the next turn.",
        walkthrough: "`listener.set_nonblocking(true)?`, and `stream.set_nonblocking(true)` for every accepted \
stream, or one silent client blocks the loop. `while !stop.is_requested()`: `turns.fetch_add(1, Relaxed)`; \
`match listener.accept()` (`Ok` -> push a `Client { stream, outbox: Vec::new(), eof: false }`; any error, \
`WouldBlock` included -> nothing); `clients.retain_mut(|c| c.poll(&mut buf))`; `std::thread::yield_now()`. \
`poll`: unless `eof`, `read`: `Ok(0)` -> `eof = true`; `Ok(n)` -> `respond(&mut buf[..n], EchoMode::Upper)` \
and `outbox.extend_from_slice(&buf[..n])`; `Err(e)` with `e.kind() == WouldBlock` -> nothing; other errors \
-> return false. Then `while !outbox.is_empty()`: `write(&outbox)`: `Ok(n)` -> `outbox.drain(..n)`; \
`WouldBlock` -> break (the rest waits for a later turn); error -> return false. Return \
`!(eof && outbox.is_empty())`. Dropping a client closes it.",
    },
    Exercise {
        name: "echo_selector",
        number: 19,
        title: "the selectors echo server: accept and read callbacks in a Selector<Callback>",
        mirrors: "selectors.DefaultSelector with accept/read callbacks (seed program 9, exam questions 11, 13, 28)",
        program: Some(9),
        needs: &[Capability::Net, Capability::UnixFds],
        own_test_main: false,
        library: None,
        nudge: "Register the listener with an `accept` callback and every connection with a `read` callback; the loop only dispatches.",
        walkthrough: "Build `EchoServer { sel: Selector::new()?, listener, conns: HashMap::new(), buf: vec![0; 16 * \
1024] }` after `listener.set_nonblocking(true)?`, then `server.sel.register(&server.listener, \
Interest::READ, accept)?` (a fn item coerces to the `Callback` pointer). `let notifier = \
server.sel.notifier(); stop.on_request(move || { let _ = notifier.notify(); });`. Loop: `for (fd, events) \
in server.sel.select_ready(None)? { let Ok(key) = server.sel.get_key(&fd) else { continue }; let callback \
= key.data; callback(&mut server, fd, events); }` (copy the pointer out first: the call needs `&mut \
server`). `accept`: `if let Ok((conn, _)) = server.listener.accept()`, `register(&conn, Interest::READ, \
read)` then `conns.insert(conn.as_raw_fd(), conn)`. `read`: `let Some(mut conn) = server.conns.get(&fd)`; \
0 bytes or an error -> `close`, else respond and `write_all`. `close`: `conns.remove(&fd)`, then \
`sel.unregister(&conn)` BEFORE the stream drops. At the end close every fd of `conns`.",
    },
    Exercise {
        name: "echo_flood",
        number: 20,
        title: "an echo server that survives a flood: connection cap, idle timeout, bounded buffers",
        mirrors: "the seed's question 10: a socketserver that a flood of requests cannot bring down",
        program: None,
        needs: &[Capability::Net, Capability::UnixFds],
        own_test_main: false,
        library: None,
        nudge: "Everything a client can make grow needs a limit: the connections, the bytes buffered for each, the idle time.",
        walkthrough: "Start from exercise 19. `accept`: if `conns.len() >= config.max_connections`, count \
`stats.refused += 1` and return (the stream drops: closed); else `set_nonblocking(true)`, register for \
`READ` with `on_conn`, insert a `Conn { out: Vec::new(), eof: false, last_active: Instant::now(), .. }`, \
`stats.accepted += 1`. `on_conn`: if `events.is_readable()` and `!eof && out.len() < max_buffered`, read \
into `&mut buf[..room]` with `room = (max_buffered - out.len()).min(buf.len())` (`buf` is \
`config.read_chunk` long); count `bytes_in`, respond, append to `out`, `last_active = now`. Then write \
from `out` until `WouldBlock`, counting `bytes_out`, `last_active = now`. `eof && out.is_empty()` -> \
`close`; else `sel.modify(&stream, interest, on_conn)` with `READ` while there is room and `WRITE` while \
`out` is not empty. Loop: `select_ready(timeout)` with `timeout` = the earliest `last_active + \
idle_timeout` minus now (`saturating_duration_since`; `None` without connections); after it, close \
(and count `closed_idle`) every conn with `now - last_active >= idle_timeout`.",
    },
    Exercise {
        name: "block_on",
        number: 21,
        title: "build a waker and block_on: drive one future to completion",
        mirrors: "asyncio.run(coro) for one coroutine: a coroutine resumed by the loop (exam question 34)",
        program: None,
        needs: &[Capability::Asyncio],
        own_test_main: false,
        library: Some("synclings::asyncio::run"),
        nudge: "A waker is how a future says \"poll me again\": make one that unparks this thread, then poll, park, poll.",
        walkthrough: "`ThreadWaker { thread: Thread }` and `fn wake(self: Arc<Self>) { self.thread.unpark() }`. In \
`block_on`: `let mut future = std::pin::pin!(future);` then `let waker = Waker::from(Arc::new(ThreadWaker { \
thread: thread::current() }));` and `let mut cx = Context::from_waker(&waker);`. Loop: `if let Poll::Ready(v) \
= future.as_mut().poll(&mut cx) { return v; }` then `thread::park();`. No flag is needed: an `unpark` that \
comes before the `park` leaves a token, and that `park` returns at once; a `park` that returns for no \
reason only costs one more poll.",
    },
    Exercise {
        name: "executor",
        number: 22,
        title: "build an executor: a ready queue of task ids, spawn, and run (the loop without IO)",
        mirrors: "asyncio's event loop: loop._ready and Task.__step, without the selector (exam questions 33 and 34)",
        program: None,
        needs: &[],
        own_test_main: false,
        library: None,
        nudge: "A task that is woken puts its id back on the ready queue; the loop pops ids and polls those tasks, and parks when there are none.",
        walkthrough: "`TaskWaker::wake_by_ref`: `self.queue.ids.lock().unwrap().push_back(self.id); \
self.queue.thread.unpark();`. `Spawner::spawn`: borrow the table mutably, take `next_id` (and bump it), \
`table.insert(id, Box::pin(future))`, push the id on the ready queue. `run`: `loop {` if the table is \
empty `return`; `let next = self.queue.ids.lock().unwrap().pop_front();` (end the lock's borrow before \
parking!), `None` -> `thread::park(); continue`; `let Some(mut task) = table.remove(&id) else { continue };` \
(remove it: the task may spawn, which borrows the table); poll it with `Waker::from(Arc::new(TaskWaker { \
id, queue: Arc::clone(&self.queue) }))`; `Pending` -> insert it back. `}`",
    },
    Exercise {
        name: "timer_reactor",
        number: 23,
        title: "build sleep on a timer heap and a reactor turn over the Selector",
        mirrors: "BaseEventLoop._run_once: the heap of timers, selector.select(timeout), then the ready and the due (asyncio.sleep)",
        program: None,
        needs: &[Capability::Net, Capability::Asyncio],
        own_test_main: false,
        library: None,
        nudge: "One turn: wait in the selector no longer than the earliest timer, then wake what became readable and what is due.",
        walkthrough: "`turn`: in a block with `let mut r = self.reactor.borrow_mut(); let r = &mut *r;`: `while let \
Some(&Reverse((deadline, id))) = r.timers.peek()` -> if `r.timer_wakers.contains_key(&id)` the timeout is \
`Some(deadline.saturating_duration_since(Instant::now()))` and break, else `r.timers.pop()`. Then `for (fd, _) \
in r.sel.select_ready(timeout)?` -> `if let Some(w) = r.readers.remove(&fd) { r.readable.insert(fd); \
wakers.push(w) }`; then pop the timers with `deadline <= Instant::now()` and push their wakers. Wake them after \
the block. `Sleep::poll`: `Instant::now() >= deadline` -> remove its waker, Ready; no id yet -> new id, push \
`Reverse((deadline, id))`, insert the waker; else insert the new waker. `Readable::poll`: `registered && \
r.readable.remove(&fd)` -> unregister, Ready(Ok(())); else register once (`Interest::READ`) and insert the waker.",
    },
    Exercise {
        name: "echo_asyncio",
        number: 24,
        title: "the seed's asyncio echo server: start_server, a task per connection, read/write/drain",
        mirrors: "asyncio.start_server with StreamReader/StreamWriter (seed program 11, exam questions 33 and 34)",
        program: Some(11),
        needs: &[Capability::Net, Capability::Asyncio],
        own_test_main: false,
        library: None,
        nudge: "One task per connection: read, uppercase, write, then await drain so a client that never reads cannot make you buffer without end.",
        walkthrough: "`handle`: `loop { let mut data = match reader.read(1024).await { Ok(d) if !d.is_empty() => d, _ => \
break }; respond(&mut data, EchoMode::Upper); writer.write(&data); if writer.drain().await.is_err() { return } }` \
then `writer.close()`. `serve`: `let event_loop = EventLoop::new()?; let stopped = Arc::new(asyncio::Event::new()); \
let set = stopped.clone(); stop.on_request(move || set.set());` then `event_loop.run_until_complete(async { let \
server = Server::from_listener(listener, handle)?; stopped.wait().await; server.close(); io::Result::Ok(()) })`. \
Returning drops the loop, which cancels the connection tasks and closes their sockets.",
    },
    Exercise {
        name: "async_producer_consumer",
        number: 25,
        title: "seed program 3 with an event loop: producer and consumer tasks over asyncio::Queue",
        mirrors: "asyncio.Queue put/get/task_done/join between two tasks (seed program 3 again, exam question 33)",
        program: None,
        needs: &[Capability::Asyncio],
        own_test_main: false,
        library: None,
        nudge: "The queue does the waiting: put awaits room, get awaits an item, join awaits every task_done.",
        walkthrough: "`consumer`: `while let Some(item) = queue.get().await.unwrap() { log.borrow_mut().push(format!(\"consume: \
{item}\")); queue.task_done().unwrap(); }` and one more `task_done()` for the `None`. `producer`: for each `i`: \
push `produce: i`, `queue.put(Some(i)).await.unwrap()`, `queue.join().await` (the consumer has logged it), then \
`queue.put(None).await`. `run`: `asyncio::run(async move { let queue = Rc::new(Queue::new(1)); let log = \
Log::default(); let c = asyncio::create_task(consumer(queue.clone(), log.clone())); producer(queue, n, \
log.clone()).await; c.await.unwrap(); let lines = log.borrow().clone(); lines })`.",
    },
    Exercise {
        name: "process_pool",
        number: 26,
        title: "run registered tasks on a pool of worker processes (map, imap, a panic as a result)",
        mirrors: "multiprocessing.Pool: map, imap, chunksize, a fixed set of workers (exam question 23)",
        program: None,
        needs: &[Capability::Processes],
        own_test_main: true,
        library: None,
        nudge: "A pool is a fixed set of worker processes that run registered functions: register them, map over the items, then close and join.",
        walkthrough: "Register the tasks: `pub static ENTRIES: &[Entry] = &[pool_task!(square), \
pool_task!(worker_pid), pool_task!(checked_root)];` (a worker process finds a task by its name in this \
table). `checked_root`: `let r = x.isqrt(); if r * r != x { panic!(\"{x} is not a perfect square\") }`. \
In each function: `let pool = Pool::new(workers).unwrap();`, then `pool.map(\"square\", 0..n, 10).unwrap()` \
(a `Vec<u64>` in the items' order; `0..n` is the iterator of items, 10 the chunksize), then \
`pool.close(); pool.join().unwrap();`. For `roots`, `pool.imap(\"checked_root\", xs.iter(), 1).unwrap()` \
yields one `Result<u64, PoolError>` per item: map `Err(PoolError::Panicked(m))` to `Err(m)`.",
    },
    Exercise {
        name: "gil",
        number: 27,
        title: "count primes on threads and on worker processes: what the GIL forbids Python",
        mirrors: "threading vs multiprocessing for CPU-bound work, the GIL (exam questions 16 and 19)",
        program: None,
        needs: &[Capability::Processes],
        own_test_main: true,
        library: None,
        nudge: "Threads share one process and here run truly in parallel; Python's threads cannot (the GIL), so it needs processes for the same speed-up.",
        walkthrough: "`count_primes`: `(lo.max(2)..hi).filter(|&p| (2..).take_while(|d| d * d <= p).all(|d| p % d \
!= 0)).count() as u64`. `split`: `(0..parts).map(|k| (k * below / parts, (k + 1) * below / \
parts)).collect()`. `on_threads`: an `AtomicUsize` `next` and an `AtomicU64` `total`; in \
`std::thread::scope(|s| for _ in 0..workers { s.spawn(|| while let Some(&r) = \
ranges.get(next.fetch_add(1, Relaxed)) { total.fetch_add(count_primes(r), Relaxed); }); })`, then \
`total.into_inner()`. `on_processes`: register `pool_task!(count_primes)` in `ENTRIES`, then \
`Pool::new(workers)`, `pool.map(\"count_primes\", ranges.iter(), 1)` and sum; close and join the pool.",
    },
    Exercise {
        name: "socketserver",
        number: 28,
        title: "a threading socketserver that a flood cannot bring down: max_children, max_per_client",
        mirrors: "socketserver.ThreadingTCPServer with question 10's caps (the seed's program 10)",
        program: Some(10),
        needs: &[Capability::Net],
        own_test_main: false,
        library: None,
        nudge: "ThreadingMixIn starts a thread per connection without limit; admit first, under one lock, and close what does not fit.",
        walkthrough: "`try_admit`: `let mut open = self.open.lock().unwrap(); if open.total >= self.max_children { \
return Err(Refused::Full) }`; `let mine = open.per_client.entry(ip).or_default(); if *mine >= \
self.max_per_client { return Err(Refused::PerClient) }`; `*mine += 1; open.total += 1; open.peak = \
open.peak.max(open.total); Ok(())`. `release`: `open.total -= 1` and decrement the IP's count, removing it \
at 0. `serve`: `std::thread::scope(|s| for conn in listener.incoming() { if stop.load(SeqCst) { break } \
let Ok(mut stream) = conn else { continue }; let ip = stream.peer_addr()?.ip(); if \
admission.try_admit(ip).is_err() { refused += 1; continue } accepted += 1; s.spawn(move || { let r = \
catch_unwind(AssertUnwindSafe(|| handler(&mut stream))); drop(stream); admission.release(ip); if \
r.is_err() { panics += 1 } }); })` with the counters as atomics the threads borrow.",
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
    /// The seed program (1 to 11, the exam's order) that its solution
    /// replays, printing what the Python printed: `cargo run -- tour` runs
    /// them in that order.
    pub program: Option<u32>,
    /// What it needs that not every platform has (see [`CAPABILITIES`]).
    pub needs: &'static [Capability],
    /// True when the suite brings the test binary's `main` (`harness =
    /// false`): the process exercises, whose children re-run the test
    /// binary, which must call `ipc::init` first.
    pub own_test_main: bool,
    /// For "build X" exercises: the library type that passes the same suite.
    pub library: Option<&'static str>,
    /// The first `h`: a nudge in the right direction.
    pub nudge: &'static str,
    /// The second `h` (and `cargo run -- hint NAME`): the full walkthrough.
    pub walkthrough: &'static str,
}
