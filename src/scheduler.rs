//! [`Scheduler`]: many timers served by one thread — Python's `sched`
//! module, made thread-safe.
//!
//! Python's `sched.scheduler(timefunc, delayfunc)` keeps a heap of events and
//! runs them from `run()` on the caller's thread. This scheduler owns its
//! thread instead (one per `Scheduler`, however many timers are pending), and
//! any thread may schedule or cancel:
//!
//! - `enter(delay, priority, action)` is [`Scheduler::schedule`];
//!   `enterabs(time, ...)` is [`Scheduler::schedule_at`]. Timers due at the
//!   same instant run in scheduling order (Python breaks ties by priority,
//!   then by insertion).
//! - `cancel(event)` is [`Scheduler::cancel`]; it returns `false` instead of
//!   raising `ValueError` for an event that already ran or is unknown.
//! - `len(queue)` is [`Scheduler::pending`]; `run()` is the scheduler thread.
//! - New: [`Scheduler::schedule_periodic`] (fixed-rate repetition),
//!   [`Scheduler::shutdown`], and panic isolation: a panicking callback is
//!   caught and counted ([`Scheduler::panicked`]); the scheduler goes on.
//!
//! Callbacks run one at a time on the scheduler thread, outside the lock, so
//! a slow callback delays the next ones but never the callers of `schedule`.
//!
//! # How it works
//!
//! A min-heap of `(deadline, id)` orders the timers; a map from id to entry
//! holds them. `cancel` removes from the map only; the heap entry goes stale
//! and is skipped when it surfaces (the heap is rebuilt when stale entries
//! outnumber live ones, so memory stays bounded). The thread sleeps with a
//! timed wait until the earliest deadline; `schedule` wakes it only when the
//! new deadline is earlier than the one it sleeps until.
//!
//! # Examples
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use synclings::Scheduler;
//!
//! let scheduler = Scheduler::new();
//! let (tx, rx) = mpsc::channel();
//! for (name, ms) in [("second", 20), ("first", 10)] {
//!     let tx = tx.clone();
//!     scheduler.schedule(Duration::from_millis(ms), move || tx.send(name).unwrap());
//! }
//! let never = scheduler.schedule(Duration::from_secs(3600), || unreachable!());
//! assert!(scheduler.cancel(never));
//! assert_eq!(rx.recv().unwrap(), "first");
//! assert_eq!(rx.recv().unwrap(), "second");
//! scheduler.shutdown();
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::thread::{self, JoinHandle, ThreadId};
use crate::sync::{Arc, Condvar, Duration, Instant, Mutex, MutexGuard};

/// Identifies a scheduled timer, for [`Scheduler::cancel`]. Ids are never
/// reused within one scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(u64);

/// One thread running any number of timers (Python's `sched`, thread-safe).
/// See the [module docs](self).
pub struct Scheduler {
    /// Shared with the scheduler thread.
    inner: Arc<Inner>,
    /// The scheduler thread, taken and joined by the first `shutdown` (held
    /// while joining, so that a second `shutdown` also waits for the exit).
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The scheduler thread's id: a `shutdown` from a callback cannot join.
    thread_id: ThreadId,
}

struct Inner {
    state: Mutex<State>,
    /// Wakes the scheduler thread: a new earliest deadline, or shutdown.
    wake: Condvar,
}

struct State {
    /// `(deadline, id)`, earliest first, ties by id (scheduling order). Lazy
    /// deletion: an item is live iff `entries[id].deadline == Some(deadline)`.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// The pending timers by id: scheduled, not yet run (one-shot) and not
    /// cancelled. `entries.len()` is `pending()`.
    entries: HashMap<u64, Entry>,
    /// The id of the next timer.
    next_id: u64,
    /// What the scheduler thread does now; tells `schedule` whether to wake it.
    sleep: Sleep,
    /// Set by `shutdown`: the thread exits, new timers are dropped.
    shutdown: bool,
    /// How many callbacks panicked.
    panicked: usize,
}

struct Entry {
    /// When it runs next; `None` while a periodic callback runs, or when the
    /// deadline overflowed the clock ("never").
    deadline: Option<Instant>,
    task: Task,
}

