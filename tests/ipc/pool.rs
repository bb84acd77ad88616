//! `ipc::Pool`: results in order for `map`, every item exactly once for
//! `imap_unordered`, streaming in bounded memory, a worker killed with
//! `SIGKILL` mid-task (its task fails, or is retried once; every other task
//! completes), a panicking task, `terminate` while busy,
//! `maxtasksperchild`, the initializer, and clear errors.
//!
//! `harness = false`: `main` calls `ipc::init` first. Every test runs on
//! both backends (the workers are daemons, whose mechanism is the backend's).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use synclings::ipc::{self, entry, pool_task, Entry, Pool, PoolError};
use synclings::testing::{eventually, run_test_variants, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[
    pool_task!(square),
    pool_task!(fragile),
    pool_task!(victim),
    pool_task!(hang),
    pool_task!(whoami),
    pool_task!(gate),
    pool_task!(length),
    pool_task!(grow),
    pool_task!(remember),
    pool_task!(recall),
    pool_task!(refuses),
    entry!(not_a_task),
];

const TESTS: &[Test] = &[
    ("map_returns_results_in_order", map_returns_results_in_order),
    (
        "imap_unordered_yields_every_item_once",
        imap_unordered_yields_every_item_once,
    ),
    (
        "imap_streams_in_bounded_memory",
        imap_streams_in_bounded_memory,
    ),
    (
        "a_killed_worker_fails_only_its_task",
        a_killed_worker_fails_only_its_task,
    ),
    (
        "a_killed_workers_task_is_retried_when_asked",
        a_killed_workers_task_is_retried_when_asked,
    ),
    (
        "a_panicking_task_returns_its_message",
        a_panicking_task_returns_its_message,
    ),
    (
        "terminate_while_busy_fails_what_runs",
        terminate_while_busy_fails_what_runs,
    ),
    (
        "max_tasks_per_child_respawns_workers",
        max_tasks_per_child_respawns_workers,
    ),
    (
        "a_slow_chunk_holds_few_others_behind_it",
        a_slow_chunk_holds_few_others_behind_it,
    ),
    (
        "chunks_larger_than_a_socket_buffer_arrive_whole",
        chunks_larger_than_a_socket_buffer_arrive_whole,
    ),
    (
        "large_chunks_and_larger_replies_both_keep_flowing",
        large_chunks_and_larger_replies_both_keep_flowing,
    ),
    (
        "slow_tasks_spread_over_every_worker",
        slow_tasks_spread_over_every_worker,
    ),
    (
        "the_initializer_runs_in_every_worker",
        the_initializer_runs_in_every_worker,
    ),
    ("apply_async_ready_and_wait", apply_async_ready_and_wait),
    ("errors_are_clear", errors_are_clear),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_test_variants(TESTS, ipc::BACKEND_VARIANTS)
}

fn square(x: u64) -> u64 {
    x * x
}

fn fragile(x: u64) -> u64 {
    if x.is_multiple_of(5) {
        panic!("no multiples of five: {x}");
    }
    x
}

/// Item `doomed` writes its worker's pid to `path` and hangs, the first
/// time (while `path` does not exist); every item returns itself doubled.
fn victim((x, doomed, path): (u64, u64, String)) -> u64 {
    if x == doomed && !std::path::Path::new(&path).exists() {
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, std::process::id().to_string()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        loop {
            std::thread::park();
        }
    }
    x * 2
}

/// Says its pid in `path`'s directory (one file per item), then hangs.
fn hang((x, dir): (u64, String)) {
    let path = format!("{dir}/{x}");
    std::fs::write(format!("{path}.tmp"), std::process::id().to_string()).unwrap();
    std::fs::rename(format!("{path}.tmp"), path).unwrap();
    loop {
        std::thread::park();
    }
}

fn length(bytes: Vec<u8>) -> (usize, u8) {
    (bytes.len(), bytes.last().copied().unwrap_or(0))
}

/// The bytes, eight times over.
fn grow(bytes: Vec<u8>) -> Vec<u8> {
    bytes.repeat(8)
}

/// Item 0 waits until `path` exists; every item returns itself.
fn gate((x, path): (u64, String)) -> u64 {
    if x == 0 {
        eventually(DEADLINE, "the gate opens", || {
            std::path::Path::new(&path).exists()
        });
    }
    x
}

fn whoami(_: u64) -> u32 {
    std::process::id()
}

static REMEMBERED: AtomicU64 = AtomicU64::new(0);

fn remember(value: u64) {
    REMEMBERED.store(value, SeqCst);
}

fn recall(_: ()) -> (u32, u64) {
    (std::process::id(), REMEMBERED.load(SeqCst))
}

fn refuses(_: ()) {
    panic!("this initializer refuses");
}

fn not_a_task(_: ()) {}

/// A fresh path under the temporary directory for this test.
fn scratch(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "synclings-pool-{}-{}-{what}",
        std::process::id(),
        N.fetch_add(1, SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    path
}

/// Waits for `path` to hold a pid, and returns it.
fn pid_in(path: &std::path::Path) -> i32 {
    let mut pid = 0;
    eventually(
        DEADLINE,
        "the task writes its worker's pid",
        || match std::fs::read_to_string(path) {
            Ok(s) => {
                pid = s.parse().unwrap();
                true
            }
            Err(_) => false,
        },
    );
    pid
}

fn sigkill(pid: i32) {
    // SAFETY: signalling a worker of our own pool, alive (it is hanging).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
}

fn map_returns_results_in_order() {
    let pool = Pool::new(2).unwrap();
    within(DEADLINE, "map over 1000 items", move || {
        for chunksize in [1, 7, 0, 5000] {
            let got: Vec<u64> = pool.map("square", 0..1000u64, chunksize).unwrap();
            let want: Vec<u64> = (0..1000u64).map(|x| x * x).collect();
            assert_eq!(got, want, "chunksize {chunksize}");
        }
        let got: Vec<u64> = pool
            .imap("square", [3u64, 1, 2], 1)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [9, 1, 4]);
        let none: Vec<u64> = pool.map("square", Vec::<u64>::new(), 1).unwrap();
        assert!(none.is_empty());
        pool.close();
        pool.join().unwrap();
        assert!(pool.worker_pids().is_empty(), "join reaps every worker");
    });
}

fn imap_unordered_yields_every_item_once() {
    let pool = Pool::new(3).unwrap();
    within(DEADLINE, "imap_unordered over 2000 items", move || {
        let mut got: Vec<u64> = pool
            .imap_unordered("square", 0..2000u64, 7)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 2000, "no item lost or repeated");
        got.sort_unstable();
        let want: Vec<u64> = (0..2000u64).map(|x| x * x).collect();
        assert_eq!(got, want);
    });
}

