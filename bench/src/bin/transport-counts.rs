//! A driver for counting system calls and context switches of the IPC
//! transport (counts, not timing):
//!
//! - `transport-counts pool ROUNDS`: ROUNDS × `Pool::map("square",
//!   0..100_000, 100)` on 2 workers (1 000 chunks a round);
//! - `transport-counts manager OPS`: OPS × (dict `set` + `get`);
//! - `transport-counts idle SECS`: CPU ticks of an idle pool's processes.
//!
//! Per chunk / per operation, as the difference of two runs (start-up
//! cancels out), e.g.:
//!
//! ```text
//! cargo build --release -p synclings-bench --bin transport-counts
//! B=target/release/transport-counts
//! perf stat -e raw_syscalls:sys_enter,context-switches -x, $B pool 1   # and pool 5:
//! #   (count(5) - count(1)) / 4000 per chunk
//! perf stat -e raw_syscalls:sys_enter,context-switches -x, $B manager 1000   # and 11000:
//! #   (count(11000) - count(1000)) / 20000 per operation
//! strace -f -c $B pool 1   # which calls
//! ```

#[cfg(unix)]
fn main() {
    use synclings::ipc::{self, pool_task, Entry, Manager, Pool};
    fn square(x: u64) -> u64 {
        x * x
    }
    static ENTRIES: &[Entry] = &[pool_task!(square)];
    ipc::init(ENTRIES);
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    match args.get(1).map(String::as_str) {
        Some("pool") => {
            let pool = Pool::new(2).unwrap();
            for _ in 0..n {
                let r: Vec<u64> = pool.map("square", 0..100_000u64, 100).unwrap();
                assert_eq!(r[99_999], 99_999 * 99_999);
            }
            pool.close();
            pool.join().unwrap();
        }
        Some("idle") => {
            // CPU ticks (utime + stime) of the parent and the workers over
            // `n` seconds of an idle pool, after one map.
            let ticks = |pid: u32| -> u64 {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
                let f: Vec<&str> = stat
                    .rsplit_once(')')
                    .unwrap()
                    .1
                    .split_whitespace()
                    .collect();
                f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
            };
            let pool = Pool::new(2).unwrap();
            let _: Vec<u64> = pool.map("square", 0..100_000u64, 100).unwrap();
            let mut pids = pool.worker_pids();
            pids.push(std::process::id());
            let before: Vec<u64> = pids.iter().map(|&p| ticks(p)).collect();
            std::thread::sleep(std::time::Duration::from_secs(n));
            let after: Vec<u64> = pids.iter().map(|&p| ticks(p)).collect();
            println!(
                "idle ticks (workers..., parent): {:?}",
                after
                    .iter()
                    .zip(&before)
                    .map(|(a, b)| a - b)
                    .collect::<Vec<_>>()
            );
        }
        Some("manager") => {
            let m = Manager::start().unwrap();
            let d = m.dict::<u64, u64>().unwrap();
            for i in 0..n {
                d.set(&(i % 16), &i).unwrap();
                assert_eq!(d.get(&(i % 16)).unwrap(), Some(i));
            }
            m.shutdown().unwrap();
        }
        _ => eprintln!("usage: transport_counts pool ROUNDS | manager OPS"),
    }
}

#[cfg(not(unix))]
fn main() {}
