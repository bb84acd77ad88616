//! The event loop: Python's `asyncio` loop (`BaseEventLoop._run_once`),
//! on one thread.
//!
//! One iteration, as in Python:
//!
//! 1. run every task and callback that was ready when the iteration began
//!    (what they make ready runs in the next iteration: a task that keeps
//!    waking itself cannot starve the others or the IO);
//! 2. wait in the reactor's `select`: not at all if something is ready,
//!    else until the earliest timer (or for ever, until IO or another
//!    thread's wake-up); the [`Handshake`] lets other threads hand over
//!    wake-ups and callbacks and ring the selector's `Notifier` only while
//!    the loop sleeps;
//! 3. queue the tasks whose IO became ready, then the timers that came due.
//!
//! The loop's state is thread-local (`Rc`/`RefCell`: no atomics on the
//! paths a task takes on its own thread); [`EventLoop`] and [`LoopRef`] are
//! `!Send`. [`LoopHandle`] is its `Send + Sync` part:
//! `call_soon_threadsafe`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::handshake::Handshake;
use super::reactor::{Notifier, Reactor};
use super::task::{Task, TaskCell, TaskId, TaskRun, TaskWaker};
use super::timers::{Action, TimerKey, Timers};
use crate::thread::ThreadPool;

/// The key of the future `run_until_complete` drives (not in the task table).
pub(crate) const MAIN_KEY: u64 = u64::MAX;

/// Python's default `slow_callback_duration`: 100 ms.
pub const SLOW_CALLBACK_DURATION: Duration = Duration::from_millis(100);

/// The ready-queue entry that stands for "the next callback": tasks and
/// callbacks share one FIFO of 8-byte keys, the callbacks themselves wait
/// in a queue of their own.
const CALLBACK_KEY: u64 = u64::MAX - 1;

/// What another thread hands the loop.
pub(crate) enum Remote {
    Wake(u64),
    Call(Box<dyn FnOnce() + Send>),
}

/// The loop's thread-safe half, shared by every waker and [`LoopHandle`].
pub(crate) struct Shared {
    /// Tells this loop from the others on the same thread, over time.
    id: u64,
    handshake: Handshake<Remote>,
    notifier: Notifier,
}

impl Shared {
    /// Queues task `key`: on this loop's own thread straight onto its
    /// ready queue; from anywhere else through the handshake.
    pub(crate) fn schedule(&self, key: u64) {
        let local = CURRENT.with(|current| match &*current.borrow() {
            Some(core) if core.shared.id == self.id => {
                core.ready.borrow_mut().push_back(key);
                true
            }
            _ => false,
        });
        if !local {
            // Refused only once the loop is closed: nothing left to wake.
            let _ = self.hand_over(Remote::Wake(key));
        }
    }

    /// Hands `item` to the loop, ringing it if it sleeps. Fails once the
    /// loop is closed.
    fn hand_over(&self, item: Remote) -> Result<(), Remote> {
        match self.handshake.push(item) {
            Ok(true) => {
                // A failure to ring (out of memory for the eventfd write)
                // leaves the item for the loop's next wake-up.
                let _ = self.notifier.notify();
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(item) => Err(item),
        }
    }
}

static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The loop running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// A task's entry in the loop's table.
struct Slot {
    generation: u32,
    task: Option<Rc<dyn TaskRun>>,
}

/// The loop's tasks by key (index in the low 32 bits, generation above).
#[derive(Default)]
struct TaskTable {
    slots: Vec<Slot>,
    free: Vec<usize>,
    len: usize,
}

impl TaskTable {
    fn next_key(&self) -> u64 {
        match self.free.last() {
            Some(&index) => key_of(index, self.slots[index].generation),
            None => key_of(self.slots.len(), 0),
        }
    }

    fn insert(&mut self, task: Rc<dyn TaskRun>) -> u64 {
        self.len += 1;
        match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index];
                slot.task = Some(task);
                key_of(index, slot.generation)
            }
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    task: Some(task),
                });
                key_of(self.slots.len() - 1, 0)
            }
        }
    }

    fn get(&self, key: u64) -> Option<Rc<dyn TaskRun>> {
        let slot = self.slots.get(index_of(key))?;
        if slot.generation != generation_of(key) {
            return None;
        }
        slot.task.clone()
    }

    fn remove(&mut self, key: u64) -> Option<Rc<dyn TaskRun>> {
        let index = index_of(key);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation_of(key) {
            return None;
        }
        let task = slot.task.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some(task)
    }

    fn drain(&mut self) -> Vec<Rc<dyn TaskRun>> {
        let mut tasks = Vec::with_capacity(self.len);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(task) = slot.task.take() {
                slot.generation = slot.generation.wrapping_add(1);
                self.free.push(index);
                tasks.push(task);
            }
        }
        self.len = 0;
        tasks
    }
}