fn imap_streams_in_bounded_memory() {
    // An endless input: the pool can only pull what the window allows.
    let pool = Pool::new(2).unwrap();
    within(DEADLINE, "imap over an endless input", move || {
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&pulled);
        let items = (0u64..).inspect(move |_| {
            counter.fetch_add(1, SeqCst);
        });
        let mut results = pool.imap::<_, u64, _>("square", items, 10).unwrap();
        for i in 0..3000u64 {
            assert_eq!(results.next().unwrap().unwrap(), i * i);
            // The window: (3 + 1) × 2 + 2 chunks of 10 items ahead, at most.
            let ahead = pulled.load(SeqCst) - (i + 1);
            assert!(
                ahead <= 10 * 10 + 10,
                "{ahead} items pulled ahead of the consumer"
            );
        }
        drop(results);
        // The pool is still usable: the dropped job's pending chunks are gone.
        let again: Vec<u64> = pool.map("square", 0..3u64, 1).unwrap();
        assert_eq!(again, [0, 1, 4]);
    });
}

fn a_killed_worker_fails_only_its_task() {
    let path = scratch("victim");
    let pool = Pool::new(2).unwrap();
    let before = pool.worker_pids();
    let p = path.to_string_lossy().into_owned();
    let items: Vec<(u64, u64, String)> = (0..40).map(|x| (x, 7, p.clone())).collect();
    let running = std::thread::spawn(move || {
        let results: Vec<Result<u64, PoolError>> = pool.imap("victim", items, 1).unwrap().collect();
        (results, pool)
    });
    let pid = pid_in(&path);
    sigkill(pid);
    let (results, pool) = within(DEADLINE, "the pool gets past a killed worker", move || {
        running.join().unwrap()
    });
    assert_eq!(results.len(), 40);
    for (x, result) in results.iter().enumerate() {
        if x == 7 {
            match result {
                Err(PoolError::WorkerDied { pid: dead, status }) => {
                    assert_eq!(*dead as i32, pid);
                    assert!(status.contains("signal 9"), "{status}");
                }
                other => panic!("item 7: {other:?}"),
            }
        } else {
            assert_eq!(result, &Ok(x as u64 * 2), "item {x}");
        }
    }
    let message = results[7].clone().unwrap_err().to_string();
    assert!(
        message.contains("died") && message.contains("replaced"),
        "{message}"
    );
    // Replaced: two live workers, the dead one not among them.
    eventually(DEADLINE, "the dead worker is replaced", || {
        let now = pool.worker_pids();
        now.len() == 2 && !now.contains(&(pid as u32))
    });
    assert!(before.contains(&(pid as u32)));
    let after: Vec<u64> = within(DEADLINE, "the pool still works", move || {
        pool.map("square", 0..10u64, 2).unwrap()
    });
    assert_eq!(after[9], 81);
    let _ = std::fs::remove_file(&path);
}

