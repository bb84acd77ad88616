//! The GIL lab's Rust side, and `Pool.map` throughput (`bash bench/run.sh`
//! runs it; `bench/python/pool_lab.py` is Python's side; `report.py` puts
//! them together in BENCHMARKS.md).
//!
//! ```text
//! pool-lab [SCALE]        # JSON lines on stdout; SCALE (default 1) scales the work
//! ```
//!
//! - `pool/map_tiny`: `Pool::new(2).map("square", 0..100_000, 100)`, items/s
//!   (Python: `multiprocessing.Pool(2).map(square, range(100000), 100)`).
//!   With `MAP_ONLY=1` it stops there (`python/pool_rounds.py` pairs it
//!   with Python's, round by round).
//! - `pool/imap_stream`: `imap` over 10 000 000 items (chunksize 1 000),
//!   consumed one by one: seconds, and the parent's peak RSS before and
//!   after (bounded memory: it grows by the in-flight window only).
//! - `gil/cpu`: count the primes below N by trial division, split into 16
//!   tasks, on 1 and 2 workers: Rust threads (one task queue, scoped
//!   threads) and `ipc::Pool` (chunksize 1). Seconds per run. N is
//!   3 000 000 here and 400 000 in Python's side: about the same seconds.
//! - `gil/io`: 16 tasks that each sleep 50 ms (a stand-in for a blocking
//!   read), on 1, 2 and 8 workers: the work that does not need a core.
//!
//! Pool start-up is not timed (Python's side does the same). Each
//! configuration runs REPS times (default 5).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use synclings::ipc::{self, pool_task, Entry, Pool};

static ENTRIES: &[Entry] = &[
    pool_task!(square),
    pool_task!(count_primes),
    pool_task!(nap),
];

/// The CPU-bound tasks: ranges of one count.
const TASKS: u64 = 16;
/// The IO-bound tasks' sleep.
const NAP_MS: u64 = 50;

fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

/// Primes in `lo..hi`, by trial division (the same loop as Python's).
fn count_primes((lo, hi): (u64, u64)) -> u64 {
    let mut count = 0;
    for n in lo.max(2)..hi {
        let mut d = 2;
        let mut prime = true;
        while d * d <= n {
            if n % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        count += u64::from(prime);
    }
    count
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn ranges(n: u64) -> Vec<(u64, u64)> {
    (0..TASKS)
        .map(|k| (k * n / TASKS, (k + 1) * n / TASKS))
        .collect()
}

/// Runs `tasks` on `workers` scoped threads taking tasks from one counter.
fn on_threads<A: Sync, R: Send + Default + Copy>(
    workers: usize,
    tasks: &[A],
    f: fn(&A) -> R,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut out = vec![R::default(); tasks.len()];
    let slots: Vec<std::sync::Mutex<R>> = out.iter().map(|&r| std::sync::Mutex::new(r)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Relaxed);
                let Some(task) = tasks.get(i) else { break };
                *slots[i].lock().unwrap() = f(task);
            });
        }
    });
    for (o, s) in out.iter_mut().zip(slots) {
        *o = s.into_inner().unwrap();
    }
    out
}

/// This process's peak resident memory (VmHWM), in KiB; 0 without /proc.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn seconds(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64()
}

fn line(group: &str, peer: &str, workers: Option<usize>, key: &str, values: &[f64]) {
    let workers = workers.map_or(String::new(), |w| format!(", \"workers\": {w}"));
    let values: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
    println!(
        "{{\"group\": \"{group}\", \"peer\": \"{peer}\"{workers}, \"{key}\": [{}]}}",
        values.join(", ")
    );
}

