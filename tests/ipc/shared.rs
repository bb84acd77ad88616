//! `Lock`, `Semaphore`, `Value` and `Array` shared by real child processes:
//! no lost update under the lock, exclusion across processes, a holder killed
//! with the lock held (the next holder is told, nobody hangs), semaphore
//! permits released by another process.
//!
//! `harness = false`: `main` calls `ipc::init` first (see
//! `synclings::ipc::process`).

use std::process::ExitCode;
use std::time::Duration;

use synclings::ipc::{
    self, entry, pipe, Array, Connection, Entry, Lock, Process, Semaphore, Value, EXIT_BOOT_FAILED,
};
use synclings::testing::{run_test_variants, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[
    entry!(adds),
    entry!(writes_squares),
    entry!(holds_the_lock),
    entry!(dies_mid_update),
    entry!(waits_for_a_permit),
    entry!(releases),
    entry!(sums_words),
];

const TESTS: &[Test] = &[
    (
        "value_has_no_lost_update_across_processes",
        value_has_no_lost_update,
    ),
    (
        "threads_and_processes_share_one_value_without_lost_updates",
        threads_and_processes_share_a_value,
    ),
    (
        "the_chosen_backend_is_the_one_in_use",
        the_chosen_backend_is_in_use,
    ),
    (
        "array_written_by_a_child_is_seen_by_the_parent",
        array_written_by_a_child,
    ),
    (
        "lock_excludes_processes_and_survives_its_holder",
        lock_survives_its_holder,
    ),
    (
        "value_holder_killed_mid_update_is_reported",
        value_holder_killed_mid_update,
    ),
    (
        "semaphore_permits_cross_processes",
        semaphore_permits_cross_processes,
    ),
    ("relocking_from_the_holding_thread_panics", relocking_panics),
    (
        "a_mismatched_element_type_is_refused",
        mismatched_element_type,
    ),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_test_variants(TESTS, ipc::BACKEND_VARIANTS)
}

fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn adds((counter, times): (Value<u64>, u32)) {
    add_to(&counter, times);
}

fn add_to(counter: &Value<u64>, times: u32) {
    for _ in 0..times {
        // A read, a yield, a write: without the lock, updates would be lost.
        let mut v = counter.lock();
        let read = *v;
        std::thread::yield_now();
        *v = read + 1;
    }
}

fn writes_squares(array: Array<i64>) {
    let mut a = array.lock();
    for (i, x) in a.iter_mut().enumerate() {
        *x = (i * i) as i64;
    }
}

fn holds_the_lock((lock, mut conn): (Lock, Connection)) {
    let _guard = lock.acquire();
    conn.send(&"holding").unwrap();
    park_forever()
}

/// Takes the value's lock, writes half of an update, and waits to be killed.
fn dies_mid_update((pair, mut conn): (Value<[u32; 2]>, Connection)) {
    let mut v = pair.lock();
    v[0] = 1;
    conn.send(&"half-done").unwrap();
    park_forever()
}

fn waits_for_a_permit((sem, mut conn): (Semaphore, Connection)) {
    conn.send(&"acquiring").unwrap();
    sem.acquire().forget();
    conn.send(&"acquired").unwrap();
}

fn releases((sem, n): (Semaphore, u32)) {
    sem.release(n);
}

fn sums_words(_: Array<u64>) {}

fn join(mut p: Process, what: &str) -> synclings::ipc::ExitStatus {
    within(DEADLINE, what, move || p.join().unwrap())
}

fn value_has_no_lost_update() {
    let counter = Value::new(0u64).unwrap();
    let children: Vec<Process> = (0..4)
        .map(|_| Process::spawn("adds", &(&counter, 2000u32)).unwrap())
        .collect();
    for c in children {
        assert!(join(c, "an adder").success());
    }
    assert_eq!(counter.get(), 8000);
    counter.set(5);
    assert_eq!(*counter.lock(), 5);
}

/// Two threads of this process and two children: the lock orders threads
/// of one process too (the POSIX backend's record locks alone would not:
/// they belong to the process).
fn threads_and_processes_share_a_value() {
    let counter = std::sync::Arc::new(Value::new(0u64).unwrap());
    let children: Vec<Process> = (0..2)
        .map(|_| Process::spawn("adds", &(&*counter, 2000u32)).unwrap())
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            std::thread::spawn(move || add_to(&counter, 2000))
        })
        .collect();
    for t in threads {
        within(DEADLINE, "an adding thread", move || t.join().unwrap());
    }
    for c in children {
        assert!(join(c, "an adder").success());
    }
    assert_eq!(counter.get(), 8000);
}

/// The mapping of a new lock shows which backend made it.
fn the_chosen_backend_is_in_use() {
    let _lock = Lock::new().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").expect("Linux /proc");
    let memfd = maps.contains("/memfd:synclings-shared");
    let file = maps
        .lines()
        .any(|l| l.contains("synclings-shared-") && l.ends_with("(deleted)"));
    match ipc::backend() {
        ipc::Backend::Linux => assert!(memfd && !file, "a memfd, not a file:\n{maps}"),
        ipc::Backend::Posix => assert!(file && !memfd, "an unlinked file:\n{maps}"),
    }
}