fn key_of(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

fn index_of(key: u64) -> usize {
    (key & u64::from(u32::MAX)) as usize
}

fn generation_of(key: u64) -> u32 {
    (key >> 32) as u32
}

/// A callback or task step that ran longer than the loop's
/// `slow_callback_duration` in debug mode (Python logs "Executing <Task
/// ...> took 0.150 seconds").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlowCallback {
    /// `"Task-3"`, `"a callback"` or `"the main future"`.
    pub what: String,
    /// How long it ran.
    pub took: Duration,
}

impl fmt::Display for SlowCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Executing {} took {:.3} seconds: it blocked the event loop (move blocking work to to_thread)",
            self.what,
            self.took.as_secs_f64()
        )
    }
}

/// The loop's state: thread-local, shared by `Rc` between the loop, its
/// [`LoopRef`]s, and the futures that need it (sleeps, streams).
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    /// Task keys (and [`CALLBACK_KEY`]s), first come first served.
    ready: RefCell<VecDeque<u64>>,
    /// `call_soon` callbacks, one per `CALLBACK_KEY` in `ready`.
    callbacks: RefCell<VecDeque<Box<dyn FnOnce()>>>,
    tasks: RefCell<TaskTable>,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) reactor: RefCell<Reactor>,
    next_task_id: Cell<u64>,
    debug: Cell<bool>,
    slow_callback_duration: Cell<Duration>,
    #[allow(clippy::type_complexity)]
    slow_hook: RefCell<Option<Box<dyn FnMut(&SlowCallback)>>>,
    /// The default executor of `to_thread`, made on first use.
    pool: RefCell<Option<Rc<ThreadPool>>>,
    closed: Cell<bool>,
    /// Reused by every turn.
    woken: RefCell<Vec<Waker>>,
    remote: RefCell<Vec<Remote>>,
}

impl Core {
    fn new() -> io::Result<Rc<Core>> {
        let reactor = Reactor::new()?;
        let shared = Arc::new(Shared {
            id: NEXT_LOOP_ID.fetch_add(1, Relaxed),
            handshake: Handshake::new(),
            notifier: reactor.notifier(),
        });
        let debug = std::env::var_os("SYNCLINGS_ASYNCIO_DEBUG").is_some_and(|v| !v.is_empty());
        Ok(Rc::new(Core {
            shared,
            ready: RefCell::new(VecDeque::new()),
            callbacks: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(TaskTable::default()),
            timers: RefCell::new(Timers::default()),
            reactor: RefCell::new(reactor),
            next_task_id: Cell::new(1),
            debug: Cell::new(debug),
            slow_callback_duration: Cell::new(SLOW_CALLBACK_DURATION),
            slow_hook: RefCell::new(None),
            pool: RefCell::new(None),
            closed: Cell::new(false),
            woken: RefCell::new(Vec::new()),
            remote: RefCell::new(Vec::new()),
        }))
    }

    /// The loop running on this thread.
    pub(crate) fn current() -> Option<Rc<Core>> {
        CURRENT.with(|current| current.borrow().clone())
    }

    /// The loop running on this thread, or a panic naming `what` (Python:
    /// `RuntimeError: no running event loop`).
    pub(crate) fn expect_current(what: &str) -> Rc<Core> {
        Core::current().unwrap_or_else(|| {
            panic!(
                "{what} needs a running event loop (Python: RuntimeError: no running event loop): \
                 call it from inside asyncio::run(...) or EventLoop::run_until_complete(...)"
            )
        })
    }

    pub(crate) fn spawn<F>(self: &Rc<Self>, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        let id = TaskId(self.next_task_id.get());
        self.next_task_id.set(id.0 + 1);
        let cell = Rc::new(TaskCell::new(id, future));
        let key = {
            let mut tasks = self.tasks.borrow_mut();
            let key = tasks.next_key();
            cell.set_waker(Arc::new(TaskWaker {
                key,
                scheduled: AtomicBool::new(true),
                shared: Arc::clone(&self.shared),
            }));
            let inserted = tasks.insert(cell.clone());
            debug_assert_eq!(key, inserted);
            key
        };
        if self.closed.get() {
            // A closed loop runs nothing: the task is cancelled at once.
            if let Some(task) = self.tasks.borrow_mut().remove(key) {
                task.cancel_now();
            }
        } else {
            self.ready.borrow_mut().push_back(key);
        }
        Task::new(cell)
    }

