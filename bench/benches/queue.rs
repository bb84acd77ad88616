//! Queue throughput: `synclings::Queue` against `std::sync::mpsc::sync_channel`
//! and `crossbeam-channel` bounded, SPSC / MPSC 4→1 / MPMC 4→4 at capacities
//! 1, 64 and 1024. Python's `queue.Queue` runs the same workload in
//! `python/queue_bench.py`; `report.py` puts all of them side by side.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use synclings_bench::{run_workload, Channel, Crossbeam, StdSync, Synclings};

fn bench_one<C: Channel>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    cap: usize,
    p: usize,
    c: usize,
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| run_workload::<C>(cap, p, c, iters.max(4)))
    });
}

fn queues(crit: &mut Criterion) {
    for (workload, p, c) in [("spsc", 1, 1), ("mpsc4", 4, 1), ("mpmc4", 4, 4)] {
        for cap in [1usize, 64, 1024] {
            let mut g = crit.benchmark_group(format!("queue/{workload}/cap{cap}"));
            g.throughput(Throughput::Elements(1));
            g.sample_size(10);
            g.warm_up_time(Duration::from_millis(500));
            g.measurement_time(Duration::from_secs(2));
            bench_one::<Synclings>(&mut g, "synclings", cap, p, c);
            bench_one::<StdSync>(&mut g, "sync_channel", cap, p, c);
            bench_one::<Crossbeam>(&mut g, "crossbeam", cap, p, c);
            g.finish();
        }
    }
}

criterion_group!(benches, queues);
criterion_main!(benches);
