//! Queue throughput in interleaved rounds: each round runs synclings and its
//! peers (crossbeam-channel, kanal, flume, `sync_channel`) back to back on
//! the same workload, starting with a different peer each round (rotated
//! order), so a burst of noise on this shared machine hits them alike and
//! the per-round ratio stays meaningful where criterion's separate sample
//! runs (synclings' ten, then crossbeam's ten) can catch different moods of
//! the machine. Beside each rate it records the process CPU time per message
//! (`CLOCK_PROCESS_CPUTIME_ID` around the run: spinning is paid for here even
//! when it buys no rate).
//!
//! One JSON line per workload: per peer the msg/s of each round
//! (`"<peer>"`) and the CPU ns per message (`"<peer>_cpu_ns"`), the order
//! the peers ran in (`"order"`, one string per round), and the core-to-core
//! round trip measured at the start of each round (`core_rt_ns`): the host
//! sometimes runs the two vCPUs on one physical core, and a hand-over then
//! costs a tenth of its usual price.
//!
//! `cargo run --release -p synclings-bench --bin queue-rounds -- [ROUNDS] [MESSAGES]`
//! (defaults 5 and 10 000 000). Each sample moves `MESSAGES`, or as many as
//! the peer moves in `SECS` seconds (default 1) if that is fewer: a
//! calibration run of 10 000 messages per peer and workload estimates it
//! (flume and `sync_channel` move ~30 K msg/s at capacity 1, and 10 M
//! messages would take them minutes). `WORKLOADS=spsc/cap1,mpmc4/cap64`
//! runs only those workloads. First (unless `IDLE=0` or `WORKLOADS` is
//! set), one line `queue/idle_get_1s`: the CPU µs of a getter blocked 1 s on
//! an empty queue, per peer and round.
use std::time::Duration;
use synclings_bench::{
    core_to_core_round_trip, run_workload, Channel, Crossbeam, Flume, Kanal, StdSync, Synclings,
};

/// The CPU time this process used so far (every thread's); `None` where
/// there is no POSIX CPU-time clock (Windows: the CPU columns read NaN).
fn process_cpu() -> Option<Duration> {
    cpu_clock(Clock::Process)
}

/// The CPU time the calling thread used so far (`None` as above).
fn thread_cpu() -> Option<Duration> {
    cpu_clock(Clock::Thread)
}

enum Clock {
    Process,
    Thread,
}

/// Reads a CPU-time clock.
#[cfg(unix)]
fn cpu_clock(clock: Clock) -> Option<Duration> {
    let clock = match clock {
        Clock::Process => libc::CLOCK_PROCESS_CPUTIME_ID,
        Clock::Thread => libc::CLOCK_THREAD_CPUTIME_ID,
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // every Linux (and the BSDs, macOS) supports.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock}) failed");
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(unix))]
fn cpu_clock(_: Clock) -> Option<Duration> {
    None
}

/// `later - earlier`, in nanoseconds; NaN without a CPU clock.
fn cpu_ns(earlier: Option<Duration>, later: Option<Duration>) -> f64 {
    match (earlier, later) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_nanos() as f64,
        _ => f64::NAN,
    }
}

/// One run: messages per second and process CPU nanoseconds per message.
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    cpu_ns: f64,
}

/// Runs `C` on the workload with `messages` messages.
fn sample<C: Channel>(cap: usize, producers: usize, consumers: usize, messages: u64) -> Sample {
    let cpu0 = process_cpu();
    let took = run_workload::<C>(cap, producers, consumers, messages);
    let cpu = cpu_ns(cpu0, process_cpu());
    Sample {
        rate: messages as f64 / took.as_secs_f64(),
        cpu_ns: cpu / messages as f64,
    }
}

/// The peers, in the order of the first round.
const PEERS: [&str; 5] = ["synclings", "crossbeam", "kanal", "flume", "sync_channel"];

/// Runs the peer called `name`.
fn run(name: &str, cap: usize, p: usize, c: usize, messages: u64) -> Sample {
    match name {
        "synclings" => sample::<Synclings>(cap, p, c, messages),
        "crossbeam" => sample::<Crossbeam>(cap, p, c, messages),
        "kanal" => sample::<Kanal>(cap, p, c, messages),
        "flume" => sample::<Flume>(cap, p, c, messages),
        "sync_channel" => sample::<StdSync>(cap, p, c, messages),
        other => panic!("unknown peer {other:?}: use one of {PEERS:?}"),
    }
}

/// The CPU time, in µs, of a getter (pinned to CPU 1) blocked for `idle` on
/// an empty queue of `C` until a put: its spin phase, then (ideally) nothing.
fn idle_get_cpu_us<C: Channel>(idle: Duration) -> f64 {
    let chan = std::sync::Arc::new(C::with_capacity(1));
    let getter = {
        let chan = chan.clone();
        std::thread::spawn(move || {
            synclings_bench::pin(1);
            let t0 = thread_cpu();
            assert_eq!(chan.recv(), 7);
            cpu_ns(t0, thread_cpu())
        })
    };
    std::thread::sleep(idle);
    chan.send(7);
    getter.join().expect("idle getter") / 1e3
}