    pub(crate) fn call_soon(&self, callback: Box<dyn FnOnce()>) {
        self.callbacks.borrow_mut().push_back(callback);
        self.ready.borrow_mut().push_back(CALLBACK_KEY);
    }

    /// Runs `f`, timing it in debug mode.
    fn timed(&self, what: impl FnOnce() -> String, f: impl FnOnce()) {
        if !self.debug.get() {
            return f();
        }
        let started = Instant::now();
        f();
        let took = started.elapsed();
        if took >= self.slow_callback_duration.get() {
            let slow = SlowCallback { what: what(), took };
            let hook = self.slow_hook.borrow_mut().take();
            match hook {
                Some(mut hook) => {
                    hook(&slow);
                    let mut slot = self.slow_hook.borrow_mut();
                    if slot.is_none() {
                        *slot = Some(hook);
                    }
                }
                None => eprintln!("synclings::asyncio: {slow}"),
            }
        }
    }

    fn run_task(&self, key: u64) {
        let Some(task) = self.tasks.borrow().get(key) else {
            return; // finished since it was queued
        };
        let mut finished = false;
        self.timed(|| task.id().to_string(), || finished = task.run());
        if finished {
            let removed = self.tasks.borrow_mut().remove(key);
            drop(removed);
        }
    }

    fn run_callback(&self, callback: Box<dyn FnOnce()>) {
        self.timed(
            || "a callback".to_owned(),
            || {
                // A panicking callback is reported and the loop goes on
                // (Python logs it through the exception handler).
                if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
                    eprintln!(
                        "synclings::asyncio: a callback panicked: {}",
                        super::task::panic_message(&*payload)
                    );
                }
            },
        );
    }

    /// Steps 2 and 3 of an iteration: wait, then queue what became ready.
    fn turn(&self) -> io::Result<()> {
        let busy = !self.ready.borrow().is_empty();
        let mut remote = std::mem::take(&mut *self.remote.borrow_mut());
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            let next = self.timers.borrow_mut().next_deadline();
            next.map(|deadline| deadline.saturating_duration_since(Instant::now()))
        };
        let may_sleep = if busy {
            self.shared.handshake.take(&mut remote);
            false
        } else {
            self.shared.handshake.before_sleep(&mut remote)
        };
        let timeout = if may_sleep {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let mut woken = std::mem::take(&mut *self.woken.borrow_mut());
        let result = self.reactor.borrow_mut().turn(timeout, &mut woken);
        if may_sleep {
            self.shared.handshake.after_sleep(&mut remote);
        }
        for waker in woken.drain(..) {
            waker.wake();
        }
        *self.woken.borrow_mut() = woken;
        for item in remote.drain(..) {
            match item {
                Remote::Wake(key) => self.ready.borrow_mut().push_back(key),
                Remote::Call(callback) => self.call_soon(callback),
            }
        }
        *self.remote.borrow_mut() = remote;
        let now = Instant::now();
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                None => break,
                Some(Action::Wake(waker)) => waker.wake(),
                Some(Action::Call(callback)) => self.call_soon(callback),
            }
        }
        result
    }

    /// Cancels every task, drops every callback and timer, refuses further
    /// hand-overs. Destructors run with the loop entered (they may touch it).
    fn close(self: &Rc<Self>) {
        if self.closed.replace(true) {
            return;
        }
        let _entered = Enter::new(self);
        // A destructor may create tasks or callbacks: go round until none is
        // left (bounded: a destructor that always spawns cannot hang close).
        for _ in 0..64 {
            let tasks = self.tasks.borrow_mut().drain();
            self.ready.borrow_mut().clear();
            let ready: Vec<_> = self.callbacks.borrow_mut().drain(..).collect();
            let timers = self.timers.borrow_mut().drain();
            if tasks.is_empty() && ready.is_empty() && timers.is_empty() {
                break;
            }
            for task in &tasks {
                task.cancel_now();
            }
            drop((tasks, ready, timers));
        }
        drop(self.shared.handshake.close());
        self.remote.borrow_mut().clear();
        // to_thread work still running finishes on the pool's threads; its
        // result is dropped (Python's asyncio.run waits for it instead).
        if let Some(pool) = self.pool.borrow_mut().take() {
            pool.shutdown(false);
        }
    }

    pub(crate) fn pool(&self) -> Result<Rc<ThreadPool>, crate::thread::ThreadPoolError> {
        let mut slot = self.pool.borrow_mut();
        if let Some(pool) = &*slot {
            return Ok(Rc::clone(pool));
        }
        // Python's default: min(32, cpus + 4) threads, an unbounded queue.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = Rc::new(ThreadPool::new((cpus + 4).min(32), 0)?);
        *slot = Some(Rc::clone(&pool));
        Ok(pool)
    }
}

