//! # Exercise 22 — an executor: a ready queue, `spawn`, and a loop without IO
//!
//! **What to build.** `Executor`: many futures (tasks) on one thread.
//!
//! - `spawn(future)` puts the task in a table by id and its id on the
//!   **ready queue**; `spawner()` gives a clonable handle that can spawn
//!   from inside a task.
//! - `run()` loops: pop an id from the ready queue, take that task out of
//!   the table (it may spawn while it runs), poll it with a waker of its
//!   own, put it back if it is `Pending`; when the queue is empty and tasks
//!   remain, `std::thread::park()`; when no task remains, return.
//! - A task's waker (`TaskWaker`: its id and the queue) pushes the id back
//!   onto the ready queue and unparks the executor's thread. Wakers may be
//!   called from any thread: the queue is an `Arc<ReadyQueue>` with a
//!   `Mutex<VecDeque<usize>>` and the executor's `Thread`. The tasks stay on
//!   the executor's thread (`Rc<RefCell<..>>`): they need not be `Send`.
//!
//! **The Python it mirrors**: the heart of `asyncio`'s event loop (exam
//! question 34), `loop._ready` and `Task.__step`, without the selector:
//! tasks switch only where they wait (question 33).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin executor` runs the suite;
//! - `cargo run -p exercises --bin executor` runs the `main` below.
//! - Stuck? `cargo run -- hint executor`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

/// The thread-safe part: the ready queue and the thread to wake.
struct ReadyQueue {
    ids: Mutex<VecDeque<usize>>,
    thread: Thread,
}

/// A task's waker: queues its id.
struct TaskWaker {
    id: usize,
    queue: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // TODO: push the id onto the ready queue, unpark the executor's thread.
        todo!()
    }
}

/// What the executor and its spawners share on its thread.
struct Tasks {
    table: HashMap<usize, BoxedTask>,
    next_id: usize,
}

/// Runs tasks on the thread that created it.
pub struct Executor {
    tasks: Rc<RefCell<Tasks>>,
    queue: Arc<ReadyQueue>,
}

/// Spawns tasks onto an [`Executor`], also from inside its tasks.
#[derive(Clone)]
pub struct Spawner {
    tasks: Rc<RefCell<Tasks>>,
    queue: Arc<ReadyQueue>,
}

impl Spawner {
    /// Adds a task; it runs when the executor gets to it.
    pub fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        // TODO: a new id; the boxed, pinned future in the table; the id on
        // the ready queue.
        todo!()
    }
}

impl Executor {
    /// An executor for the calling thread.
    pub fn new() -> Self {
        Executor {
            tasks: Rc::new(RefCell::new(Tasks {
                table: HashMap::new(),
                next_id: 0,
            })),
            queue: Arc::new(ReadyQueue {
                ids: Mutex::new(VecDeque::new()),
                thread: thread::current(),
            }),
        }
    }

    /// A handle to spawn tasks (clone it into tasks that spawn others).
    pub fn spawner(&self) -> Spawner {
        Spawner {
            tasks: Rc::clone(&self.tasks),
            queue: Arc::clone(&self.queue),
        }
    }

    /// Adds a task.
    pub fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        self.spawner().spawn(future);
    }

    /// Runs until every task has finished, sleeping while none is ready.
    pub fn run(&self) {
        // TODO: loop: no task left -> return; pop an id (none -> park and
        // go round); take the task out of the table (gone -> go round); poll
        // it with a Waker of a TaskWaker of its id; Pending -> put it back.
        todo!()
    }
}

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns `Pending` once (waking itself first): lets the other tasks run.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

fn main() {
    let executor = Executor::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    for name in ["ping", "pong"] {
        let log = log.clone();
        executor.spawn(async move {
            for i in 0..3 {
                log.borrow_mut().push(format!("{name} {i}"));
                yield_now().await;
            }
        });
    }
    executor.run();
    for line in log.borrow().iter() {
        println!("{line}");
    }
}

#[cfg(test)]
synclings_suites::executor_suite!(crate::Executor);
