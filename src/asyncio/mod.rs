//! Python's `asyncio`, rebuilt: a single-threaded event loop on the
//! crate's [`Selector`](crate::selector::Selector) and its own timer heap
//! (no tokio, no smol, no `futures` executor inside), tasks, the async
//! primitives and queues, and TCP streams.
//!
//! The exam's question 34 asks what asyncio is made of: an **event loop**
//! (here [`EventLoop`]: one thread, a ready queue, a timer heap, and a
//! reactor that sleeps in `epoll_wait`), **coroutines** (Rust's `async fn`
//! and `async` blocks: state machines the compiler writes, resumed by
//! `poll`), **tasks** ([`Task`]: a coroutine the loop drives on its own)
//! and **futures** ([`Future`]: a result set later). Question 33's point,
//! "switching only at IO, in user space", is literal: a task runs until
//! its next `.await` that has to wait, and nothing preempts it, so a
//! blocking call stalls the whole loop, as in Python (debug mode reports
//! steps slower than 100 ms; move blocking work to [`to_thread`]).
//!
//! | Python | synclings::asyncio |
//! |---|---|
//! | `asyncio.run(main())` | [`run`]`(future) -> T`: a fresh loop; every task left is cancelled at the end |
//! | `asyncio.new_event_loop()`, `run_until_complete`, `close` | [`EventLoop::new`], [`EventLoop::run_until_complete`], drop |
//! | `asyncio.get_running_loop()` | [`get_running_loop`] → [`LoopRef`] |
//! | `asyncio.create_task(c)`, `await task`, `task.cancel()`, `done()`, `cancelled()` | [`create_task`] → [`Task<T>`], a future of `Result<T, TaskError>`; [`Task::cancel`], [`Task::is_done`], [`Task::is_cancelled`] |
//! | `asyncio.TaskGroup` | [`TaskGroup`]: `create_task`, `create_fallible`, `wait` |
//! | `asyncio.sleep(s)`, `sleep(0)` | [`sleep`], [`sleep_until`], [`yield_now`] |
//! | `asyncio.wait_for(aw, t)`, `asyncio.timeout(t)` | [`wait_for`]`(future, d) -> Result<T, TimeoutError>`, [`timeout`] |
//! | `asyncio.gather(*aws)`, `wait(aws, return_when=FIRST_COMPLETED)`, `as_completed` | [`gather`], [`wait_first`], [`as_completed`] |
//! | `loop.call_soon`, `call_later`, `call_at`, `time` | [`LoopRef::call_soon`], [`LoopRef::call_later`], [`LoopRef::call_at`], [`LoopRef::time`] → [`Handle`] |
//! | `loop.call_soon_threadsafe` | [`LoopHandle::call_soon_threadsafe`] (a [`LoopHandle`] is `Send + Sync`) |
//! | `asyncio.to_thread(f)`, `loop.run_in_executor(None, f)` | [`to_thread`], [`LoopRef::run_in_executor`]: on a [`ThreadPool`](crate::ThreadPool) |
//! | `asyncio.Future()` | [`Future<T>`]: `set_result`, `cancel`, `wait` |
//! | `asyncio.Event`, `Lock`, `Semaphore`, `BoundedSemaphore`, `Condition`, `Barrier` | [`Event`], [`Lock<T>`], [`Semaphore`], [`BoundedSemaphore`], [`Condition<T>`], [`Barrier`] |
//! | `asyncio.Queue`, `LifoQueue`, `PriorityQueue` (3.13 `shutdown`) | [`Queue`], [`LifoQueue`], [`PriorityQueue`] |
//! | `asyncio.start_server`, `open_connection`, `StreamReader`, `StreamWriter` | [`start_server`], [`open_connection`], [`StreamReader`], [`StreamWriter`], [`Server`] |
//! | `loop.set_debug(True)`, `slow_callback_duration` | [`LoopRef::set_debug`], [`LoopRef::set_slow_callback_duration`], `SYNCLINGS_ASYNCIO_DEBUG=1` |
//!
//! # Which types are `Send`
//!
//! - **`!Send`, bound to their loop's thread**: [`EventLoop`], [`LoopRef`],
//!   [`Task`], [`TaskGroup`], [`Future`], [`Sleep`],
//!   [`StreamReader`], [`StreamWriter`], [`Server`]. Tasks need not be
//!   `Send` either: a task may hold `Rc`s across `.await`.
//! - **`Send + Sync`**: [`LoopHandle`], and the primitives and queues
//!   ([`Event`], [`Lock`], [`Semaphore`], [`BoundedSemaphore`],
//!   [`Condition`], [`Barrier`], [`Queue`]...; those holding a `T` when `T`
//!   is `Send`). Python's belong to one loop; these work across loops and
//!   plain threads (an `Event::set` from a thread wakes the waiting task).
//!   Every `Waker` is `Send + Sync` (std requires it): a wake from another
//!   thread reaches the loop through its [`Handshake`] and the selector's
//!   `Notifier`.
//!
//! # Cancellation
//!
//! Rust's, not Python's: [`Task::cancel`] makes the loop **drop** the
//! task's future at the point where it waits; destructors run, awaiting the
//! task gives `Err(TaskError::Cancelled)`. There is no `CancelledError` to
//! catch, so a cancellation cannot be refused, and cleanup goes in `Drop`.
//! Every primitive is cancel-safe: a waiter dropped after it was handed a
//! permit, an item or a notification passes it on.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use synclings::asyncio;
//!
//! let (a, b) = asyncio::run(async {
//!     let slow = asyncio::create_task(async {
//!         asyncio::sleep(Duration::from_millis(10)).await;
//!         "slow"
//!     });
//!     let quick = asyncio::create_task(async { "quick" });
//!     (quick.await.unwrap(), slow.await.unwrap())
//! });
//! assert_eq!((a, b), ("quick", "slow"));
//! ```

mod barrier;
mod combinators;
mod condition;
mod event;
mod event_loop;
mod executor;
mod future;
mod group;
pub mod handshake;
mod precise_timer;
mod queue;
mod reactor;
mod semaphore;
mod streams;
mod task;
mod time;
mod timers;
mod waiters;

pub use barrier::{Barrier, BarrierWait};
pub use combinators::{as_completed, gather, wait_first, AsCompleted, First};
pub use condition::{Condition, ConditionGuard};
pub use event::{Event, Wait};
pub use event_loop::{
    create_task, get_running_loop, run, EventLoop, Handle, LoopClosed, LoopHandle, LoopRef,
    NoRunningLoop, SlowCallback, SLOW_CALLBACK_DURATION,
};
pub use executor::{to_thread, ToThread};
pub use future::{Future, InvalidState};
pub use group::{TaskGroup, TaskGroupError};
pub use handshake::Handshake;
pub use queue::{
    AsyncQueue, Fifo, Get, Join, Lifo, LifoQueue, Priority, PriorityQueue, Put, Queue, Storage,
};
pub use semaphore::{Acquire, BoundedSemaphore, Lock, LockGuard, Permit, Semaphore};
pub use streams::{
    open_connection, start_server, Server, StreamError, StreamReader, StreamWriter, ACCEPT_PAUSE,
    DEFAULT_HIGH_WATER, DEFAULT_LIMIT,
};
pub use task::{Task, TaskError, TaskId};
pub use time::{sleep, sleep_until, timeout, wait_for, yield_now, Sleep, TimeoutError};
