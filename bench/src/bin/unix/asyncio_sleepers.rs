//! `asyncio-sleepers`: issue 12's sleeping-task targets, for synclings'
//! event loop and tokio's current-thread runtime (the same code shape):
//! 100 000 tasks, each sleeping until its own deadline spread uniformly
//! over one second.
//!
//! - **memory**: the process's VmRSS once every task is asleep (spawned,
//!   polled once, registered with the timer), minus VmRSS before spawning,
//!   divided by the number of tasks, minus the size of one task's future:
//!   what the runtime spends per sleeping task beyond the future itself
//!   (target: at most 256 B);
//! - **lateness**: woken-at minus due-at for every task (target: p99 under
//!   1 ms).
//!
//! ```text
//! asyncio-sleepers [TASKS [SPREAD_MS]]    # default 100000 1000
//! ```
//!
//! Prints one `SLEEPERS {json}` line per runtime (bench/report.py reads
//! them from target/bench/asyncio-sleepers.jsonl).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Report {
    runtime: &'static str,
    tasks: usize,
    future_bytes: usize,
    rss_before_kb: u64,
    rss_asleep_kb: u64,
    lateness_us: Vec<u64>,
}

impl Report {
    fn print(mut self) {
        self.lateness_us.sort_unstable();
        let grown = (self.rss_asleep_kb.saturating_sub(self.rss_before_kb) * 1024) as f64;
        let per_task = grown / self.tasks as f64;
        println!(
            "SLEEPERS {{\"runtime\": \"{}\", \"tasks\": {}, \"future_bytes\": {}, \"rss_per_task_bytes\": {:.0}, \
             \"beyond_future_bytes\": {:.0}, \"p50_us\": {}, \"p99_us\": {}, \"max_us\": {}}}",
            self.runtime,
            self.tasks,
            self.future_bytes,
            per_task,
            per_task - self.future_bytes as f64,
            percentile(&self.lateness_us, 0.50),
            percentile(&self.lateness_us, 0.99),
            percentile(&self.lateness_us, 1.0),
        );
    }
}

/// The deadline of task `i` of `n`: spread over `spread`, from half a
/// second after `start` (spawning 100 000 tasks must not make the first
/// ones late).
fn due(start: Instant, i: usize, n: usize, spread: Duration) -> Instant {
    start + Duration::from_millis(500) + spread.mul_f64(i as f64 / n as f64)
}

/// The measurement, written once for both runtimes: `$block_on` runs the
/// main future; `$spawn`, `$sleep_until` and `$yield_now` are the
/// runtime's.
macro_rules! measure {
    ($runtime:literal, $n:expr, $spread:expr, $block_on:expr, $spawn:path, $sleep_until:expr, $yield_now:path) => {{
        let (n, spread) = ($n, $spread);
        let lateness = Rc::new(RefCell::new(Vec::with_capacity(n)));
        let mut future_bytes = 0;
        let (before, asleep) = $block_on(async {
            let before = rss_kb();
            let start = Instant::now();
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let lateness = lateness.clone();
                    let at = due(start, i, n, spread);
                    let task = async move {
                        $sleep_until(at).await;
                        lateness.borrow_mut().push(at.elapsed().as_micros() as u64);
                    };
                    future_bytes = std::mem::size_of_val(&task);
                    $spawn(task)
                })
                .collect();
            $yield_now().await; // every task ran once: asleep
            let asleep = rss_kb();
            for task in tasks {
                task.await.unwrap();
            }
            (before, asleep)
        });
        let lateness_us = lateness.borrow().clone();
        Report {
            runtime: $runtime,
            tasks: n,
            future_bytes,
            rss_before_kb: before,
            rss_asleep_kb: asleep,
            lateness_us,
        }
    }};
}

fn synclings(n: usize, spread: Duration) -> Report {
    use synclings::asyncio;
    let event_loop = asyncio::EventLoop::new().unwrap();
    measure!(
        "synclings",
        n,
        spread,
        |f| event_loop.run_until_complete(f),
        asyncio::create_task,
        asyncio::sleep_until,
        asyncio::yield_now
    )
}

fn tokio(n: usize, spread: Duration) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    measure!(
        "tokio",
        n,
        spread,
        |f| local.block_on(&rt, f),
        tokio::task::spawn_local,
        |at: Instant| tokio::time::sleep_until(at.into()),
        tokio::task::yield_now
    )
}

pub fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let spread = Duration::from_millis(args.next().and_then(|a| a.parse().ok()).unwrap_or(1000));
    // Each in a fresh thread, so that one's freed memory does not hide the
    // other's growth (the allocator keeps it for the thread's arena).
    for run in [synclings as fn(usize, Duration) -> Report, tokio] {
        std::thread::spawn(move || run(n, spread).print())
            .join()
            .expect("the run finished");
    }
}
