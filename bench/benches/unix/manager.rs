//! Question 31's trade-off in numbers: shared memory (`ipc::Value`,
//! `ipc::Array`: a load or store under a robust lock, in this process's own
//! mapping) against a `Manager`'s proxies (a round trip to the server
//! process per access). `python/manager_bench.py` runs Python's
//! `multiprocessing.Value` and `Manager().dict()` / `Manager().Value()`;
//! `report.py` puts them side by side.
//!
//! An iteration is one `set` and one `get` (two operations: the throughput
//! is in operations per second). The manager's server is a child process
//! (a re-run of this binary: `main` calls `ipc::init` first); the bench
//! process is pinned to CPU 0, the server is not pinned.

use std::time::Duration;

use criterion::{Criterion, Throughput};
use synclings::ipc::{self, Array, Entry, Manager, Value};
use synclings_bench::pin;

static ENTRIES: &[Entry] = &[];

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("shared/get_set");
    g.throughput(Throughput::Elements(2));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    let value = Value::new(0u64).expect("a Value");
    g.bench_function("ipc_value", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            value.set(n);
            assert_eq!(value.get(), n);
        })
    });
    let array = Array::<u64>::new(1024).expect("an Array");
    g.bench_function("ipc_array", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let i = (n % 1024) as usize;
            array.set(i, n);
            assert_eq!(array.get(i), n);
        })
    });
    let manager = Manager::start().expect("a manager");
    let dict = manager.dict::<u64, u64>().expect("a dict");
    g.bench_function("manager_dict", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            dict.set(&(n % 64), &n).expect("set");
            assert_eq!(dict.get(&(n % 64)).expect("get"), Some(n));
        })
    });
    let shared = manager.value(&0u64).expect("a value");
    g.bench_function("manager_value", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            shared.set(&n).expect("set");
            assert_eq!(shared.get().expect("get"), n);
        })
    });
    g.finish();
    manager.shutdown().expect("shutdown");
}

pub fn main() {
    // In the manager's server process: serves and exits.
    ipc::init(ENTRIES);
    pin(0);
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