fn a_killed_workers_task_is_retried_when_asked() {
    let path = scratch("retried");
    let pool = Pool::builder(2)
        .retry_on_worker_death(true)
        .build()
        .unwrap();
    let p = path.to_string_lossy().into_owned();
    let items: Vec<(u64, u64, String)> = (0..20).map(|x| (x, 3, p.clone())).collect();
    let running = std::thread::spawn(move || pool.map::<_, u64, _>("victim", items, 1));
    sigkill(pid_in(&path));
    // The second run of item 3 finds the file and does not hang.
    let results = within(DEADLINE, "the retried map ends", move || {
        running.join().unwrap()
    });
    let want: Vec<u64> = (0..20).map(|x| x * 2).collect();
    assert_eq!(results, Ok(want));
    let _ = std::fs::remove_file(&path);
}

fn a_panicking_task_returns_its_message() {
    let pool = Pool::new(2).unwrap();
    within(DEADLINE, "the fragile tasks", move || {
        let results: Vec<Result<u64, PoolError>> =
            pool.imap("fragile", 0..20u64, 3).unwrap().collect();
        for (x, result) in results.iter().enumerate() {
            if x.is_multiple_of(5) {
                match result {
                    Err(PoolError::Panicked(m)) => {
                        assert!(m.contains(&format!("no multiples of five: {x}")), "{m}");
                        assert!(m.contains("ipc/pool.rs"), "the location is kept: {m}");
                    }
                    other => panic!("item {x}: {other:?}"),
                }
            } else {
                assert_eq!(result, &Ok(x as u64));
            }
        }
        // map reports the first error, like Python.
        let first = pool.map::<_, u64, _>("fragile", 1..20u64, 4).unwrap_err();
        assert!(
            matches!(first, PoolError::Panicked(ref m) if m.contains(": 5")),
            "{first}"
        );
        // The workers survived their panics.
        assert_eq!(pool.worker_pids().len(), 2);
    });
}

