//! Queue throughput in interleaved rounds: each round runs synclings,
//! crossbeam-channel and `sync_channel` back to back on the same workload,
//! so a burst of noise on this shared machine hits the three alike, and the
//! per-round ratio stays meaningful where criterion's separate sample runs
//! (synclings' ten, then crossbeam's ten) can catch different moods of the
//! machine. One JSON line per workload: the msg/s of each peer per round,
//! and the core-to-core round trip measured at the start of each round
//! (`core_to_core_round_trip`): the host sometimes runs the two vCPUs on one
//! physical core, and a hand-over then costs a tenth of its usual price.
//!
//! `cargo run --release -p synclings-bench --bin queue-rounds -- [ROUNDS] [MESSAGES]`
use synclings_bench::{
    core_to_core_round_trip, run_workload, Channel, Crossbeam, StdSync, Synclings,
};

/// Messages per second of `C` on the workload, `messages` messages.
fn rate<C: Channel>(cap: usize, producers: usize, consumers: usize, messages: u64) -> f64 {
    let took = run_workload::<C>(cap, producers, consumers, messages);
    messages as f64 / took.as_secs_f64()
}

fn main() {
    // QUEUE_ONLY=synclings|crossbeam WORKLOAD=mpsc4 CAP=1: one peer, one
    // workload, for profiling (`perf stat`, `/usr/bin/time -v`).
    if let Ok(peer) = std::env::var("QUEUE_ONLY") {
        let (p, c) = match std::env::var("WORKLOAD").as_deref() {
            Ok("spsc") => (1, 1),
            Ok("mpsc4") => (4, 1),
            _ => (4, 4),
        };
        let cap = std::env::var("CAP")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let n = 2_000_000;
        let r = match peer.as_str() {
            "crossbeam" => rate::<Crossbeam>(cap, p, c, n),
            _ => rate::<Synclings>(cap, p, c, n),
        };
        println!("{peer}: {:.2} M msg/s", r / 1e6);
        return;
    }
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let messages: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(400_000);
    for (workload, p, c) in [("spsc", 1, 1), ("mpsc4", 4, 1), ("mpmc4", 4, 4)] {
        for cap in [1usize, 64, 1024] {
            let (mut ours, mut cb, mut std) = (Vec::new(), Vec::new(), Vec::new());
            let mut probe = Vec::new();
            for _ in 0..rounds {
                // How far apart the host runs the two vCPUs this round.
                probe.push(core_to_core_round_trip(20_000).as_nanos() as f64);
                ours.push(rate::<Synclings>(cap, p, c, messages));
                cb.push(rate::<Crossbeam>(cap, p, c, messages));
                // sync_channel is ~100x slower at capacity 1: fewer messages.
                std.push(rate::<StdSync>(cap, p, c, messages / 20));
            }
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.0}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            println!(
                "{{\"group\":\"queue/{workload}/cap{cap}\",\"synclings\":[{}],\"crossbeam\":[{}],\"sync_channel\":[{}],\"core_rt_ns\":[{}]}}",
                list(&ours),
                list(&cb),
                list(&std),
                list(&probe)
            );
        }
    }
}
