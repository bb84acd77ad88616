//! # Solution 22 — an executor: a ready queue, `spawn`, and a loop without IO
//!
//! Exercise 21 drove one future; an executor drives many, each a *task*:
//!
//! - the tasks live in a table by id; the **ready queue** holds the ids of
//!   those worth polling (every new task starts there);
//! - a task's waker pushes its id onto the ready queue and unparks the
//!   executor's thread. Wakers may be called from any thread, so the queue
//!   is a `Mutex<VecDeque<usize>>` behind an `Arc`; the tasks themselves
//!   (which may hold `Rc`s: they need not be `Send`) never leave the
//!   executor's thread;
//! - `run` pops an id, takes the task out of the table, polls it, puts it
//!   back if it is `Pending`, and parks when the queue is empty while tasks
//!   remain. It returns when no task is left.
//!
//! This is Python's event loop without the selector (exam question 34):
//! `loop._ready` is the ready queue, `Task.__step` the poll, and a task
//! switches only where it waits.
//!
//! `cargo run -p solutions --bin executor` runs the `main` below.

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
        self.queue.ids.lock().unwrap().push_back(self.id);
        self.queue.thread.unpark();
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
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.next_id;
        tasks.next_id += 1;
        tasks.table.insert(id, Box::pin(future));
        self.queue.ids.lock().unwrap().push_back(id);
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
        loop {
            if self.tasks.borrow().table.is_empty() {
                return;
            }
            let next = self.queue.ids.lock().unwrap().pop_front();
            let Some(id) = next else {
                thread::park();
                continue;
            };
            // Out of the table while it runs: it may spawn (borrow the table).
            let Some(mut task) = self.tasks.borrow_mut().table.remove(&id) else {
                continue; // finished already (a stale wake-up)
            };
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                queue: Arc::clone(&self.queue),
            }));
            if task
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
            {
                self.tasks.borrow_mut().table.insert(id, task);
            }
        }
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