fn terminate_while_busy_fails_what_runs() {
    let dir = scratch("hang");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_string_lossy().into_owned();
    let pool = Pool::new(2).unwrap();
    let handles: Vec<_> = (0..5u64)
        .map(|x| pool.apply_async::<_, ()>("hang", &(x, d.clone())).unwrap())
        .collect();
    // Both workers are inside a task.
    eventually(DEADLINE, "two tasks are running", || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
            })
            .count()
            == 2
    });
    let pids = pool.worker_pids();
    pool.terminate();
    let results = within(DEADLINE, "every handle reports", move || {
        handles.into_iter().map(|h| h.get()).collect::<Vec<_>>()
    });
    assert!(
        results.iter().all(|r| r == &Err(PoolError::Terminated)),
        "{results:?}"
    );
    within(DEADLINE, "join after terminate", {
        let pool = pool;
        move || {
            pool.join().unwrap();
            assert!(pool.worker_pids().is_empty());
            assert_eq!(
                pool.map::<_, u64, _>("square", [1u64], 1),
                Err(PoolError::Closed)
            );
        }
    });
    for pid in pids {
        // Reaped: the pid is no longer our child.
        // SAFETY: waitpid with WNOHANG on a pid; ECHILD if not ours any more.
        let rc = unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), libc::WNOHANG) };
        assert_eq!(rc, -1, "worker {pid} was reaped");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn max_tasks_per_child_respawns_workers() {
    let pool = Pool::builder(1).max_tasks_per_child(2).build().unwrap();
    within(DEADLINE, "ten tasks, two per worker", move || {
        let pids: Vec<u32> = pool.map("whoami", 0..10u64, 1).unwrap();
        let mut distinct = pids.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 5, "{pids:?}");
        for pair in pids.chunks(2) {
            assert_eq!(pair[0], pair[1], "each worker ran exactly two: {pids:?}");
        }
    });
}

fn the_initializer_runs_in_every_worker() {
    let pool = Pool::builder(2)
        .initializer("remember", &42u64)
        .max_tasks_per_child(3)
        .build()
        .unwrap();
    within(DEADLINE, "every worker remembers", move || {
        let seen: Vec<(u32, u64)> = pool.map("recall", vec![(); 12], 1).unwrap();
        assert!(seen.iter().all(|&(_, v)| v == 42), "{seen:?}");
        let mut pids: Vec<u32> = seen.iter().map(|&(p, _)| p).collect();
        pids.sort_unstable();
        pids.dedup();
        assert!(pids.len() >= 4, "replacement workers ran it too: {pids:?}");
    });
    let err = Pool::builder(1)
        .initializer("refuses", &())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, PoolError::Initializer(m) if m.contains("this initializer refuses")),
        "{err}"
    );
}

fn apply_async_ready_and_wait() {
    let pool = Pool::new(1).unwrap();
    let nine = pool.apply_async::<_, u64>("square", &3u64).unwrap();
    assert!(nine.wait_timeout(DEADLINE));
    assert!(nine.ready());
    assert_eq!(nine.get(), Ok(9));
    assert_eq!(pool.apply::<_, u64>("square", &4u64), Ok(16));
    let wrong = pool.apply::<_, u64>("square", "not a number");
    assert!(
        matches!(&wrong, Err(PoolError::Failed(m)) if m.contains("square")),
        "{wrong:?}"
    );
}

fn errors_are_clear() {
    assert_eq!(Pool::new(0).unwrap_err(), PoolError::ZeroProcesses);
    let pool = Pool::new(1).unwrap();
    let unknown = pool.map::<_, u64, _>("nope", [1u64], 1).unwrap_err();
    assert!(
        unknown.to_string().contains("pool_task!(nope)"),
        "{unknown}"
    );
    let entry = pool.apply::<_, ()>("not_a_task", &()).unwrap_err();
    assert!(entry.to_string().contains("process entry point"), "{entry}");
    let spawn = ipc::Process::spawn("square", &1u64).unwrap_err();
    assert!(spawn.to_string().contains("pool task"), "{spawn}");
    assert_eq!(pool.join(), Err(PoolError::NotClosed));
    pool.close();
    assert_eq!(
        pool.apply::<_, u64>("square", &1u64),
        Err(PoolError::Closed)
    );
    within(Duration::from_secs(20), "join after close", move || {
        pool.join().unwrap()
    });
}

