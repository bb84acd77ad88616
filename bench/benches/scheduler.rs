//! The timer scheduler: schedule and fire 100 000 timers on its one thread,
//! against the peer Python programmers reach for first, one `Timer` (one
//! thread) per timer, at 1 000 timers (100 000 threads would not be a fair
//! fight, it would be a crash). Then the lateness of 100 000 timers spread
//! over one second: p50 / p99 / max of (fired at − due at), printed as a
//! `LATENESS {json}` line that `report.py` reads.

use criterion::{criterion_group, Criterion};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use synclings::{Event, Scheduler, Timer};

/// Schedules `n` timers due now and waits for the last one to fire.
fn scheduler_fire(n: usize) -> Duration {
    let sched = Scheduler::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Event::new());
    let t0 = Instant::now();
    for _ in 0..n {
        let (fired, done) = (fired.clone(), done.clone());
        sched.schedule(Duration::ZERO, move || {
            if fired.fetch_add(1, Relaxed) + 1 == n {
                done.set();
            }
        });
    }
    assert!(
        done.wait_timeout(Duration::from_secs(60)),
        "scheduler fired every timer"
    );
    t0.elapsed()
}

/// Starts `n` `Timer`s (a thread each) due now and joins them all.
fn threads_fire(n: usize) -> Duration {
    let fired = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let timers: Vec<Timer> = (0..n)
        .map(|_| {
            let fired = fired.clone();
            let t = Timer::new(Duration::ZERO, move || {
                fired.fetch_add(1, Relaxed);
            });
            t.start().expect("first start");
            t
        })
        .collect();
    for t in &timers {
        t.join().expect("timer ran");
    }
    assert_eq!(fired.load(Relaxed), n);
    t0.elapsed()
}

fn fire(c: &mut Criterion) {
    let mut g = c.benchmark_group("scheduler/fire_100000");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("scheduler", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| scheduler_fire(100_000)).sum())
    });
    g.finish();

    let mut g = c.benchmark_group("scheduler/fire_1000");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("scheduler", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| scheduler_fire(1000)).sum())
    });
    g.bench_function("thread_per_timer", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| threads_fire(1000)).sum())
    });
    g.finish();
}

/// 100 000 timers due uniformly over one second; returns the lateness of each
/// in microseconds, sorted.
fn lateness_run() -> Vec<u64> {
    const N: usize = 100_000;
    let sched = Scheduler::new();
    let lateness = Arc::new(Mutex::new(Vec::with_capacity(N)));
    let done = Arc::new(Event::new());
    let start = Instant::now() + Duration::from_millis(50);
    for i in 0..N {
        let due = start + Duration::from_micros(i as u64 * 10);
        let (lateness, done) = (lateness.clone(), done.clone());
        sched.schedule_at(due, move || {
            let mut l = lateness.lock().unwrap();
            l.push(Instant::now().saturating_duration_since(due).as_micros() as u64);
            if l.len() == N {
                done.set();
            }
        });
    }
    assert!(
        done.wait_timeout(Duration::from_secs(60)),
        "every timer fired"
    );
    let mut l = std::mem::take(&mut *lateness.lock().unwrap());
    l.sort_unstable();
    l
}

fn lateness() {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let l = lateness_run();
        let pct = |p: f64| l[((l.len() - 1) as f64 * p) as usize];
        runs.push((pct(0.50), pct(0.99), *l.last().unwrap()));
    }
    let fmt = |v: Vec<u64>| {
        format!(
            "[{}]",
            v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        )
    };
    println!(
        "LATENESS {{\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        fmt(runs.iter().map(|r| r.0).collect()),
        fmt(runs.iter().map(|r| r.1).collect()),
        fmt(runs.iter().map(|r| r.2).collect())
    );
}

criterion_group!(benches, fire);

fn main() {
    benches();
    lateness();
    Criterion::default().configure_from_args().final_summary();
}