/// Sets the thread's current loop for a scope.
struct Enter {
    previous: Option<Rc<Core>>,
    /// Entered to run the loop (not only to close it).
    running: bool,
}

impl Enter {
    fn new(core: &Rc<Core>) -> Enter {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(Rc::clone(core)));
        Enter {
            previous,
            running: false,
        }
    }

    /// For running a loop: refuses to nest in another loop (Python:
    /// "asyncio.run() cannot be called from a running event loop").
    fn running(core: &Rc<Core>) -> Enter {
        assert!(
            !RUNNING.with(Cell::get),
            "an event loop is already running on this thread (Python: RuntimeError: \
             asyncio.run() cannot be called from a running event loop): await the \
             future instead, or run the new loop on another thread"
        );
        RUNNING.with(|r| r.set(true));
        let mut enter = Enter::new(core);
        enter.running = true;
        enter
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        if self.running {
            RUNNING.with(|r| r.set(false));
        }
        let previous = self.previous.take();
        let ours = CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), previous));
        drop(ours);
    }
}

thread_local! {
    /// True while a `run_until_complete` runs on this thread.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// A reference to an event loop, for code running inside it (Python's
/// `asyncio.get_running_loop()`): `call_soon`, `call_later`, `create_task`,
/// `time`, debug mode. Cheap to clone; `!Send`. It does not keep the loop
/// running: the [`EventLoop`] that owns it does.
#[derive(Clone)]
pub struct LoopRef {
    pub(crate) core: Rc<Core>,
}

/// A callback scheduled with [`LoopRef::call_soon`] or
/// [`LoopRef::call_later`]: Python's `Handle` / `TimerHandle`.
pub struct Handle {
    kind: HandleKind,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            HandleKind::Soon(cancelled) => f
                .debug_struct("Handle")
                .field("cancelled", &cancelled.get())
                .finish(),
            HandleKind::Later(_, key) => f.debug_struct("TimerHandle").field("key", key).finish(),
        }
    }
}

enum HandleKind {
    Soon(Rc<Cell<bool>>),
    Later(std::rc::Weak<Core>, TimerKey),
}

impl Handle {
    /// Cancels the callback if it has not run yet (Python's
    /// `handle.cancel()`); true if it will now never run.
    pub fn cancel(&self) -> bool {
        match &self.kind {
            HandleKind::Soon(cancelled) => !cancelled.replace(true),
            HandleKind::Later(core, key) => {
                let Some(core) = core.upgrade() else {
                    return false;
                };
                let action = core.timers.borrow_mut().cancel(*key);
                action.is_some()
            }
        }
    }
}