/// Chunks are sent ahead (several wait in a worker's socket), but only deep
/// for a worker whose chunks are known to be fast: behind a chunk that does
/// not end, on a fresh pool, at most two others wait; the other worker runs
/// the rest.
fn a_slow_chunk_holds_few_others_behind_it() {
    let path = scratch("gate");
    let p = path.to_string_lossy().into_owned();
    let pool = Pool::new(2).unwrap();
    let handles: Vec<_> = (0..40u64)
        .map(|x| pool.apply_async::<_, u64>("gate", &(x, p.clone())).unwrap())
        .collect();
    eventually(
        DEADLINE,
        "all but item 0 and two behind it are done",
        || handles[1..].iter().filter(|h| h.ready()).count() >= 37,
    );
    std::fs::write(&path, b"open").unwrap();
    let results = within(DEADLINE, "every item ends once the gate opens", move || {
        handles.into_iter().map(|h| h.get()).collect::<Vec<_>>()
    });
    let want: Vec<Result<u64, PoolError>> = (0..40).map(Ok).collect();
    assert_eq!(results, want);
    let _ = std::fs::remove_file(&path);
}

/// Chunks over the bytes allowed in flight go one at a time (however
/// large), and arrive whole, in order.
fn chunks_larger_than_a_socket_buffer_arrive_whole() {
    let pool = Pool::new(2).unwrap();
    let items: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 300_000 + i as usize]).collect();
    let results: Vec<(usize, u8)> = within(DEADLINE, "a map of large chunks", move || {
        pool.map("length", items, 1).unwrap()
    });
    let want: Vec<(usize, u8)> = (0..8u8).map(|i| (300_000 + i as usize, i)).collect();
    assert_eq!(results, want);
}

/// Chunks that fill a worker's pipe while its replies fill the pipe back:
/// neither side blocks the other (the dispatcher never blocks on a write),
/// and every result comes back whole, in order.
fn large_chunks_and_larger_replies_both_keep_flowing() {
    let pool = Pool::new(2).unwrap();
    let items: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 30_000]).collect();
    let results: Vec<Vec<u8>> = within(DEADLINE, "a map of large chunks and replies", move || {
        pool.map("grow", items, 1).unwrap()
    });
    assert_eq!(results.len(), 40);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.len(), 240_000, "item {i}");
        assert!(r.iter().all(|&b| b == i as u8), "item {i} came back whole");
    }
}

/// As many tasks as workers: each worker gets one (its fair share), not
/// a queue of them while another idles, even when they arrive together.
fn slow_tasks_spread_over_every_worker() {
    let dir = scratch("spread");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_string_lossy().into_owned();
    let pool = Pool::new(3).unwrap();
    let handles: Vec<_> = (0..3u64)
        .map(|x| pool.apply_async::<_, ()>("hang", &(x, d.clone())).unwrap())
        .collect();
    eventually(DEADLINE, "three tasks run at once, one per worker", || {
        (0..3).all(|x| dir.join(x.to_string()).exists())
    });
    let mut pids: Vec<i32> = (0..3).map(|x| pid_in(&dir.join(x.to_string()))).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 3, "one task per worker: {pids:?}");
    pool.terminate();
    let results = within(DEADLINE, "terminate ends the hung tasks", move || {
        handles.into_iter().map(|h| h.get()).collect::<Vec<_>>()
    });
    assert!(results.iter().all(|r| r == &Err(PoolError::Terminated)));
    let _ = std::fs::remove_dir_all(&dir);
}
