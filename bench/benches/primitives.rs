//! Semaphore and Event: `synclings` against the textbook parking_lot
//! `Mutex` + `Condvar` versions (`synclings_bench::handrolled`), uncontended
//! and contended (two threads pinned to the two CPUs).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use synclings::{Event, Semaphore};
use synclings_bench::handrolled::{PlEvent, PlSemaphore};
use synclings_bench::pin;

fn config<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    g
}

/// Runs `a` and `b` on two threads pinned to CPUs 0 and 1, `iters` times
/// each, and returns the wall time of the pair.
fn two_threads(
    iters: u64,
    a: impl Fn() + Send + Sync + 'static,
    b: impl Fn() + Send + Sync + 'static,
) -> Duration {
    // Both threads wait at `ready`; the clock starts before `start` releases
    // them (a late main thread must not start it after the work).
    let ready = Arc::new(Barrier::new(3));
    let start = Arc::new(Barrier::new(3));
    let (r2, s2) = (ready.clone(), start.clone());
    let tb = std::thread::spawn(move || {
        pin(1);
        r2.wait();
        s2.wait();
        for _ in 0..iters {
            b();
        }
    });
    let (r1, s1) = (ready.clone(), start.clone());
    let ta = std::thread::spawn(move || {
        pin(0);
        r1.wait();
        s1.wait();
        for _ in 0..iters {
            a();
        }
    });
    ready.wait();
    let t0 = Instant::now();
    start.wait();
    ta.join().unwrap();
    tb.join().unwrap();
    t0.elapsed()
}

fn semaphore(c: &mut Criterion) {
    let mut g = config(c, "semaphore/uncontended_try_acquire");
    let s = Semaphore::new(1);
    g.bench_function("synclings", |b| b.iter(|| drop(black_box(s.try_acquire()))));
    let p = PlSemaphore::new(1);
    g.bench_function("mutex_condvar", |b| {
        b.iter(|| {
            if black_box(p.try_acquire()) {
                p.release()
            }
        })
    });
    g.finish();

    let mut g = config(c, "semaphore/uncontended_acquire");
    g.bench_function("synclings", |b| b.iter(|| drop(black_box(s.acquire()))));
    g.bench_function("mutex_condvar", |b| {
        b.iter(|| {
            p.acquire();
            p.release()
        })
    });
    g.finish();

    // Two threads, one permit: every acquire may have to wait for the other CPU.
    let mut g = config(c, "semaphore/contended_acquire");
    g.bench_function("synclings", |b| {
        b.iter_custom(|iters| {
            let s = Arc::new(Semaphore::new(1));
            let s2 = s.clone();
            two_threads(iters, move || drop(s.acquire()), move || drop(s2.acquire()))
        })
    });
    g.bench_function("mutex_condvar", |b| {
        b.iter_custom(|iters| {
            let s = Arc::new(PlSemaphore::new(1));
            let s2 = s.clone();
            two_threads(
                iters,
                move || {
                    s.acquire();
                    s.release()
                },
                move || {
                    s2.acquire();
                    s2.release()
                },
            )
        })
    });
    g.finish();
}

fn event(c: &mut Criterion) {
    let mut g = config(c, "event/is_set");
    let e = Event::new();
    g.bench_function("synclings", |b| b.iter(|| black_box(e.is_set())));
    let p = PlEvent::default();
    g.bench_function("mutex_condvar", |b| b.iter(|| black_box(p.is_set())));
    g.finish();

    // Ping-pong between two pinned threads: one round trip = set, wake the
    // other CPU, it clears and sets back.
    let mut g = config(c, "event/round_trip");
    g.bench_function("synclings", |b| b.iter_custom(round_trip::<Event>));
    g.bench_function("mutex_condvar", |b| b.iter_custom(round_trip::<PlEvent>));
    g.finish();
}

/// The event operations the round trip needs, for both subjects.
trait Flag: Default + Send + Sync + 'static {
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl Flag for Event {
    fn set(&self) {
        Event::set(self)
    }
    fn clear(&self) {
        Event::clear(self)
    }
    fn wait(&self) {
        Event::wait(self)
    }
}

impl Flag for PlEvent {
    fn set(&self) {
        PlEvent::set(self)
    }
    fn clear(&self) {
        PlEvent::clear(self)
    }
    fn wait(&self) {
        PlEvent::wait(self)
    }
}

/// `iters` round trips of a ping-pong over two events.
fn round_trip<F: Flag>(iters: u64) -> Duration {
    let (ping, pong) = (Arc::new(F::default()), Arc::new(F::default()));
    let (ping2, pong2) = (ping.clone(), pong.clone());
    two_threads(
        iters,
        move || {
            ping.set();
            pong.wait();
            pong.clear();
        },
        move || {
            ping2.wait();
            ping2.clear();
            pong2.set();
        },
    )
}

criterion_group!(benches, semaphore, event);
criterion_main!(benches);