/// Runs `idle_get_cpu_us` for the peer called `name`.
fn idle_run(name: &str, idle: Duration) -> f64 {
    match name {
        "synclings" => idle_get_cpu_us::<Synclings>(idle),
        "crossbeam" => idle_get_cpu_us::<Crossbeam>(idle),
        "kanal" => idle_get_cpu_us::<Kanal>(idle),
        "flume" => idle_get_cpu_us::<Flume>(idle),
        "sync_channel" => idle_get_cpu_us::<StdSync>(idle),
        other => panic!("unknown peer {other:?}: use one of {PEERS:?}"),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn main() {
    // QUEUE_ONLY=synclings|crossbeam|kanal|flume|sync_channel WORKLOAD=mpsc4
    // CAP=1 MESSAGES=2000000: one peer, one workload, for profiling
    // (`perf stat`, `/usr/bin/time -v`).
    if let Ok(peer) = std::env::var("QUEUE_ONLY") {
        let (p, c) = match std::env::var("WORKLOAD").as_deref() {
            Ok("spsc") => (1, 1),
            Ok("mpsc4") => (4, 1),
            _ => (4, 4),
        };
        let cap = env_u64("CAP").unwrap_or(1) as usize;
        let n = env_u64("MESSAGES").unwrap_or(2_000_000);
        let s = run(&peer, cap, p, c, n);
        println!(
            "{peer}: {:.2} M msg/s, {:.0} ns CPU/msg",
            s.rate / 1e6,
            s.cpu_ns
        );
        return;
    }
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let messages: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let secs: f64 = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let only = std::env::var("WORKLOADS").ok().filter(|s| !s.is_empty());
    // The idle getter: 1 s blocked per peer and round (IDLE=0 skips it).
    if env_u64("IDLE") != Some(0) && only.is_none() {
        let mut us: Vec<Vec<f64>> = vec![Vec::new(); PEERS.len()];
        for round in 0..rounds {
            for k in 0..PEERS.len() {
                let i = (round + k) % PEERS.len();
                us[i].push(idle_run(PEERS[i], Duration::from_secs(1)));
            }
        }
        let fields: Vec<String> = PEERS
            .iter()
            .zip(&us)
            .map(|(peer, v)| {
                let v: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
                format!("\"{peer}\":[{}]", v.join(","))
            })
            .collect();
        println!("{{\"group\":\"queue/idle_get_1s\",{}}}", fields.join(","));
    }
    for (workload, p, c) in [("spsc", 1, 1), ("mpsc4", 4, 1), ("mpmc4", 4, 4)] {
        for cap in [1usize, 64, 1024] {
            let name = format!("{workload}/cap{cap}");
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|w| w == name))
            {
                continue;
            }
            // Messages per sample: MESSAGES, or about SECS seconds' worth.
            let counts: Vec<u64> = PEERS
                .iter()
                .map(|peer| {
                    let probe = run(peer, cap, p, c, 10_000.min(messages));
                    ((probe.rate * secs) as u64).clamp(10_000.min(messages), messages)
                })
                .collect();
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); PEERS.len()];
            let mut probe = Vec::new();
            let mut orders = Vec::new();
            for round in 0..rounds {
                // How far apart the host runs the two vCPUs this round.
                probe.push(core_to_core_round_trip(20_000).as_nanos() as f64);
                // Rotated: round r starts with peer r (mod the peers).
                let mut order = Vec::new();
                for k in 0..PEERS.len() {
                    let i = (round + k) % PEERS.len();
                    samples[i].push(run(PEERS[i], cap, p, c, counts[i]));
                    order.push(PEERS[i]);
                }
                orders.push(order.join(">"));
            }
            let list = |v: &mut dyn Iterator<Item = f64>| {
                v.map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(",")
            };
            let mut fields = vec![format!("\"group\":\"queue/{name}\"")];
            for (i, peer) in PEERS.iter().enumerate() {
                fields.push(format!(
                    "\"{peer}\":[{}]",
                    list(&mut samples[i].iter().map(|s| s.rate.round()))
                ));
                fields.push(format!(
                    "\"{peer}_cpu_ns\":[{}]",
                    list(&mut samples[i].iter().map(|s| s.cpu_ns))
                ));
            }
            fields.push(format!(
                "\"messages\":{{{}}}",
                PEERS
                    .iter()
                    .zip(&counts)
                    .map(|(peer, n)| format!("\"{peer}\":{n}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            fields.push(format!(
                "\"order\":[{}]",
                orders
                    .iter()
                    .map(|o| format!("\"{o}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            fields.push(format!(
                "\"core_rt_ns\":[{}]",
                list(&mut probe.iter().copied())
            ));
            println!("{{{}}}", fields.join(","));
        }
    }
}