fn array_written_by_a_child() {
    let array = Array::<i64>::new(100).unwrap();
    assert_eq!(array.len(), 100);
    assert!(
        array.to_vec().iter().all(|&x| x == 0),
        "a new array is zeroed"
    );
    let p = Process::spawn("writes_squares", &array).unwrap();
    assert!(join(p, "the writer").success());
    assert_eq!(
        array.to_vec(),
        (0..100).map(|i| i * i).collect::<Vec<i64>>()
    );
    assert_eq!(array.get(7), 49);
    array.set(7, -1);
    assert_eq!(array.lock()[7], -1);
    let from = Array::from_slice(&[1u8, 2, 3]).unwrap();
    assert_eq!(from.to_vec(), [1, 2, 3]);
}

fn lock_survives_its_holder() {
    let lock = Lock::new().unwrap();
    let (conn, child_end) = pipe(true).unwrap();
    let mut holder = Process::spawn("holds_the_lock", &(&lock, &child_end)).unwrap();
    drop(child_end);
    within(DEADLINE, "the child holds the lock", move || {
        let mut conn = conn;
        assert_eq!(conn.recv::<String>().unwrap(), "holding");
    });
    assert!(
        lock.try_acquire().is_none(),
        "the lock excludes other processes"
    );
    assert!(lock.acquire_timeout(Duration::from_millis(20)).is_none());
    holder.kill().unwrap();
    join(holder, "the killed holder");
    // Python's lock would stay held forever; here the next holder is told.
    let guard = lock
        .acquire_timeout(DEADLINE)
        .expect("the dead holder's lock is taken over");
    assert!(guard.owner_died());
    drop(guard);
    let guard = lock.try_acquire().expect("free again");
    assert!(
        !guard.owner_died(),
        "only the first holder after the death is told"
    );
}

fn value_holder_killed_mid_update() {
    let pair = Value::new([0u32; 2]).unwrap();
    let (conn, child_end) = pipe(true).unwrap();
    let mut child = Process::spawn("dies_mid_update", &(&pair, &child_end)).unwrap();
    drop(child_end);
    within(DEADLINE, "the child is mid-update", move || {
        let mut conn = conn;
        assert_eq!(conn.recv::<String>().unwrap(), "half-done");
    });
    child.kill().unwrap();
    join(child, "the killed child");
    let (owner_died, value) = within(DEADLINE, "the next holder takes the lock", move || {
        let v = pair.lock();
        (v.owner_died(), *v)
    });
    assert!(owner_died, "the half-done update is reported");
    assert_eq!(value, [1, 0]);
}

fn semaphore_permits_cross_processes() {
    let sem = Semaphore::new(0).unwrap();
    assert!(sem.try_acquire().is_none());
    assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());

    // A permit released by another process wakes a waiter here.
    let releaser = Process::spawn("releases", &(&sem, 2u32)).unwrap();
    let a = sem
        .acquire_timeout(DEADLINE)
        .expect("the first released permit");
    let b = sem
        .acquire_timeout(DEADLINE)
        .expect("the second released permit");
    assert!(join(releaser, "the releaser").success());
    assert_eq!(sem.value(), 0);
    drop((a, b));
    assert_eq!(sem.value(), 2);

    // A child waits for a permit held here, and gets it once released.
    let held = sem.acquire();
    let _other = sem.acquire();
    let (conn, child_end) = pipe(true).unwrap();
    let p = Process::spawn("waits_for_a_permit", &(&sem, &child_end)).unwrap();
    drop(child_end);
    let mut conn = within(DEADLINE, "the child asks for a permit", move || {
        let mut conn = conn;
        assert_eq!(conn.recv::<String>().unwrap(), "acquiring");
        conn
    });
    assert!(
        !conn.poll(Some(Duration::from_millis(50))).unwrap(),
        "the child got a permit that was held"
    );
    drop(held);
    let word = within(DEADLINE, "the child gets the permit", move || {
        conn.recv::<String>().unwrap()
    });
    assert_eq!(word, "acquired");
    assert!(join(p, "the child").success());
    assert_eq!(sem.value(), 0, "the child kept (forgot) its permit");
}

fn relocking_panics() {
    let lock = Lock::new().unwrap();
    let _held = lock.acquire();
    assert!(lock.try_acquire().is_none());
    let relock = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(lock.acquire())));
    assert!(
        relock.is_err(),
        "relocking from the holding thread must not hang or succeed"
    );
}

fn mismatched_element_type() {
    let bytes = Array::<u8>::new(3).unwrap();
    let mut p = Process::spawn("sums_words", &bytes).unwrap();
    let status = within(DEADLINE, "the child refuses its argument", move || {
        p.join().unwrap()
    });
    assert_eq!(status.code(), Some(EXIT_BOOT_FAILED));
    let message = status.message().unwrap();
    assert!(message.contains("1-byte elements, not `u64`"), "{message}");
}
