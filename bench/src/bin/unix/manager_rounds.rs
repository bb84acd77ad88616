//! One window of Manager dict operations (`d[k] = n` then `d[k]`, two
//! operations per iteration, as `python/manager_bench.py` and
//! `benches/unix/manager.rs` count them):
//!
//! ```text
//! manager-rounds SECS same|split    # prints {"ops_per_s": ...}
//! ```
//!
//! `same`: this process and the manager's server on CPU 0 (the server
//! inherits the mask it is started with); `split`: the server started on
//! CPU 1, then this process moves to CPU 0. Manager start-up is not timed.

use std::time::{Duration, Instant};

use synclings::ipc::{self, Entry, Manager};
use synclings_bench::pin;

static ENTRIES: &[Entry] = &[];

pub fn main() {
    // In the manager's server process: serves and exits.
    ipc::init(ENTRIES);
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0.5);
    let placement = args.next().unwrap_or_else(|| "same".to_string());
    match placement.as_str() {
        "same" => pin(0),
        "split" => pin(1),
        other => {
            eprintln!("manager-rounds: placement `{other}`: say `same` or `split`");
            std::process::exit(2);
        }
    }
    let manager = Manager::start().expect("a manager");
    pin(0);
    let dict = manager.dict::<u64, u64>().expect("a dict");
    let mut n = 0u64;
    let step = |n: &mut u64| {
        *n += 1;
        dict.set(&(*n % 64), n).expect("set");
        assert_eq!(dict.get(&(*n % 64)).expect("get"), Some(*n));
    };
    // Warm-up: the server's connection thread and both sides' caches.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(100) {
        step(&mut n);
    }
    let window = Duration::from_secs_f64(secs);
    let mut iterations = 0u64;
    let t0 = Instant::now();
    while t0.elapsed() < window {
        for _ in 0..64 {
            step(&mut n);
        }
        iterations += 64;
    }
    let ops = 2.0 * iterations as f64 / t0.elapsed().as_secs_f64();
    println!("{{\"ops_per_s\": {ops:.1}}}");
    drop(dict);
    manager.shutdown().expect("shutdown");
}
