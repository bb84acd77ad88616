//! synclings::asyncio against tokio's current-thread runtime (issue 12's
//! targets), the same code shape on both:
//!
//! - `asyncio/spawn_await_1000000`: spawn 1 000 000 trivial tasks, then
//!   await each handle (target: at most 1.25× tokio's time);
//! - `asyncio/to_thread_round_trip`: `to_thread(|| 1).await` against
//!   `spawn_blocking(|| 1).await`, one at a time (target: within 1.2×);
//! - `asyncio/remote_wake_round_trip`: a task hands its waker to a thread
//!   pinned to the other CPU, which wakes it; the task hands the next one
//!   (the waker wakes the loop from another thread: the Handshake and the
//!   eventfd for synclings, tokio's inject queue and its driver's waker)
//!   (target: within 1.2×).
//!
//! `cargo bench -p synclings-bench --bench asyncio`; 10 samples each.

use std::future::poll_fn;
use std::sync::mpsc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use synclings::asyncio;
use synclings_bench::pin;

const TASKS: u64 = 1_000_000;

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn spawn_await(c: &mut Criterion) {
    let mut g = c.benchmark_group("asyncio/spawn_await_1000000");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("synclings", |b| {
        b.iter_custom(|iters| {
            let event_loop = asyncio::EventLoop::new().unwrap();
            let start = Instant::now();
            for _ in 0..iters {
                event_loop.run_until_complete(async {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|i| asyncio::create_task(async move { i }))
                        .collect();
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await.unwrap();
                    }
                    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
                });
            }
            start.elapsed()
        })
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let rt = tokio_runtime();
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    let tasks: Vec<_> =
                        (0..TASKS).map(|i| tokio::spawn(async move { i })).collect();
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await.unwrap();
                    }
                    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
                });
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn to_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("asyncio/to_thread_round_trip");
    g.sample_size(10);
    g.bench_function("synclings", |b| {
        b.iter_custom(|iters| {
            asyncio::run(async move {
                asyncio::to_thread(|| 0).await.unwrap(); // the pool's threads start
                let start = Instant::now();
                for i in 0..iters {
                    assert_eq!(asyncio::to_thread(move || i).await.unwrap(), i);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("tokio_spawn_blocking", |b| {
        b.iter_custom(|iters| {
            tokio_runtime().block_on(async move {
                tokio::task::spawn_blocking(|| 0).await.unwrap();
                let start = Instant::now();
                for i in 0..iters {
                    assert_eq!(tokio::task::spawn_blocking(move || i).await.unwrap(), i);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// `iters` round trips: the task sends its waker to a thread on CPU 1,
/// which wakes it; measured inside the runtime (the same future on both).
async fn ping_pong(iters: u64) -> Duration {
    let (tx, rx) = mpsc::channel::<Option<Waker>>();
    let waker_thread = std::thread::spawn(move || {
        pin(1);
        while let Ok(Some(waker)) = rx.recv() {
            waker.wake();
        }
    });
    let start = Instant::now();
    for _ in 0..iters {
        let mut sent = false;
        poll_fn(|cx| {
            if sent {
                Poll::Ready(())
            } else {
                sent = true;
                tx.send(Some(cx.waker().clone())).unwrap();
                Poll::Pending
            }
        })
        .await;
    }
    let elapsed = start.elapsed();
    tx.send(None).unwrap();
    waker_thread.join().unwrap();
    elapsed
}

fn remote_wake(c: &mut Criterion) {
    let mut g = c.benchmark_group("asyncio/remote_wake_round_trip");
    g.sample_size(10);
    pin(0);
    g.bench_function("synclings", |b| {
        b.iter_custom(|iters| asyncio::run(ping_pong(iters)))
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| tokio_runtime().block_on(ping_pong(iters)))
    });
    g.finish();
}

criterion_group!(benches, spawn_await, to_thread, remote_wake);

pub fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