enum Task {
    Once(Box<dyn FnOnce() + Send + 'static>),
    /// The callback is `None` while it runs on the scheduler thread.
    Periodic {
        interval: Duration,
        callback: Option<Box<dyn FnMut() + Send + 'static>>,
    },
}

/// A callback taken out of its entry to run on the scheduler thread.
enum Job {
    Once(Box<dyn FnOnce() + Send + 'static>),
    Periodic {
        id: u64,
        callback: Box<dyn FnMut() + Send + 'static>,
        /// The deadline it runs for: the base of the next one.
        deadline: Instant,
        interval: Duration,
    },
}

/// The scheduler thread's sleep, as `schedule` must know it.
#[derive(Clone, Copy, Debug)]
enum Sleep {
    /// Awake: it looks at the heap again before it sleeps; no notify needed.
    Awake,
    /// Sleeping until this deadline; an earlier one must wake it.
    Until(Instant),
    /// Sleeping with no timer pending; any deadline must wake it.
    Forever,
}

impl Scheduler {
    /// A scheduler and its thread (named `"scheduler"`).
    ///
    /// # Panics
    ///
    /// If the system cannot spawn a thread (as `std::thread::spawn`).
    pub fn new() -> Self {
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                heap: BinaryHeap::new(),
                entries: HashMap::new(),
                next_id: 0,
                sleep: Sleep::Awake,
                shutdown: false,
                panicked: 0,
            }),
            wake: Condvar::new(),
        });
        let for_thread = Arc::clone(&inner);
        let handle = thread::Builder::new()
            .name("scheduler".to_owned())
            .spawn(move || run(&for_thread))
            .expect("failed to spawn the scheduler thread");
        Scheduler {
            inner,
            thread_id: handle.thread().id(),
            thread: Mutex::new(Some(handle)),
        }
    }

    /// Runs `callback` once, `delay` from now (Python's `enter`). A delay too
    /// large for the clock means "never" (until cancelled).
    ///
    /// After [`shutdown`](Self::shutdown) the callback is dropped at once and
    /// the id is unknown to [`cancel`](Self::cancel).
    pub fn schedule(&self, delay: Duration, callback: impl FnOnce() + Send + 'static) -> TimerId {
        let deadline = Instant::now().checked_add(delay);
        self.insert(deadline, Task::Once(Box::new(callback)))
    }

    /// Runs `callback` once at `deadline` (Python's `enterabs`); at once if it
    /// has passed.
    pub fn schedule_at(
        &self,
        deadline: Instant,
        callback: impl FnOnce() + Send + 'static,
    ) -> TimerId {
        self.insert(Some(deadline), Task::Once(Box::new(callback)))
    }

    /// Runs `callback` every `interval`, the first time `interval` from now,
    /// until cancelled (or until it panics).
    ///
    /// Fixed rate: the next deadline is the previous *deadline* plus
    /// `interval`, so a slow callback or a late wake-up does not shift the
    /// schedule. Missed periods are skipped, not caught up in a burst: after a
    /// callback that overran by 2.5 intervals, the next run is at the first
    /// period boundary still in the future.
    ///
    /// # Panics
    ///
    /// If `interval` is zero (it would run without pause).
    pub fn schedule_periodic(
        &self,
        interval: Duration,
        callback: impl FnMut() + Send + 'static,
    ) -> TimerId {
        assert!(
            !interval.is_zero(),
            "schedule_periodic: the interval must be greater than zero"
        );
        let deadline = Instant::now().checked_add(interval);
        let task = Task::Periodic {
            interval,
            callback: Some(Box::new(callback)),
        };
        self.insert(deadline, task)
    }

    /// Cancels a timer. Returns true iff this call stopped its callback from
    /// running (again): false if it already ran, a one-shot callback is
    /// running now, it was cancelled before, or the id is unknown. A periodic
    /// callback running now finishes its run but does not run again.
    pub fn cancel(&self, id: TimerId) -> bool {
        let mut state = self.inner.state.lock();
        let Some(entry) = state.entries.remove(&id.0) else {
            return false;
        };
        // Bound the stale items left in the heap by lazy deletion.
        if state.heap.len() > 2 * state.entries.len() + 64 {
            state.rebuild_heap();
        }
        drop(state);
        // Outside the lock: the closure's destructor may do anything.
        drop(entry);
        true
    }

    /// How many timers are scheduled and will still run: not yet run
    /// (one-shot), not cancelled (Python's `len(scheduler.queue)`).
    pub fn pending(&self) -> usize {
        self.inner.state.lock().entries.len()
    }

    /// How many callbacks panicked (each was caught; a panicking periodic
    /// timer is cancelled).
    pub fn panicked(&self) -> usize {
        self.inner.state.lock().panicked
    }

    /// True once [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.state.lock().shutdown
    }

    /// Stops the scheduler: pending timers are dropped without running, the
    /// callback running now (if any) finishes, and the thread exits. Returns
    /// when it has exited — except when called from a callback, which cannot
    /// wait for its own thread: then the thread exits when the callback
    /// returns. Idempotent; `Drop` calls it.
    pub fn shutdown(&self) {
        let dropped = {
            let mut state = self.inner.state.lock();
            state.shutdown = true;
            state.heap = BinaryHeap::new();
            self.inner.wake.notify_one();
            mem::take(&mut state.entries)
        };
        // Outside the lock: the closures' destructors may do anything.
        drop(dropped);
        if thread::current().id() == self.thread_id {
            return;
        }
        let mut handle = self.thread.lock();
        if let Some(handle) = handle.take() {
            // The thread runs callbacks under `catch_unwind`: it does not panic.
            let _ = handle.join();
        }
    }

    /// Adds a timer; wakes the thread iff the timer is now the earliest.
    fn insert(&self, deadline: Option<Instant>, task: Task) -> TimerId {
        let mut state = self.inner.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        if state.shutdown {
            drop(state);
            drop(task);
            return TimerId(id);
        }
        if let Some(deadline) = deadline {
            state.heap.push(Reverse((deadline, id)));
            // The wake rule: only a deadline earlier than the thread's sleep.
            let earlier = match state.sleep {
                Sleep::Awake => false,
                Sleep::Until(until) => deadline < until,
                Sleep::Forever => true,
            };
            if earlier {
                state.sleep = Sleep::Awake;
                self.inner.wake.notify_one();
            }
        }
        state.entries.insert(id, Entry { deadline, task });
        TimerId(id)
    }
}

