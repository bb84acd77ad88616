//! Queue throughput: `synclings::Queue` against `crossbeam-channel`, `kanal`
//! and `flume` bounded and `std::sync::mpsc::sync_channel`, SPSC / MPSC 4→1
//! / MPMC 4→4 at capacities 1, 64 and 1024. Python's `queue.Queue` runs the
//! same workload in `python/queue_bench.py`; `report.py` puts all of them
//! side by side. Each sample runs about a second (flat sampling: ten samples
//! of one iteration count in the measurement time), and the peers' order
//! rotates from one workload to the next. The paired, CPU-time-aware
//! comparison is `src/bin/queue-rounds.rs`.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use std::time::Duration;
use synclings_bench::{run_workload, Channel, Crossbeam, Flume, Kanal, StdSync, Synclings};

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn bench_one<C: Channel>(g: &mut Group<'_>, name: &str, cap: usize, p: usize, c: usize) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| run_workload::<C>(cap, p, c, iters.max(4)))
    });
}

/// The peers, run in a rotated order.
const PEERS: [&str; 5] = ["synclings", "crossbeam", "kanal", "flume", "sync_channel"];

fn queues(crit: &mut Criterion) {
    let mut turn = 0;
    for (workload, p, c) in [("spsc", 1, 1), ("mpsc4", 4, 1), ("mpmc4", 4, 4)] {
        for cap in [1usize, 64, 1024] {
            let mut g = crit.benchmark_group(format!("queue/{workload}/cap{cap}"));
            g.throughput(Throughput::Elements(1));
            g.sample_size(10);
            g.sampling_mode(SamplingMode::Flat);
            g.warm_up_time(Duration::from_secs(1));
            g.measurement_time(Duration::from_secs(10));
            for k in 0..PEERS.len() {
                match PEERS[(turn + k) % PEERS.len()] {
                    "synclings" => bench_one::<Synclings>(&mut g, "synclings", cap, p, c),
                    "crossbeam" => bench_one::<Crossbeam>(&mut g, "crossbeam", cap, p, c),
                    "kanal" => bench_one::<Kanal>(&mut g, "kanal", cap, p, c),
                    "flume" => bench_one::<Flume>(&mut g, "flume", cap, p, c),
                    _ => bench_one::<StdSync>(&mut g, "sync_channel", cap, p, c),
                }
            }
            turn += 1;
            g.finish();
        }
    }
}

criterion_group!(benches, queues);
criterion_main!(benches);
