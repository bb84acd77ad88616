//! Running many futures at once inside one task: [`gather`],
//! [`wait_first`] and [`as_completed`] (Python's `asyncio.gather`,
//! `asyncio.wait(return_when=FIRST_COMPLETED)` and `asyncio.as_completed`).
//!
//! Python wraps each awaitable in a task; here the futures stay inside the
//! calling task (they need not be `'static`), polled by a `PollSet` that
//! gives each child its own waker: a wake-up polls only the child that was
//! woken, not all of them, so `gather` over `n` futures costs O(1) per
//! wake-up, not O(n).

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{AcqRel, Release};
use std::task::{Context, Poll, Wake, Waker};

use std::collections::VecDeque;
use std::sync::Arc;

use crate::sync::Mutex;

/// The children woken since the set last looked, and the parent's waker.
struct WakeSet {
    state: Mutex<(Vec<usize>, Option<Waker>)>,
}

/// A child's waker: queues its index once, wakes the parent.
struct ChildWaker {
    index: usize,
    queued: AtomicBool,
    set: Arc<WakeSet>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, AcqRel) {
            return;
        }
        let parent = {
            let mut state = self.set.state.lock();
            state.0.push(self.index);
            state.1.clone()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

struct Child<F> {
    future: Pin<Box<F>>,
    flag: Arc<ChildWaker>,
    waker: Waker,
}

/// Futures polled as they are woken; yields `(index, output)` in
/// completion order.
pub(crate) struct PollSet<F> {
    children: Vec<Option<Child<F>>>,
    set: Arc<WakeSet>,
    left: usize,
    /// Children woken, taken from the wake set, not polled yet.
    woken: VecDeque<usize>,
}

impl<F: Future> PollSet<F> {
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let set = Arc::new(WakeSet {
            state: Mutex::new((Vec::new(), None)),
        });
        let children: Vec<_> = futures
            .into_iter()
            .enumerate()
            .map(|(index, future)| {
                let flag = Arc::new(ChildWaker {
                    index,
                    queued: AtomicBool::new(true),
                    set: Arc::clone(&set),
                });
                let waker = Waker::from(Arc::clone(&flag));
                Some(Child {
                    future: Box::pin(future),
                    flag,
                    waker,
                })
            })
            .collect();
        // Every child starts woken.
        set.state.lock().0.extend(0..children.len());
        PollSet {
            left: children.len(),
            children,
            set,
            woken: VecDeque::new(),
        }
    }

    /// Futures not finished yet.
    pub(crate) fn len(&self) -> usize {
        self.left
    }

    /// The next child to finish: `Ready(None)` when none is left.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        loop {
            if self.woken.is_empty() {
                let mut state = self.set.state.lock();
                if state.0.is_empty() {
                    match &state.1 {
                        Some(parent) if parent.will_wake(cx.waker()) => {}
                        _ => state.1 = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
                self.woken.extend(state.0.drain(..));
            }
            // Polled in the order they were woken.
            while let Some(index) = self.woken.pop_front() {
                let Some(Some(child)) = self.children.get_mut(index) else {
                    continue;
                };
                child.flag.queued.store(false, Release);
                let mut child_cx = Context::from_waker(&child.waker);
                if let Poll::Ready(output) = child.future.as_mut().poll(&mut child_cx) {
                    self.children[index] = None;
                    self.left -= 1;
                    return Poll::Ready(Some((index, output)));
                }
            }
        }
    }

    /// The futures not finished, in input order, with their indexes.
    pub(crate) fn into_remaining(self) -> Vec<(usize, Pin<Box<F>>)> {
        self.children
            .into_iter()
            .enumerate()
            .filter_map(|(index, child)| Some((index, child?.future)))
            .collect()
    }
}

/// Runs every future concurrently and returns their outputs in input order
/// (Python's `await asyncio.gather(*aws)`). For `Result` outputs, each
/// error stays in its place (Python's `return_exceptions=True`); to stop at
/// the first error, use a [`TaskGroup`](super::TaskGroup).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio;
///
/// let doubled = asyncio::run(asyncio::gather((1..=3u64).map(|i| async move {
///     asyncio::sleep(Duration::from_millis(4 - i)).await; // finish in reverse
///     2 * i
/// })));
/// assert_eq!(doubled, [2, 4, 6]);
/// ```
pub async fn gather<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = PollSet::new(futures);
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    while let Some((index, output)) = poll_fn(|cx| set.poll_next(cx)).await {
        outputs[index] = Some(output);
    }
    outputs
        .into_iter()
        .map(|o| o.expect("every future of the set finished"))
        .collect()
}

/// What [`wait_first`] returns: the first output, its index, and the
/// futures still running (to await later, or to drop: that cancels them).
pub struct First<F: Future> {
    /// The index (in input order) of the future that finished first.
    pub index: usize,
    /// Its output.
    pub output: F::Output,
    /// The others, unfinished, with their input indexes.
    pub pending: Vec<(usize, Pin<Box<F>>)>,
}

impl<F: Future> fmt::Debug for First<F>
where
    F::Output: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("First")
            .field("index", &self.index)
            .field("output", &self.output)
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// Waits until the first future finishes (Python's `asyncio.wait(aws,
/// return_when=FIRST_COMPLETED)`); `None` if there is none.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio;
///
/// let first = asyncio::run(asyncio::wait_first([50u64, 1, 30].map(|ms| async move {
///     asyncio::sleep(Duration::from_millis(ms)).await;
///     ms
/// })))
/// .unwrap();
/// assert_eq!((first.index, first.output, first.pending.len()), (1, 1, 2));
/// ```
pub async fn wait_first<F: Future>(futures: impl IntoIterator<Item = F>) -> Option<First<F>> {
    let mut set = PollSet::new(futures);
    let (index, output) = poll_fn(|cx| set.poll_next(cx)).await?;
    Some(First {
        index,
        output,
        pending: set.into_remaining(),
    })
}

/// The futures of [`as_completed`], yielding `(index, output)` as each
/// finishes.
pub struct AsCompleted<F> {
    set: PollSet<F>,
}

/// Yields each future's `(index, output)` in the order they finish
/// (Python's `for f in asyncio.as_completed(aws): await f`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use synclings::asyncio;
///
/// let order = asyncio::run(async {
///     let mut done = asyncio::as_completed([30u64, 10, 20].map(|ms| async move {
///         asyncio::sleep(Duration::from_millis(ms)).await;
///         ms
///     }));
///     let mut order = Vec::new();
///     while let Some((_index, ms)) = done.next().await {
///         order.push(ms);
///     }
///     order
/// });
/// assert_eq!(order, [10, 20, 30]);
/// ```
pub fn as_completed<F: Future>(futures: impl IntoIterator<Item = F>) -> AsCompleted<F> {
    AsCompleted {
        set: PollSet::new(futures),
    }
}

impl<F: Future> AsCompleted<F> {
    /// The next to finish; `None` once all have.
    pub async fn next(&mut self) -> Option<(usize, F::Output)> {
        poll_fn(|cx| self.set.poll_next(cx)).await
    }

    /// How many have not finished.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// True once all have finished.
    pub fn is_empty(&self) -> bool {
        self.set.len() == 0
    }
}

impl<F> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.set.left)
            .finish()
    }
}