/// `Pool.map("square", 0..items, 100)` after one warm-up map: items/s of
/// each of `reps` maps.
fn map_tiny_rates(pool: &Pool, items: u64, reps: usize) -> Vec<f64> {
    let want: u64 = (0..items).map(square).fold(0, u64::wrapping_add);
    let _: Vec<u64> = pool.map("square", 0..items, 100).expect("warm-up");
    (0..reps)
        .map(|_| {
            let mut got = 0u64;
            let s = seconds(|| {
                let r: Vec<u64> = pool.map("square", 0..items, 100).expect("map");
                got = r.into_iter().fold(0, u64::wrapping_add);
            });
            assert_eq!(got, want);
            items as f64 / s
        })
        .collect()
}

pub fn main() {
    ipc::init(ENTRIES);
    let scale: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);

    // Pool.map of 100 000 tiny tasks, chunksize 100.
    let items = ((100_000.0 * scale) as u64).max(1000);
    let pool = Pool::new(2).expect("a pool of 2");
    let rates = map_tiny_rates(&pool, items, reps);
    line("pool/map_tiny", "ipc_pool", None, "rates", &rates);
    if std::env::var_os("MAP_ONLY").is_some() {
        return;
    }

    // imap streams: 10 million items through the pool, consumed one by
    // one; the parent's peak RSS grows by the window, not by the input.
    let many = ((10_000_000.0 * scale) as u64).max(10_000);
    let before = peak_rss_kib();
    let mut sum = 0u64;
    let s = seconds(|| {
        for r in pool
            .imap::<_, u64, _>("square", 0..many, 1000)
            .expect("imap")
        {
            sum = sum.wrapping_add(r.expect("square"));
        }
    });
    assert_eq!(sum, (0..many).map(square).fold(0, u64::wrapping_add));
    println!(
        "{{\"group\": \"pool/imap_stream\", \"items\": {many}, \"seconds\": {s:.3}, \"peak_rss_kib_before\": {before}, \"peak_rss_kib_after\": {}}}",
        peak_rss_kib()
    );
    drop(pool);

    // CPU-bound: primes below N. Python's N is 400 000 (~0.7 s on one
    // worker); Rust's loop is ~20× faster, so its N is larger, for about
    // the same seconds: with ~2 ms tasks the dispatch and the second vCPU's
    // noise, not the work, would decide the speed-up.
    let n = ((3_000_000.0 * scale) as u64).max(10_000);
    let tasks = ranges(n);
    let want: u64 = tasks.iter().map(|&r| count_primes(r)).sum();
    for workers in [1usize, 2] {
        let runs: Vec<f64> = (0..reps)
            .map(|_| {
                seconds(|| {
                    let got: u64 = on_threads(workers, &tasks, |&r| count_primes(r))
                        .iter()
                        .sum();
                    assert_eq!(got, want);
                })
            })
            .collect();
        line("gil/cpu", "rust_threads", Some(workers), "seconds", &runs);
        let pool = Pool::new(workers).expect("pool");
        let runs: Vec<f64> = (0..reps)
            .map(|_| {
                seconds(|| {
                    let got: Vec<u64> = pool.map("count_primes", tasks.iter(), 1).expect("map");
                    assert_eq!(got.iter().sum::<u64>(), want);
                })
            })
            .collect();
        line("gil/cpu", "ipc_pool", Some(workers), "seconds", &runs);
    }
    println!("{{\"group\": \"gil/cpu/n\", \"peer\": \"rust\", \"n\": {n}, \"tasks\": {TASKS}}}");

    // IO-bound: sleeping tasks.
    let naps = vec![NAP_MS; TASKS as usize];
    for workers in [1usize, 2, 8] {
        let io_reps = reps.min(3);
        let runs: Vec<f64> = (0..io_reps)
            .map(|_| seconds(|| drop(on_threads(workers, &naps, |&ms| nap(ms)))))
            .collect();
        line("gil/io", "rust_threads", Some(workers), "seconds", &runs);
        let pool = Pool::new(workers).expect("pool");
        let runs: Vec<f64> = (0..io_reps)
            .map(|_| seconds(|| drop(pool.map::<_, u64, _>("nap", naps.iter(), 1).expect("map"))))
            .collect();
        line("gil/io", "ipc_pool", Some(workers), "seconds", &runs);
    }
}