impl LoopRef {
    /// Creates a task on this loop (Python's `loop.create_task`); it starts
    /// at the loop's next iteration.
    pub fn create_task<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.core.spawn(future)
    }

    /// Runs `callback` at the next iteration (Python's `call_soon`),
    /// after the callbacks already scheduled.
    pub fn call_soon(&self, callback: impl FnOnce() + 'static) -> Handle {
        let cancelled = Rc::new(Cell::new(false));
        let flag = Rc::clone(&cancelled);
        self.core.call_soon(Box::new(move || {
            if !flag.get() {
                callback();
            }
        }));
        Handle {
            kind: HandleKind::Soon(cancelled),
        }
    }

    /// Runs `callback` once `delay` has passed (Python's `call_later`).
    pub fn call_later(&self, delay: Duration, callback: impl FnOnce() + 'static) -> Handle {
        let deadline = Instant::now().checked_add(delay).unwrap_or_else(far_future);
        self.call_at(deadline, callback)
    }

    /// Runs `callback` at `deadline` (Python's `call_at`, with `Instant`
    /// for the loop's `time()`).
    pub fn call_at(&self, deadline: Instant, callback: impl FnOnce() + 'static) -> Handle {
        let key = self
            .core
            .timers
            .borrow_mut()
            .insert(deadline, Action::Call(Box::new(callback)));
        Handle {
            kind: HandleKind::Later(Rc::downgrade(&self.core), key),
        }
    }

    /// The loop's clock (Python's `loop.time()`): monotonic.
    pub fn time(&self) -> Instant {
        Instant::now()
    }

    /// The `Send + Sync` handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: Arc::clone(&self.core.shared),
        }
    }

    /// Turns debug mode on or off (Python's `loop.set_debug`; also on when
    /// `SYNCLINGS_ASYNCIO_DEBUG` is set, as `PYTHONASYNCIODEBUG`): every
    /// task step and callback is timed, and one that takes
    /// [`slow_callback_duration`](Self::set_slow_callback_duration) or more
    /// is reported (to stderr, or to [`on_slow_callback`](Self::on_slow_callback)'s hook).
    pub fn set_debug(&self, enabled: bool) {
        self.core.debug.set(enabled);
    }

    /// True in debug mode.
    pub fn get_debug(&self) -> bool {
        self.core.debug.get()
    }

    /// The threshold of the debug log (default 100 ms, as Python's).
    pub fn set_slow_callback_duration(&self, threshold: Duration) {
        self.core.slow_callback_duration.set(threshold);
    }

    /// Reports slow callbacks to `hook` instead of stderr.
    pub fn on_slow_callback(&self, hook: impl FnMut(&SlowCallback) + 'static) {
        *self.core.slow_hook.borrow_mut() = Some(Box::new(hook));
    }

    /// How many tasks are not finished (Python: `len(asyncio.all_tasks())`).
    pub fn task_count(&self) -> usize {
        self.core.tasks.borrow().len
    }

    /// How many timers are pending (sleeps and `call_later`s).
    pub fn timer_count(&self) -> usize {
        self.core.timers.borrow().len()
    }

    /// Runs `f` on the loop's default executor (a [`ThreadPool`] of
    /// min(32, cpus + 4) threads, made on first use): Python's
    /// `loop.run_in_executor(None, f)`. See [`to_thread`](super::to_thread).
    pub fn run_in_executor<F, R>(&self, f: F) -> super::ToThread<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        super::ToThread::submit(&self.core, f)
    }
}

/// A deadline too far to add to `Instant::now()`: about a century.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl fmt::Debug for LoopRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopRef")
            .field("id", &self.core.shared.id)
            .field("tasks", &self.task_count())
            .field("timers", &self.timer_count())
            .field("closed", &self.core.closed.get())
            .field("debug", &self.get_debug())
            .finish()
    }
}

/// An event loop: Python's `asyncio.new_event_loop()`. Owns the loop's
/// tasks; dropping it closes the loop (every unfinished task is cancelled).
/// Derefs to [`LoopRef`] for `call_soon`, `create_task` and the rest.
/// `!Send`: a loop lives on the thread that made it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio::{self, EventLoop};
///
/// let event_loop = EventLoop::new()?;
/// let greeting = event_loop.create_task(async {
///     asyncio::sleep(Duration::from_millis(1)).await;
///     "hello"
/// });
/// assert_eq!(event_loop.run_until_complete(greeting), Ok("hello"));
/// # std::io::Result::Ok(())
/// ```
pub struct EventLoop {
    inner: LoopRef,
}

impl EventLoop {
    /// A new loop with its own selector.
    pub fn new() -> io::Result<EventLoop> {
        Ok(EventLoop {
            inner: LoopRef { core: Core::new()? },
        })
    }

    /// Runs the loop until `future` completes and returns its output
    /// (Python's `run_until_complete`). The other tasks stay where they are
    /// (they go on at the next run, or are cancelled when the loop is
    /// dropped). `future` need not be `'static`.
    ///
    /// # Panics
    ///
    /// If another loop runs on this thread (Python raises `RuntimeError`),
    /// if the loop is closed, if `future` panics (the panic goes on), or if
    /// the selector fails (it does not in practice: `EINTR` is retried).
    pub fn run_until_complete<F: Future>(&self, future: F) -> F::Output {
        let core = &self.inner.core;
        assert!(
            !core.closed.get(),
            "this event loop is closed: make a new one (EventLoop::new)"
        );
        let _entered = Enter::running(core);
        let mut future = pin!(future);
        let main = Arc::new(TaskWaker {
            key: MAIN_KEY,
            scheduled: AtomicBool::new(true),
            shared: Arc::clone(&core.shared),
        });
        let waker = Waker::from(Arc::clone(&main));
        core.ready.borrow_mut().push_back(MAIN_KEY);
        loop {
            let n = core.ready.borrow().len();
            for _ in 0..n {
                let next = core.ready.borrow_mut().pop_front();
                match next {
                    None => break,
                    Some(MAIN_KEY) => {
                        main.unschedule();
                        let mut cx = Context::from_waker(&waker);
                        let mut polled = Poll::Pending;
                        core.timed(
                            || "the main future".to_owned(),
                            || polled = future.as_mut().poll(&mut cx),
                        );
                        if let Poll::Ready(output) = polled {
                            return output;
                        }
                    }
                    Some(CALLBACK_KEY) => {
                        let callback = core.callbacks.borrow_mut().pop_front();
                        if let Some(callback) = callback {
                            core.run_callback(callback);
                        }
                    }
                    Some(key) => core.run_task(key),
                }
            }
            if let Err(e) = core.turn() {
                panic!("the event loop's selector failed: {e}");
            }
        }
    }