impl State {
    /// The earliest live `(deadline, id)`, dropping stale heap items on the way.
    fn earliest(&mut self) -> Option<(Instant, u64)> {
        while let Some(&Reverse((deadline, id))) = self.heap.peek() {
            let live = self
                .entries
                .get(&id)
                .is_some_and(|entry| entry.deadline == Some(deadline));
            if live {
                return Some((deadline, id));
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the earliest timer due at `now` out to run it: a one-shot leaves
    /// the map (it is no longer pending), a periodic stays, without its
    /// callback and deadline while it runs.
    fn take_due(&mut self, now: Instant) -> Option<Job> {
        let (deadline, id) = self.earliest().filter(|&(deadline, _)| deadline <= now)?;
        self.heap.pop();
        let entry = self.entries.get_mut(&id).expect("earliest() is live");
        match &mut entry.task {
            Task::Once(_) => match self.entries.remove(&id).map(|entry| entry.task) {
                Some(Task::Once(callback)) => Some(Job::Once(callback)),
                _ => unreachable!("the entry was a one-shot"),
            },
            Task::Periodic { interval, callback } => {
                let callback = callback.take().expect("a queued periodic has its callback");
                let interval = *interval;
                entry.deadline = None;
                Some(Job::Periodic {
                    id,
                    callback,
                    deadline,
                    interval,
                })
            }
        }
    }

    /// Rebuilds the heap from the live entries, dropping every stale item.
    fn rebuild_heap(&mut self) {
        self.heap = self
            .entries
            .iter()
            .filter_map(|(&id, entry)| entry.deadline.map(|deadline| Reverse((deadline, id))))
            .collect();
    }
}

/// The scheduler thread: run what is due, then sleep until the earliest
/// deadline (or a notify), until shutdown.
fn run(inner: &Inner) {
    let mut state = inner.state.lock();
    // The deadline the last wait timed out at: it has passed, whatever the
    // clock says (the model checker does not model time and the wait returns
    // "timed out" at once). Cleared when the thread sleeps again.
    let mut reached: Option<Instant> = None;
    while !state.shutdown {
        let now = match reached {
            Some(deadline) => deadline.max(Instant::now()),
            None => Instant::now(),
        };
        if let Some(job) = state.take_due(now) {
            state = run_job(inner, state, job);
            continue;
        }
        // Nothing due. The wait loop: sleep until the earliest deadline, a
        // new earlier one, or shutdown; then look at the heap again.
        reached = None;
        match state.earliest() {
            None => {
                state.sleep = Sleep::Forever;
                state = inner.wake.wait(state);
            }
            Some((deadline, _)) => {
                state.sleep = Sleep::Until(deadline);
                let (guard, timed_out) = inner.wake.wait_until(state, deadline);
                state = guard;
                if timed_out {
                    reached = Some(deadline);
                }
            }
        }
        state.sleep = Sleep::Awake;
    }
}

/// Runs one job outside the lock, then records its outcome: counts a panic,
/// puts a periodic timer back with its next deadline unless it was cancelled
/// (or panicked). Returns the relocked state.
fn run_job<'a>(inner: &'a Inner, state: MutexGuard<'a, State>, job: Job) -> MutexGuard<'a, State> {
    drop(state);
    let (panicked, periodic) = match job {
        Job::Once(callback) => (
            panic::catch_unwind(AssertUnwindSafe(callback)).is_err(),
            None,
        ),
        Job::Periodic {
            id,
            mut callback,
            deadline,
            interval,
        } => {
            let panicked = panic::catch_unwind(AssertUnwindSafe(&mut callback)).is_err();
            (panicked, Some((id, callback, deadline, interval)))
        }
    };
    let now = Instant::now();
    let mut state = inner.state.lock();
    state.panicked += usize::from(panicked);
    let Some((id, callback, deadline, interval)) = periodic else {
        return state;
    };
    match state.entries.get_mut(&id) {
        Some(entry) if !panicked => {
            let next = next_deadline(deadline, interval, now);
            entry.deadline = next;
            if let Task::Periodic { callback: slot, .. } = &mut entry.task {
                *slot = Some(callback);
            }
            if let Some(next) = next {
                state.heap.push(Reverse((next, id)));
            }
            state
        }
        _ => {
            // Cancelled while it ran, or it panicked (which cancels it).
            state.entries.remove(&id);
            drop(state);
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(callback)));
            inner.state.lock()
        }
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Fixed rate, skipping missed periods: the first `deadline + k * interval`
/// (k ≥ 1) after `now`. `None` if it overflows the clock ("never").
fn next_deadline(deadline: Instant, interval: Duration, now: Instant) -> Option<Instant> {
    let late = now.saturating_duration_since(deadline);
    let periods = late.as_nanos() / interval.as_nanos() + 1;
    let step = periods.checked_mul(interval.as_nanos())?;
    let secs = u64::try_from(step / NANOS_PER_SEC).ok()?;
    let nanos = u32::try_from(step % NANOS_PER_SEC).expect("below one second");
    deadline.checked_add(Duration::new(secs, nanos))
}

impl Default for Scheduler {
    /// Same as [`Scheduler::new`] (spawns the scheduler thread).
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scheduler {
    /// Shuts down: see [`Scheduler::shutdown`].
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut state = self.inner.state.lock();
        let next = state.earliest().map(|(deadline, _)| deadline);
        f.debug_struct("Scheduler")
            .field("pending", &state.entries.len())
            .field("next_deadline", &next)
            .field("panicked", &state.panicked)
            .field("shutdown", &state.shutdown)
            .field("thread", &state.sleep)
            .finish()
    }
}