    /// Closes the loop now (Python's `loop.close()`): cancels every task,
    /// drops every callback. Dropping the loop does the same.
    pub fn close(self) {}

    /// True once closed (never for a live `EventLoop`; for symmetry with
    /// Python's `is_closed`).
    pub fn is_closed(&self) -> bool {
        self.inner.core.closed.get()
    }
}

impl std::ops::Deref for EventLoop {
    type Target = LoopRef;
    fn deref(&self) -> &LoopRef {
        &self.inner
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        self.inner.core.close();
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// The `Send + Sync` handle of a loop, for other threads: Python's
/// `loop.call_soon_threadsafe`. Cheap to clone.
#[derive(Clone)]
pub struct LoopHandle {
    shared: Arc<Shared>,
}

/// The loop a [`LoopHandle`] points to is closed (Python: `RuntimeError:
/// Event loop is closed`). The callback is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopClosed;

impl fmt::Display for LoopClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop is closed: the callback will never run")
    }
}

impl std::error::Error for LoopClosed {}

impl LoopHandle {
    /// Runs `callback` on the loop's thread at its next iteration, waking
    /// the loop if it sleeps (Python's `call_soon_threadsafe`).
    pub fn call_soon_threadsafe(
        &self,
        callback: impl FnOnce() + Send + 'static,
    ) -> Result<(), LoopClosed> {
        self.shared
            .hand_over(Remote::Call(Box::new(callback)))
            .map_err(|_| LoopClosed)
    }

    /// True once the loop is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.handshake.is_closed()
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("id", &self.shared.id)
            .field("handshake", &self.shared.handshake)
            .finish()
    }
}

/// Runs `future` on a fresh loop and returns its output; at the end every
/// task still unfinished is cancelled and the loop is closed (Python's
/// `asyncio.run`).
///
/// # Panics
///
/// If called inside a running loop (Python raises `RuntimeError`), if the
/// operating system refuses a selector (out of descriptors), or if `future`
/// panics (the panic goes on, after the loop is closed).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio;
///
/// let total = asyncio::run(async {
///     let tasks: Vec<_> = (1..=3u64)
///         .map(|i| asyncio::create_task(async move {
///             asyncio::sleep(Duration::from_millis(i)).await;
///             i
///         }))
///         .collect();
///     let mut total = 0;
///     for task in tasks {
///         total += task.await.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 6);
/// ```
pub fn run<F: Future>(future: F) -> F::Output {
    let event_loop = EventLoop::new()
        .unwrap_or_else(|e| panic!("asyncio::run: cannot create an event loop: {e}"));
    event_loop.run_until_complete(future)
}

/// Creates a task on the running loop (Python's `asyncio.create_task`).
///
/// # Panics
///
/// Outside a running loop (Python raises `RuntimeError: no running event
/// loop`); use [`LoopRef::create_task`] before the loop runs.
pub fn create_task<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
{
    Core::expect_current("asyncio::create_task").spawn(future)
}

/// No loop runs on this thread (Python: `RuntimeError: no running event
/// loop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRunningLoop;

impl fmt::Display for NoRunningLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no event loop is running on this thread: call this from inside asyncio::run(...)",
        )
    }
}

impl std::error::Error for NoRunningLoop {}

/// The loop running on this thread (Python's `asyncio.get_running_loop()`).
pub fn get_running_loop() -> Result<LoopRef, NoRunningLoop> {
    Core::current()
        .map(|core| LoopRef { core })
        .ok_or(NoRunningLoop)
}
